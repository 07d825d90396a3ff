import NIOCore
import NIOHTTP1
import Vapor
import WebSockets

extension RoutesBuilder {
    /// `GET path` as a WebSocket endpoint of one ``WebSocketHTTPUpgrader``: an upgrade request
    /// becomes one of its connections (its handshake rules, `processRequest`, records and
    /// handler); a plain request gets 426. Vapor's middleware runs first, as for any route.
    ///
    /// ```swift
    /// let upgrader = WebSocketHTTPUpgrader(configuration: configuration) { ws in
    ///     for try await message in ws.messages { try await ws.send(message) }
    /// }
    /// app.webSocket("ws", upgrader: upgrader)
    /// ```
    ///
    /// Prefer ``webSocket(_:configuration:handler:)``: its handler gets the `Request`.
    @discardableResult
    public func webSocket(_ path: PathComponent..., upgrader: WebSocketHTTPUpgrader) -> Route {
        on(.GET, path) { request async in await request.webSocket(upgrader: upgrader) }
    }
}

/// What Vapor's upgrade handler asks of a 101 response: the NIO upgrader that writes the
/// handshake's headers and installs the connection.
struct VaporUpgrade: Upgrader {
    let accepted: WebSocketHTTPUpgrader.AcceptedUpgrade

    func applyUpgrade(req: Request, res: Response) -> any HTTPServerProtocolUpgrader { accepted }

    /// The library's decision as Vapor's response: a 101 that upgrades, or the answer.
    static func response(_ decision: WebSocketHTTPUpgrader.Decision) -> Response {
        switch decision {
        case .answer(let answer):
            return Response(status: answer.head.status, headers: answer.head.headers, body: .init(buffer: answer.body))
        case .upgrade(let accepted):
            let response = Response(status: .switchingProtocols)
            response.upgrader = VaporUpgrade(accepted: accepted)
            return response
        }
    }
}
