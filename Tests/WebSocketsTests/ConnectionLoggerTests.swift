import Foundation
import Logging
import NIOConcurrencyHelpers
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
    /// A swift-log handler that is not ours: records reach it through `Logger.log` only.
    final class Collecting: LogHandler, @unchecked Sendable {
        let lock = NIOLock()
        var seen: [(message: String, metadata: Logger.Metadata)] = []
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            lock.withLock { seen.append((event.message.description, metadata.merging(event.metadata ?? [:]) { $1 })) }
        }
    }

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
        let handler = Collecting()
        let target = try await HostileTarget.start(path) { $0.logger = Logger(label: "websockets.server") { _ in handler } }
        try await driveOneLoggedMessage(target.port)
        await target.shutdown()
        let seen = handler.lock.withLock { handler.seen }
        let opened = try #require(seen.first { $0.message.contains("connection open") }, "\(seen.map(\.message))")
        let mine = try #require(seen.first { $0.message == "user record" })
        let connection = try #require(mine.metadata[ConnectionContext.metadataKey], "\(mine.metadata)")
        #expect(connection.description == opened.metadata[ConnectionContext.metadataKey]?.description)
        #expect(mine.metadata["mine"] == "yes")
    }
}
