import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

/// Over real sockets, what the connection redesign fixed: each test failed before it.
@Suite("Connection: close semantics, sends that fail loudly, owned handler tasks, bounded logs", .timeLimit(.minutes(2)))
struct ConnectionRegressionTests {
    /// The fields of a record: `event_data` for a connection's record, `fields` otherwise.
    func fields(_ record: [String: Any]) -> [String: Any] {
        (record["event_data"] as? [String: Any]) ?? (record["fields"] as? [String: Any]) ?? [:]
    }

    @Test("messages in the same read as the peer's close are answered before the close reply (handler task and callbacks)",
          arguments: ["task", "callbacks"])
    func answeredBeforeCloseReply(handling: String) async throws {
        struct Echo: WebSocketCallbacks {
            func received(_ message: Message, on ws: WebSocket) throws { try ws.write(message) }
        }
        let server: WebSocketServer
        if handling == "task" {
            server = try await startTestServer()
        } else {
            server = try await WebSocketServer.serve(host: "127.0.0.1", port: 0, callbacks: Echo())
        }
        let raw = try RawSocket(port: server.port)
        raw.send(upgradeRequest())
        _ = try await bounded(10, "101") { await raw.readHeadAsync() }
        raw.send(clientFrame(opcode: 1, payload: Array("a".utf8)) + clientFrame(opcode: 1, payload: Array("b".utf8))
                 + clientFrame(opcode: 8, payload: [0x03, 0xE8]))
        let reply = try await bounded(10, "read until the server closes") { await raw.readAllAsync() }
        #expect(reply == [0x81, 0x01, 0x61, 0x81, 0x01, 0x62, 0x88, 0x02, 0x03, 0xE8], "\(reply)")
        await server.shutdown()
    }

    @Test("after the client sends its close frame, the server's messages sent before its own close are still delivered")
    func deliveredAfterOurClose() async throws {
        let server = try await WebSocketServer.serve(host: "127.0.0.1", port: 0) { ws in
            for try await message in ws.messages where message == .text("burst") {
                for i in 0..<50 { try await ws.send("m\(i)") }
            }
        }
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/")
        try await ws.send("burst")
        async let closing: Void = ws.close()
        var received: [Message] = []
        for try await message in ws.messages { received.append(message) }
        await closing
        #expect(received == (0..<50).map { .text("m\($0)") })
        #expect(ws.closeCode == .normalClosure)
        await server.shutdown()
    }

    @Test("a text message whose fragments split a character arrives whole, not as U+FFFD or a 1007")
    func fragmentsSplittingACharacter() async throws {
        let server = try await startTestServer()
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        let parts = AsyncStream<ByteBuffer> { c in
            for p: [UInt8] in [[0x61, 0xC3], [0xA9], [0xE2, 0x82], [0xAC]] { c.yield(ByteBuffer(bytes: p)) }
            c.finish()
        }
        try await ws.send(fragments: parts, text: true)
        #expect(try await nextMessage(ws, "echo") == .text("aé€"))
        await ws.close()
        await server.shutdown()
    }

    @Test("a fragmented send whose source throws midway closes with 1011 and rethrows; later sends throw, none succeeds silently")
    func abortedFragmentedSend() async throws {
        struct SourceFailed: Error {}
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        let parts = AsyncThrowingStream<ByteBuffer, any Error> { c in
            c.yield(ByteBuffer(string: "first"))   // goes out as the message's first frame
            c.yield(ByteBuffer(string: "second"))  // read, then the source fails before the last one
            c.finish(throwing: SourceFailed())
        }
        await #expect(throws: SourceFailed.self) { try await ws.send(fragments: parts, text: true) }
        await ws.waitUntilClosed()
        await #expect(throws: ConnectionClosed.self) { try await ws.send("after") }
        #expect(ws.closeSent?.code == .internalError && ws.closeSent?.reason == "message aborted")
        await waitFor { records(logs).contains { $0["event"] as? String == "connection_closed" } }
        let closed = try #require(records(logs).first { $0["event"] as? String == "connection_closed" })
        #expect(fields(closed)["close_code"] as? Int == 1011, "\(closed)")
        await server.shutdown()
    }

    @Test("write from another thread above the high mark throws write_buffer_full instead of queueing without bound")
    func writeOffLoopRefused() async throws {
        let server = try await startTestServer()
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        try await ws.eventLoop.submit { ws.update { $0.gate.writable = false } }.get()
        #expect(!ws.eventLoop.inEventLoop)
        #expect(throws: WebSocketError.self) { try ws.write(.text("refused")) }
        do {
            try ws.write(.text("refused"))
        } catch let error as WebSocketError {
            #expect(error.kind == .writeBufferFull)
        }
        #expect(ws.status.withLockedValue { $0.gate.bytesInFlight } == 0, "nothing counted for a refused write")
        try await ws.eventLoop.submit { ws.update { $0.gate.writable = true } }.get()
        try ws.write(.text("accepted"))
        #expect(try await nextMessage(ws, "echo") == .text("accepted"))
        await ws.close()
        await server.shutdown()
    }

    @Test("shutdown owns the handler tasks: one still running at the close timeout is cancelled, and server_closed comes after it returned")
    func shutdownWaitsForHandlers() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs) { $0.connection.closeTimeout = .seconds(1) }
        let stubborn = try await WebSocketServer.serve(host: "127.0.0.1", port: 0, configuration: {
            var c = ServerConfiguration()
            c.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .info) }
            c.connection.closeTimeout = .seconds(1)
            return c
        }()) { ws in
            do {
                try await Task.sleep(for: .seconds(60))  // ignores its connection's close
            } catch {
                ws.logger.info("handler saw cancellation")
            }
        }
        _ = server
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(stubborn.port)/")
        let started = ContinuousClock.now
        try await bounded(20, "shutdown") { await stubborn.shutdown() }
        #expect(ContinuousClock.now - started < .seconds(10))
        let messages = records(logs).compactMap { $0["message"] as? String }
        let cancelled = try #require(messages.firstIndex(of: "handler saw cancellation"), "\(messages)")
        let closed = try #require(records(logs).firstIndex { $0["event"] as? String == "server_closed" })
        #expect(cancelled < closed, "server_closed after the last handler returned")
        await ws.waitUntilClosed()
        await server.shutdown()
    }

    @Test("rejections suppressed by the log limit are reported when the server stops within the interval")
    func suppressedReportedAtShutdown() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs) { $0.rejectionLogLimit = 2 }
        let sockets = try (0..<10).map { i in
            let raw = try RawSocket(port: server.port)
            raw.send("garbage \(i)\r\n\r\n")
            return raw
        }
        for (i, raw) in sockets.enumerated() { _ = try await bounded(10, "400 #\(i)") { await raw.readAllAsync() } }
        await server.shutdown()
        let all = records(logs)
        let logged = all.filter { $0["event"] as? String == "connection_rejected" }.count
        let closedAt = try #require(all.firstIndex { $0["event"] as? String == "server_closed" })
        let suppressed = all[..<closedAt].filter { $0["event"] as? String == "log_records_suppressed" }
            .compactMap { fields($0)["suppressed"] as? Int }.reduce(0, +)
        #expect(suppressed > 0 && logged <= 2 * 10)
        #expect(logged + suppressed == 10, "every rejection logged or counted before server_closed")
    }

    @Test("DEBUG traces stop at the connection's budget; the rest are counted in one log_records_suppressed record")
    func traceBudget() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs, level: .debug) { $0.connection.traceBudget = 30 }
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        for i in 0..<100 { try await ws.ping(ByteBuffer(string: "p\(i)")) }
        await ws.close()
        await server.shutdown()
        let all = records(logs)
        let traces = all.filter { $0["level"] as? String == "debug" }
        #expect(traces.count <= 30, "\(traces.count) DEBUG records")
        let report = try #require(all.first { $0["event"] as? String == "log_records_suppressed" })
        #expect(fields(report)["suppressed_event"] as? String == "debug_trace")
        #expect((fields(report)["suppressed"] as? Int ?? 0) >= 200 - 30, "two traces per ping at least: \(report)")
        #expect(all.contains { $0["event"] as? String == "connection_closed" }, "INFO records are not part of the budget")
    }
}
