import NIOCore
import NIOHTTP1
import Vapor
import WebSockets

extension RoutesBuilder {
    /// `GET path` as a WebSocket endpoint of this library: an upgrade request becomes one of
    /// `upgrader`'s connections (its handshake rules, records and handler); a plain request
    /// gets 426 Upgrade Required.
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
        on(.GET, path) { request in request.webSocket(upgrader: upgrader) }
    }
}

extension Request {
    /// The response that upgrades this request to one of `upgrader`'s connections, for a route
    /// that decides for itself (after checking a token, say): 101 when the handshake is valid,
    /// otherwise the refusal the standalone server sends (400 naming the header, 403 for an
    /// origin not allowed, ...), logged as `connection_rejected`; 426 for a request that does
    /// not ask for an upgrade.
    public func webSocket(upgrader: WebSocketHTTPUpgrader) -> Response {
        let connection = headers[canonicalForm: "connection"].map { $0.lowercased() }
        guard connection.contains("upgrade"), headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            return Response(status: .upgradeRequired,
                            headers: ["Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Content-Type": "text/plain"],
                            body: .init(string: "this is a WebSocket endpoint: connect with a WebSocket client\n"))
        }
        let head = HTTPRequestHead(version: version, method: method, uri: url.string, headers: headers)
        if let refusal = upgrader.refusal(for: head, remoteAddress: remoteAddress, on: eventLoop) {
            return Response(status: refusal.head.status, headers: refusal.head.headers, body: .init(string: refusal.body))
        }
        let response = Response(status: .switchingProtocols)
        response.upgrader = VaporUpgrade(upgrader: upgrader)
        return response
    }
}

/// What Vapor's upgrade handler asks of a 101 response: the NIO upgrader that makes the
/// handshake's headers and installs the connection.
struct VaporUpgrade: Upgrader {
    let upgrader: WebSocketHTTPUpgrader

    func applyUpgrade(req: Request, res: Response) -> any HTTPServerProtocolUpgrader { upgrader }
}
