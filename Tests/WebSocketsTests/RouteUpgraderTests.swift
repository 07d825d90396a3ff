import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

/// Routes as a framework's router uses them, without a framework: NIO's typed pipeline with
/// `WebSocketHTTPUpgrader.typed(deciding:)`, a route upgrader per pattern (its configuration
/// over the server's), each connection's handler given with its request, and the router's own
/// answers logged. Both handler styles.
@Suite("Route upgraders: a handler per connection, the route's limits, the router's answers", .serialized, .timeLimit(.minutes(2)))
struct RouteUpgraderTests {
    /// Echoes after a greeting naming the room, on the connection's event loop.
    struct RoomCallbacks: WebSocketCallbacks {
        let room: String
        func opened(_ ws: WebSocket) throws { try ws.write(.text("joined \(room)")) }
        func received(_ message: Message, on ws: WebSocket) throws { try ws.write(message) }
    }

    static func server(style: String, logs: MemorySink) async throws -> (any Channel, WebSocketHTTPUpgrader) {
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .info) }
        let rooms = WebSocketHTTPUpgrader(route: "/rooms/:room", configuration: WebSocketRouteConfiguration(maxMessageSize: 64,
                                                                                                          compression: .off).applied(to: configuration))
        let answers = WebSocketHTTPUpgrader(configuration: configuration, shouldUpgrade: { _ in false }) { _ in }
        let deciding: @Sendable (HTTPRequestHead, any Channel) async -> WebSocketHTTPUpgrader.Decision = { head, channel in
            guard head.uri.hasPrefix("/rooms/") else {
                var refusal = HTTPResponse(status: .unauthorized, headers: ["WWW-Authenticate": "Bearer"], body: "a token is required\n")
                refusal.headers.add(name: "Content-Length", value: "999")  // the router's, replaced by the answer's own
                return answers.answer(head, remoteAddress: channel.remoteAddress, on: channel.eventLoop, with: refusal, route: "/private")
            }
            let room = String(head.uri.dropFirst("/rooms/".count))
            if style == "callbacks" {
                return await rooms.decide(head, remoteAddress: channel.remoteAddress, on: channel.eventLoop, callbacks: RoomCallbacks(room: room))
            }
            return await rooms.decide(head, remoteAddress: channel.remoteAddress, on: channel.eventLoop) { ws in
                try await ws.send("joined \(room)")
                for try await message in ws.messages { try await ws.send(message) }
            }
        }
        let channel = try await startHTTPServer(typed: WebSocketHTTPUpgrader.typed(deciding: deciding) { $0.eventLoop.makeSucceededFuture(true) })
        return (channel, rooms)
    }

    @Test("each connection runs the handler its request brought; the route's 64-byte limit (1009) and no compression; route beside path on its records",
          arguments: ["task", "callbacks"])
    func routedConnections(style: String) async throws {
        let logs = MemorySink()
        let (server, rooms) = try await Self.server(style: style, logs: logs)
        defer { server.close(promise: nil) }
        let port = try #require(server.localAddress?.port)
        let lobby = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/rooms/lobby")
        let attic = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/rooms/attic")
        var lobbyMessages = lobby.messages.makeAsyncIterator()
        var atticMessages = attic.messages.makeAsyncIterator()
        #expect(try await lobbyMessages.next() == .text("joined lobby"))
        #expect(try await atticMessages.next() == .text("joined attic"))
        #expect(lobby.extensions.isEmpty, "compression off on this route")
        try await attic.send("small")
        #expect(try await atticMessages.next() == .text("small"))
        try await lobby.send(String(repeating: "x", count: 65))
        try await bounded(30, "1009") { await lobby.waitUntilClosed() }  // the close waits up to a second at each end
        #expect(lobby.closeCode == .messageTooBig)
        #expect(rooms.openConnections.count == 1)
        await attic.close()
        await waitFor { records(logs).filter { $0["event"] as? String == "connection_closed" }.count == 2 }
        for event in ["connection_open", "connection_closed"] {
            let data = records(logs).filter { $0["event"] as? String == event }.compactMap { $0["event_data"] as? [String: Any] }
            #expect(data.count == 2 && data.allSatisfy { $0["route"] as? String == "/rooms/:room" }, "\(data)")
            #expect(Set(data.compactMap { $0["path"] as? String }) == ["/rooms/lobby", "/rooms/attic"], "\(data)")
        }
        let result = try await validateWithSchema(logs.lines)
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("the router's own answer is sent as it is (its length recomputed), the connection closed, and logged as http_response_sent with route and client address")
    func routerAnswer() async throws {
        let logs = MemorySink()
        let (server, _) = try await Self.server(style: "task", logs: logs)
        defer { server.close(promise: nil) }
        let socket = try RawSocket(port: try #require(server.localAddress?.port))
        socket.send(upgradeRequest(path: "/private"))
        let answer = String(decoding: await socket.readAllAsync(), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 401 Unauthorized\r\n") && answer.hasSuffix("\r\n\r\na token is required\n"), "\(answer)")
        #expect(answer.contains("Content-Length: 20\r\n") && !answer.contains("999") && answer.contains("WWW-Authenticate: Bearer"), "\(answer)")
        await waitFor { records(logs).contains { $0["event"] as? String == "http_response_sent" } }
        let sent = try #require(records(logs).first { $0["event"] as? String == "http_response_sent" }?["event_data"] as? [String: Any])
        #expect(sent["status"] as? Int == 401 && sent["route"] as? String == "/private" && sent["remote_addr"] as? String == "127.0.0.1", "\(sent)")
        #expect(!records(logs).contains { $0["event"] as? String == "connection_open" })
    }

    @Test("WebSocketRouteConfiguration: what it sets, over the server's; what it leaves, the server's")
    func routeConfiguration() {
        var server = ServerConfiguration()
        server.connection.maxMessageSize = 1 << 20
        server.handshake.subprotocols = ["a"]
        server.connection.pingInterval = .seconds(20)
        server.origins = .allowed(["https://a.example"])
        let same = WebSocketRouteConfiguration().applied(to: server)
        #expect(same.connection == server.connection && same.handshake.subprotocols == ["a"] && same.compression != nil && same.origins != nil)
        let route = WebSocketRouteConfiguration(maxMessageSize: 4096, compression: .off, subprotocols: ["chat"],
                                                keepalive: .every(.seconds(5), timeout: .seconds(2)),
                                                origins: .allowed(["https://b.example"])).applied(to: server)
        #expect(route.connection.maxMessageSize == 4096 && route.compression == nil && route.handshake.subprotocols == ["chat"])
        #expect(route.connection.pingInterval == .seconds(5) && route.connection.pingTimeout == .seconds(2))
        #expect(route.origins?.allows("https://b.example") == true && route.origins?.allows("https://a.example") == false)
        #expect(WebSocketRouteConfiguration(keepalive: .off).applied(to: server).connection.pingInterval == nil)
        #expect(route.connection.closeTimeout == server.connection.closeTimeout && route.trustedProxies == server.trustedProxies)
    }
}
