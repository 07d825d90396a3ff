import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

/// Callbacks for the tests, by path: `/throw` throws on the first message, `/close` answers
/// it with a close (4000, "bye"), anything else echoes. Every call is recorded.
final class RecordingCallbacks: WebSocketCallbacks {
    let calls = NIOLockedValueBox<[String]>([])
    let received = NIOLockedValueBox<Int>(0)
    let sockets = NIOLockedValueBox<[WebSocket]>([])

    func opened(_ ws: WebSocket) throws {
        sockets.withLockedValue { $0.append(ws) }
        calls.withLockedValue { $0.append("opened \(ws.request.uri)") }
    }

    func received(_ message: Message, on ws: WebSocket) throws {
        received.withLockedValue { $0 += 1 }
        switch ws.request.uri {
        case "/throw": throw HandlerFailure()
        case "/close": ws.beginClose(code: CloseCode(4000), reason: "bye")
        default: try ws.write(message)
        }
    }

    func closed(_ ws: WebSocket) {
        calls.withLockedValue { $0.append("closed \(ws.request.uri) \(ws.closeCode.map { String($0.rawValue) } ?? "nil")") }
    }
}

func startCallbackServer(_ callbacks: RecordingCallbacks, logSink: MemorySink = MemorySink(),
                         configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> WebSocketServer {
    var configuration = ServerConfiguration()
    configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logSink, logLevel: .info) }
    configuration.logger.logLevel = .info
    configure(&configuration)
    return try await WebSocketServer.serve(host: "127.0.0.1", port: 0, configuration: configuration, callbacks: callbacks)
}

@Suite("Servers handled by callbacks (no task per connection)", .timeLimit(.minutes(2)))
struct CallbacksTests {
    @Test("messages echo in order through write(_:); opened and closed are called once; the records are written")
    func echo() async throws {
        let logs = MemorySink()
        let callbacks = RecordingCallbacks()
        let server = try await startCallbackServer(callbacks, logSink: logs)
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        var sent: [Message] = []
        for i in 0..<200 {
            let message: Message = i % 3 == 0 ? .binary(ByteBuffer(bytes: Array(repeating: UInt8(i & 0xFF), count: i * 97))) : .text("message \(i)")
            sent.append(message)
            try await ws.send(message)
        }
        var echoed: [Message] = []
        try await bounded(10, "200 echoes") {
            var it = ws.messages.makeAsyncIterator()
            var got: [Message] = []
            while got.count < 200, let m = try await it.next() { got.append(m) }
            return got
        }.forEach { echoed.append($0) }
        #expect(echoed == sent)
        await ws.close()
        await waitFor { callbacks.calls.withLockedValue { $0.count } == 2 }
        #expect(callbacks.calls.withLockedValue { $0 } == ["opened /echo", "closed /echo 1000"])
        await waitFor { records(logs).contains { $0["event"] as? String == "connection_closed" } }
        let events = records(logs).compactMap { $0["event"] as? String }
        #expect(events.filter { $0 == "connection_open" }.count == 1)
        #expect(events.filter { $0 == "connection_closed" }.count == 1)
        #expect(server.openConnections.isEmpty)
        await server.shutdown()
    }

    @Test("a connection handled by callbacks has no message sequence: iterating it throws a specific error")
    func noSequence() async throws {
        let callbacks = RecordingCallbacks()
        let server = try await startCallbackServer(callbacks)
        let client = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        await waitFor { !callbacks.sockets.withLockedValue { $0.isEmpty } }
        let ws = try #require(callbacks.sockets.withLockedValue { $0.first })
        await #expect {
            var it = ws.messages.makeAsyncIterator()
            _ = try await it.next()
        } throws: { error in
            (error as? WebSocketError)?.message.contains("WebSocketCallbacks") == true
        }
        await client.close()
        await server.shutdown()
    }

    @Test("a throwing callback closes with 1011 and logs handler_failed at ERROR; other connections go on")
    func throwing() async throws {
        let logs = MemorySink()
        let callbacks = RecordingCallbacks()
        let server = try await startCallbackServer(callbacks, logSink: logs)
        let bystander = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/throw")
        try await ws.send("boom")
        try await expectHandlerFailure(ws, logs: logs)
        try await bystander.send("still here")
        #expect(try await nextMessage(bystander, "echo") == .text("still here"))
        await bystander.close()
        await server.shutdown()
    }

    @Test("beginClose from a callback closes with its code and reason; closed sees the code")
    func closeFromCallback() async throws {
        let callbacks = RecordingCallbacks()
        let server = try await startCallbackServer(callbacks)
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/close")
        try await ws.send("please close")
        await #expect(throws: ConnectionClosed.self) { for try await _ in ws.messages {} }
        #expect(ws.closeCode == CloseCode(4000))
        #expect(ws.closeReason == "bye")
        await waitFor { callbacks.calls.withLockedValue { $0.count } == 2 }
        #expect(callbacks.calls.withLockedValue { $0.last } == "closed /close 4000")
        await server.shutdown()
    }

    @Test("a message and a protocol violation in one read: the echo goes out before the close (1002), as RFC 6455 allows and Autobahn checks")
    func echoBeforeViolation() async throws {
        let callbacks = RecordingCallbacks()
        let server = try await startCallbackServer(callbacks)
        let raw = try RawSocket(port: server.port)
        raw.send(upgradeRequest(path: "/echo"))
        _ = try await bounded(10, "101") { await raw.readHeadAsync() }
        raw.send(clientFrame(opcode: 0x1, payload: Array("Hello".utf8)) + clientFrame(rsv: 0b010, opcode: 0x1, payload: Array("Hello".utf8)))
        let peer = HostilePeerTests()
        let (opcode, payload) = try await peer.readFrame(raw)
        #expect(opcode == 0x81 && payload == Array("Hello".utf8), "the echo first: \(opcode) \(payload)")
        let (closeOpcode, closePayload) = try await peer.readFrame(raw)
        #expect(closeOpcode == 0x88 && Array(closePayload.prefix(2)) == [0x03, 0xEA], "then close 1002: \(closePayload)")
        await server.shutdown()
    }

    @Test("a peer that sends and never reads: reading stops at the write buffer's high mark instead of queueing every echo")
    func backpressure() async throws {
        let callbacks = RecordingCallbacks()
        let server = try await startCallbackServer(callbacks) {
            $0.connection.writeBuffer = (high: 64 << 10, low: 32 << 10)
            $0.connection.maxMessageSize = 1 << 20
        }
        let raw = try RawSocket(port: server.port, receiveBufferSize: 4096)
        raw.send(upgradeRequest(path: "/echo"))
        _ = try await bounded(10, "101") { await raw.readHeadAsync() }
        // Blocking sends that give up after 1 s without progress: the server has stopped reading.
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(raw.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let frame = clientFrame(opcode: 0x2, payload: Array(repeating: 0x5A, count: 16 << 10))
        let total = 2_000   // bounded: 32 MiB if nothing held it back
        let framesSent = await offPool {
            var count = 0
            for _ in 0..<total {
                let n = frame.withUnsafeBytes { send(raw.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n == frame.count else { break }
                count += 1
            }
            return count
        }
        let received = callbacks.received.withLockedValue { $0 }
        #expect(framesSent < total, "the server read everything a peer that reads nothing sent")
        // What the kernel's buffers hold on each side plus the 64 KiB mark, not 32 MiB of echoes.
        #expect(received * (16 << 10) < 16 << 20, "\(received) echoes of 16 KiB queued for a peer that reads nothing")
        raw.shutdownBoth()
        try await HostilePeerTests().expectStillServing(server)
        await server.shutdown()
    }

    @Test("shutdown closes callback connections with 1001; broadcast reaches them")
    func shutdownAndBroadcast() async throws {
        let logs = MemorySink()
        let callbacks = RecordingCallbacks()
        let server = try await startCallbackServer(callbacks, logSink: logs)
        let a = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        let b = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        await waitFor { server.openConnections.count == 2 }
        #expect(broadcast(.text("to all"), to: server.openConnections) == 2)
        for ws in [a, b] {
            #expect(try await nextMessage(ws, "broadcast") == .text("to all"))
        }
        await server.shutdown()
        for ws in [a, b] {
            try await bounded(10, "1001") { await ws.waitUntilClosed() }
            #expect(ws.closeCode == .goingAway)
        }
        #expect(callbacks.calls.withLockedValue { $0.filter { $0 == "closed /echo 1001" }.count } == 2)
        #expect(records(logs).compactMap { $0["event"] as? String }.last == "server_closed")
    }

    @Test("streamFragments cannot be combined with callbacks: serve says so")
    func noFragments() async throws {
        await #expect {
            _ = try await startCallbackServer(RecordingCallbacks()) { $0.connection.streamFragments = true }
        } throws: { error in
            (error as? WebSocketError)?.kind == .invalidConfiguration
        }
    }
}
