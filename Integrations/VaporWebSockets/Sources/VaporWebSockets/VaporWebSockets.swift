import NIOCore
import NIOHTTP1
import Vapor
import WebSockets

extension RoutesBuilder {
    /// `GET path` as a WebSocket endpoint of this library: an upgrade request becomes one of
    /// `upgrader`'s connections (its handshake rules, `processRequest`, records and handler); a
    /// plain request gets 426 Upgrade Required.
    ///
    /// ```swift
    /// let upgrader = WebSocketHTTPUpgrader(configuration: configuration) { ws in
    ///     for try await message in ws.messages { try await ws.send(message) }
    /// }
    /// app.webSocket("ws", upgrader: upgrader)
    /// ```
    ///
    /// Vapor's middleware runs first, as for any route (authentication can refuse the upgrade).
    @discardableResult
    public func webSocket(_ path: PathComponent..., upgrader: WebSocketHTTPUpgrader) -> Route {
        on(.GET, path) { request async in await request.webSocket(upgrader: upgrader) }
    }
}

extension Request {
    /// The response that upgrades this request to one of `upgrader`'s connections, for a route
    /// that decides for itself (after checking a token, say): 101 when the standalone server's
    /// rules accept it; otherwise what it would answer (400 naming a missing header, 403 for an
    /// origin not allowed, `processRequest`'s response), already logged; 426 for a request that
    /// does not ask for an upgrade.
    public func webSocket(upgrader: WebSocketHTTPUpgrader) async -> Response {
        let connection = headers[canonicalForm: "connection"].map { $0.lowercased() }
        guard connection.contains("upgrade"), headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            return Response(status: .upgradeRequired,
                            headers: ["Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Content-Type": "text/plain"],
                            body: .init(string: "this is a WebSocket endpoint: connect with a WebSocket client\n"))
        }
        let head = HTTPRequestHead(version: version, method: method, uri: url.string, headers: headers)
        switch await upgrader.decide(head, remoteAddress: remoteAddress, on: eventLoop) {
        case .answer(let answer):
            return Response(status: answer.head.status, headers: answer.head.headers, body: .init(buffer: answer.body))
        case .upgrade(let accepted):
            let response = Response(status: .switchingProtocols)
            response.upgrader = VaporUpgrade(accepted: accepted)
            return response
        }
    }
}

/// What Vapor's upgrade handler asks of a 101 response: the NIO upgrader that writes the
/// handshake's headers and installs the connection.
struct VaporUpgrade: Upgrader {
    let accepted: WebSocketHTTPUpgrader.AcceptedUpgrade

    func applyUpgrade(req: Request, res: Response) -> any HTTPServerProtocolUpgrader { accepted }
}
