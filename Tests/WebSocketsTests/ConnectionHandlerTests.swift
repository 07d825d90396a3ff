import Logging
import Synchronization
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

/// The server's handlers on an `EmbeddedChannel`: exact bytes in and out, time advanced by hand,
/// no sockets and no sleeps. Each test names the state or transition it covers.
@Suite("Connection handlers on an EmbeddedChannel")
struct ConnectionHandlerTests {
    struct Echo: WebSocketCallbacks {
        func received(_ message: Message, on ws: WebSocket) throws { try ws.write(message) }
    }

    /// Counts the reads the handlers ask the channel for (autoRead is off on our channels).
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    struct Harness {
        let channel: EmbeddedChannel
        let logs: MemorySink
        let reads: ReadCounter
        let connections: WebSocketServer.Connections

        var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

        func send(_ bytes: [UInt8]) throws { try channel.writeInbound(ByteBuffer(bytes: bytes)) }
        func send(_ text: String) throws { try channel.writeInbound(ByteBuffer(string: text)) }

        /// Everything written since the last call, as one byte array.
        func written() throws -> [UInt8] {
            var out: [UInt8] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer: buffer) }
            return out
        }

        func events() -> [String] { records(logs).compactMap { $0["event"] as? String } }
    }

    static let accept = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nServer: swift-websockets\r\n\r\n"

    func harness(handling: WebSocketServer.Handling = .callbacks(Echo()),
                 configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> Harness {
        let logs = MemorySink()
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .info) }
        configuration.logger.logLevel = .info
        configure(&configuration)
        let log = configuration.makeEventLogger()
        let connections = WebSocketServer.Connections(handling: handling, log: log, handlersOnEventLoop: false)
        var callbacks: (any WebSocketCallbacks)?
        if case .callbacks(let c) = handling { callbacks = c }
        let hooks = ConnectionHooks(options: configuration.connection, callbacks: callbacks,
                                    onOpen: { connections.run($0) }, onClose: { connections.closed($0) })
        let side = ServerHandshakeHandler.ServerSide(configuration: configuration, log: log, rejectionLog: nil, tlsFailureLog: nil, hooks: hooks,
                                                     connections: connections)
        let reads = ReadCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(reads)
        try channel.pipeline.syncOperations.addHandler(
            ServerHandshakeHandler(server: side, logger: log,
                                   logContext: ConnectionContext(peerAddress: "127.0.0.1", peerPort: 5)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5)).wait()
        return Harness(channel: channel, logs: logs, reads: reads, connections: connections)
    }

    @Test("CONNECTING → OPEN: the 101, byte for byte; the handshake handler gives way to the connection handler")
    func upgradeExactBytes() throws {
        let h = try harness()
        try h.send(upgradeRequest())
        #expect(String(decoding: try h.written(), as: UTF8.self) == Self.accept)
        #expect((try? h.channel.pipeline.syncOperations.handler(type: ServerHandshakeHandler.self)) == nil)
        #expect((try? h.channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)) != nil)
        #expect(h.events() == ["connection_open"])
    }

    @Test("the handshake handler is freed once it gave way (it held its context, which holds it)")
    func handshakeHandlerFreed() throws {
        let h = try harness()
        weak var handshake = try h.channel.pipeline.syncOperations.handler(type: ServerHandshakeHandler.self)
        #expect(handshake != nil)
        try h.send(upgradeRequest())
        _ = try h.written()
        #expect(handshake == nil, "leaked: the handler and its context kept each other alive")
    }

    @Test("the request head over one-byte reads")
    func headOverManyReads() throws {
        let h = try harness()
        for byte in upgradeRequest().utf8 { try h.send([byte]) }
        #expect(String(decoding: try h.written(), as: UTF8.self) == Self.accept)
    }

    @Test("OPEN: a masked text is echoed unmasked, a ping answered with its pong, exact bytes")
    func echoAndPong() throws {
        let h = try harness()
        try h.send(upgradeRequest())
        _ = try h.written()
        try h.send(clientFrame(opcode: 1, payload: Array("hi".utf8)))
        #expect(try h.written() == [0x81, 0x02, 0x68, 0x69])
        try h.send(clientFrame(opcode: 9, payload: [7, 8]))
        #expect(try h.written() == [0x8A, 0x02, 7, 8])
    }

    @Test("frames in the same read as the request are the open connection's first input")
    func framesBehindTheRequest() throws {
        let h = try harness()
        try h.send(Array(upgradeRequest().utf8) + clientFrame(opcode: 1, payload: Array("early".utf8)))
        #expect(try h.written() == Array(Self.accept.utf8) + [0x81, 0x05] + Array("early".utf8))
    }

    @Test("OPEN → CLOSING → CLOSED: messages in the same read as the peer's close are answered before the close reply; then TCP closes")
    func answersBeforeCloseReply() throws {
        let h = try harness()
        try h.send(upgradeRequest())
        _ = try h.written()
        try h.send(clientFrame(opcode: 1, payload: Array("a".utf8)) + clientFrame(opcode: 1, payload: Array("b".utf8))
                   + clientFrame(opcode: 8, payload: [0x03, 0xE8]))
        #expect(try h.written() == [0x81, 0x01, 0x61, 0x81, 0x01, 0x62, 0x88, 0x02, 0x03, 0xE8])
        #expect(!h.channel.isActive, "the server closes TCP after its close reply")
        #expect(h.events() == ["connection_open", "connection_closed"])
    }

    @Test("a server-initiated close with no reply: the close timeout closes TCP (virtual time)")
    func closeTimeout() throws {
        let h = try harness { $0.connection.closeTimeout = .seconds(3) }
        try h.send(upgradeRequest())
        _ = try h.written()
        let connection = try h.channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)
        connection.closeLocally(code: .goingAway, reason: "bye")
        #expect(try h.written() == [0x88, 0x05, 0x03, 0xE9] + Array("bye".utf8))
        h.loop.advanceTime(by: .seconds(2))
        #expect(h.channel.isActive)
        h.loop.advanceTime(by: .seconds(1))
        #expect(!h.channel.isActive)
    }

    @Test("OPEN: a server quiescing its connections (NIO's ChannelShouldQuiesceEvent, Hummingbird's and Vapor's shutdown) gets a 1001 close, exact bytes")
    func quiesceClosesWithGoingAway() throws {
        let h = try harness()
        try h.send(upgradeRequest())
        _ = try h.written()
        h.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(try h.written() == [0x88, 0x16, 0x03, 0xE9] + Array("server shutting down".utf8))
        try h.send(clientFrame(opcode: 8, payload: [0x03, 0xE9]))
        #expect(!h.channel.isActive)
        let closed = try #require(records(h.logs).last?["event_data"] as? [String: Any])
        #expect(closed["close_code"] as? Int == 1001 && closed["initiator"] as? String == "local", "\(closed)")
    }

    @Test("keepalive: a ping every interval; no pong within the timeout fails with 1011 and closes (virtual time)")
    func keepaliveTimeout() throws {
        let h = try harness {
            $0.connection.pingInterval = .seconds(5)
            $0.connection.pingTimeout = .seconds(2)
        }
        try h.send(upgradeRequest())
        _ = try h.written()
        h.loop.advanceTime(by: .seconds(5))
        let ping = try h.written()
        #expect(Array(ping.prefix(2)) == [0x89, 0x04], "a 4-byte keepalive ping: \(ping)")
        try h.send(clientFrame(opcode: 0xA, payload: Array(ping.dropFirst(2))))  // answered: no timeout
        h.loop.advanceTime(by: .seconds(5))
        #expect(Array(try h.written().prefix(2)) == [0x89, 0x04])
        h.loop.advanceTime(by: .seconds(2))
        let close = try h.written()
        #expect(Array(close.prefix(4)) == [0x88, UInt8(2 + "keepalive ping timeout".utf8.count), 0x03, 0xF3], "\(close)")
        #expect(!h.channel.isActive)
    }

    @Test("keepalive: a closed connection's pending ping is cancelled, so nothing holds the connection handler")
    func keepaliveCancelledAtClose() throws {
        let h = try harness { $0.connection.pingInterval = .seconds(5) }
        try h.send(upgradeRequest())
        _ = try h.written()
        weak var connection = try h.channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)
        #expect(connection != nil)
        try h.send(clientFrame(opcode: 8, payload: [0x03, 0xE8]))
        #expect(try h.written() == [0x88, 0x02, 0x03, 0xE8])
        #expect(!h.channel.isActive)
        h.loop.run()
        #expect(connection == nil, "leaked: the scheduled keepalive kept the closed connection's handler alive")
        h.loop.advanceTime(by: .seconds(20))
        #expect(try h.written().isEmpty, "no ping after the close")
    }

    @Test("CONNECTING: the open timeout answers 408 (virtual time)")
    func openTimeout() throws {
        let h = try harness { $0.connection.openTimeout = .seconds(4) }
        try h.send("GET / HTTP/1.1\r\n")
        h.loop.advanceTime(by: .seconds(4))
        #expect(String(decoding: try h.written(), as: UTF8.self).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(h.events() == ["connection_rejected"])
    }

    @Test("a bad request: 400 with its reason, then the lingering close ends after 2 s (virtual time)")
    func badRequest() throws {
        let h = try harness()
        try h.send("garbage\r\n\r\n")
        let response = String(decoding: try h.written(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(response)")
        #expect(response.hasSuffix("\r\n\r\ninvalid request line\n") || response.contains("Content-Length:"), "\(response)")
        try h.send("more input is drained, not answered")
        #expect(try h.written().isEmpty)
        h.loop.advanceTime(by: .seconds(2))
        #expect(!h.channel.isActive)
    }

    @Test("processRequest running: no read is asked for, and input piling up behind the request is refused with 400")
    func readsPausedWhileDeciding() throws {
        let h = try harness {
            $0.processRequest = { _, _ in
                try? await Task.sleep(for: .seconds(3600))  // never answers within the test
                return nil
            }
        }
        let readsBefore = h.reads.reads
        try h.send(upgradeRequest())
        #expect(h.reads.reads == readsBefore, "no read while processRequest decides")
        try h.send(Array(repeating: 0, count: 32 << 10))
        #expect(h.reads.reads == readsBefore)
        #expect(try h.written().isEmpty)
        try h.send(Array(repeating: 0, count: 40 << 10))  // over the 64 KiB early-input limit
        let response = String(decoding: try h.written(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(response.prefix(100))")
        #expect(response.contains("more than 65536 bytes sent before the handshake completed"))
    }

    @Test("server shutdown: an idle connection is closed; a connection that sent part of a request gets 503 when it completes")
    func shutdownDuringHandshake() throws {
        let idle = try harness()
        idle.connections.stopping.store(true, ordering: .relaxed)
        try idle.channel.pipeline.syncOperations.handler(type: ServerHandshakeHandler.self).shutdown()
        #expect(!idle.channel.isActive)

        let partial = try harness()
        let request = upgradeRequest()
        try partial.send(String(request.prefix(20)))
        partial.connections.stopping.store(true, ordering: .relaxed)
        try partial.channel.pipeline.syncOperations.handler(type: ServerHandshakeHandler.self).shutdown()
        #expect(partial.channel.isActive)
        try partial.send(String(request.dropFirst(20)))
        #expect(String(decoding: try partial.written(), as: UTF8.self).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
    }
}
