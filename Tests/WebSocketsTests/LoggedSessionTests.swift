import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

/// A real server and client session at DEBUG — messages, pings, a rejection, a protocol
/// error, a handler error, a server-initiated close, shutdown — and every line both sides
/// logged is validated against schemas/log-record.schema.json.
@Suite("Logged sessions are schema-valid", .timeLimit(.minutes(2)))
struct LoggedSessionTests {
    @Test("every line of a DEBUG session with errors and rejections validates")
    func debugSession() async throws {
        let serverLogs = MemorySink(), clientLogs = MemorySink()
        let server = try await startTestServer(logSink: serverLogs, level: .trace)
        var client = ClientConfiguration(subprotocols: ["chat"], additionalHeaders: ["Authorization": "Bearer hunter2"])
        client.logger = Logger(label: "websockets.client") { StructuredLogHandler.json(label: $0, sink: clientLogs, logLevel: .trace) }
        client.logger.logLevel = .trace
        let port = server.port

        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo?token=hunter3", configuration: client)
        var it = ws.messages.makeAsyncIterator()
        for message in [Message.text("hello\nworld \"quoted\" é"), .binary(ByteBuffer(bytes: [0, 1, 255]))] {
            try await ws.send(message)
            #expect(try await it.next() == message)
        }
        _ = try await ws.ping()
        await ws.close(code: .normalClosure, reason: "bye\nFAKE")

        let closing = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/close/4002", configuration: client)
        try await closing.send("trigger")
        await closing.waitUntilClosed()
        let throwing = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/throw", configuration: client)
        await throwing.waitUntilClosed()
        await #expect(throws: WebSocketError.self) {
            _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/forbidden", configuration: client)
        }
        let raw = try RawSocket(port: port)
        raw.send(HostilePeerTests.handshake)
        _ = try await bounded(10, "101") { await raw.readHeadAsync() }
        raw.send([0x83, 0x80, 1, 2, 3, 4])  // reserved opcode → 1002
        _ = try await bounded(10, "close") { await raw.readAllAsync() }
        await server.shutdown()

        let lines = serverLogs.lines + clientLogs.lines
        let events = Set(lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["event"] as? String })
        for expected in ["server_listening", "state_changed", "handshake_request", "handshake_response", "connection_open",
                         "frame_sent", "frame_received", "close_step", "error_handled", "http_response_sent", "handler_failed",
                         "connection_closed", "server_closing", "server_closed"] {
            #expect(events.contains(expected), "no \(expected) record")
        }
        #expect(!lines.joined().contains("hunter2") && !lines.joined().contains("hunter3"), "a secret reached the logs")
        let result = try await validateWithSchema(lines)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("validated \(lines.count) lines, 0 invalid"))
        #expect(lines.count > 100)
    }
}
