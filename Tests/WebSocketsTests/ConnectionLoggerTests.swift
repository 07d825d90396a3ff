import Foundation
import Logging
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

/// `ws.logger` is made on access (the connection's tag is not kept per connection): records
/// written through it must still carry the connection, on every path and through either route
/// a record takes (our pipeline's direct route, or swift-log's for any other handler).
@Suite("ws.logger: user records carry their connection on every path and with any log handler", .serialized)
struct ConnectionLoggerTests {
    func driveOneLoggedMessage(_ port: Int) async throws {
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo") }
        try await bounded(10, "send") { try await ws.send("log me") }
        #expect(try await nextMessage(ws, "echo") == .text("log me"))
        try await bounded(15, "close") { await ws.close() }
    }

    @Test("our pipeline (direct route): the user record has event_data.connection_id of its connection", arguments: OneRuleTests.Path.allCases)
    func pipeline(path: OneRuleTests.Path) async throws {
        let logs = MemorySink()
        let target = try await HostileTarget.start(path, logs: logs)
        try await driveOneLoggedMessage(target.port)
        await target.shutdown()
        let all = records(logs)
        let opened = try #require(all.first { $0["event"] as? String == "connection_open" })
        let id = try #require((opened["event_data"] as? [String: Any])?["connection_id"] as? String)
        let mine = try #require(all.first { $0["message"] as? String == "user record" }, "\(all)")
        #expect((mine["event_data"] as? [String: Any])?["connection_id"] as? String == id)
        let schema = try await validateWithSchema(logs.lines.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" })
        #expect(schema.status == 0, "\(schema.output)")
    }

    @Test("another swift-log handler: the user record's metadata holds ws.connection", arguments: OneRuleTests.Path.allCases)
    func otherHandler(path: OneRuleTests.Path) async throws {
        let handler = CollectingHandler()
        handler.logLevel = .info
        let target = try await HostileTarget.start(path) { $0.logger = Logger(label: "websockets.server") { _ in handler } }
        try await driveOneLoggedMessage(target.port)
        await target.shutdown()
        let seen = handler.entries
        let opened = try #require(seen.first { $0.message.contains("connection open") }, "\(seen.map(\.message))")
        let mine = try #require(seen.first { $0.message == "user record" })
        let connection = try #require(mine.metadata[ConnectionContext.metadataKey], "\(mine.metadata)")
        #expect(connection == opened.metadata[ConnectionContext.metadataKey])
        #expect(mine.metadata["mine"] == "yes")
    }

    @Test("ws.request and ws.response, rebuilt from their packed copies, are what went over the wire", arguments: OneRuleTests.Path.allCases)
    func heads(path: OneRuleTests.Path) async throws {
        let target = try await HostileTarget.start(path)
        let raw = try RawSocket(port: target.port)
        raw.send("GET /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Long: \(String(repeating: "é", count: 300))\r\n"
                 + "Cookie: a=1\r\nCookie: b=2\r\n\r\n")
        let response = String(decoding: try await bounded(10, "101") { await raw.readHeadAsync() }, as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 101"), "\(response)")
        raw.send(clientFrame(opcode: 1, payload: Array("heads?".utf8)))
        let reply = try #require(try await raw.readFrameAsync(), "closed before the reply")
        let text = String(decoding: reply.payload, as: UTF8.self)
        #expect(text.hasPrefix("GET /echo?x=1 HTTP/1.1\n"), "\(text)")
        for line in ["Host: 127.0.0.1", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "X-Long: \(String(repeating: "é", count: 300))",
                     "Cookie: a=1\nCookie: b=2", "101 HTTP/1.1", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="] {
            #expect(text.contains(line), "\(line) in \(text)")
        }
        await target.shutdown()
    }
}
