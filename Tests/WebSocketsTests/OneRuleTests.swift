import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

/// Each connection rule on every path that runs it: both handler styles (callbacks, a handler
/// task) of the standalone server, the mounted upgrader, and a framework route's upgrader
/// (the handler given with the request), on an `EmbeddedChannel` (exact bytes, virtual time,
/// no sockets).
@Suite("One rule on every connection path (EmbeddedChannel)")
struct OneRuleTests {
    /// How a connection is handled and installed.
    enum Path: String, CaseIterable, CustomTestStringConvertible {
        case callbacks
        case task
        case mounted
        case routed
        var testDescription: String { rawValue }
    }

    /// A connection opened on `path`, the 101 already read.
    func open(_ path: Path, configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> ConnectionHandlerTests.Harness {
        switch path {
        case .callbacks:
            let h = try ConnectionHandlerTests().harness(handling: .callbacks(ConnectionHandlerTests.Echo()), configure: configure)
            try h.send(upgradeRequest())
            _ = try h.written()
            return h
        case .task:
            // A handler that never asks for a message: what the connection does on its own shows.
            let h = try ConnectionHandlerTests().harness(handling: .task { ws in await ws.waitUntilClosed() }, configure: configure)
            try h.send(upgradeRequest())
            _ = try h.written()
            return h
        case .mounted:
            return try mounted(configure: configure)
        case .routed:
            return try mounted(configure: configure, routed: true)
        }
    }

    /// The upgrader's decision and install, as a framework's upgrade handler runs them, on an
    /// `EmbeddedChannel` that had none of our channel options.
    /// `routed`: a route's upgrader, the connection's handler task given with its request.
    func mounted(configure: (inout ServerConfiguration) -> Void = { _ in }, routed: Bool = false) throws -> ConnectionHandlerTests.Harness {
        let logs = MemorySink()
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .info) }
        configuration.logger.logLevel = .info
        configure(&configuration)
        configuration.runHandlersOnEventLoop = false
        let upgrader = routed ? WebSocketHTTPUpgrader(route: "/r/:x", configuration: configuration)
            : try WebSocketHTTPUpgrader(configuration: configuration, callbacks: ConnectionHandlerTests.Echo())
        let reads = ConnectionHandlerTests.ReadCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(reads)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5)).wait()
        let request = try Self.parsedRequest()
        let decision = try upgrader.decide(request, peer: channel.remoteAddress, eventLoop: channel.eventLoop,
                                           handling: routed ? .task { ws in await ws.waitUntilClosed() } : nil).wait()
        guard case .upgrade(let accepted) = decision else { throw HandlerFailure() }
        try upgrader.install(accepted.opening, hooks: accepted.hooks, on: channel, after: nil).wait()
        return ConnectionHandlerTests.Harness(channel: channel, logs: logs, reads: reads, connections: WebSocketServer.Connections(
            handling: .callbacks(ConnectionHandlerTests.Echo()), log: configuration.makeEventLogger(), handlersOnEventLoop: false))
    }

    static let incorrectMasking: [UInt8] = [0x88, 0x13, 0x03, 0xEA] + Array("incorrect masking".utf8)

    @Test("a protocol violation (an unmasked client frame): close 1002 on the wire, byte for byte, then TCP closes", arguments: Path.allCases)
    func violationCloseOnTheWire(path: Path) throws {
        let h = try open(path)
        try h.send(rawFrame(opcode: 1, payload: Array("hi".utf8)))  // not masked
        h.loop.advanceTime(by: .seconds(1))  // a handler task's held close waits at most 1 s for the application
        #expect(try h.written() == Self.incorrectMasking)
        #expect(!h.channel.isActive, "the server closes TCP after the close frame")
    }

    @Test("a message over the limit: close 1009 on the wire before TCP closes", arguments: Path.allCases)
    func oversizeCloseOnTheWire(path: Path) throws {
        let h = try open(path) { $0.connection.maxMessageSize = 4 }
        try h.send(clientFrame(fin: false, opcode: 1, payload: Array("abc".utf8)) + clientFrame(opcode: 0, payload: Array("de".utf8)))
        h.loop.advanceTime(by: .seconds(1))
        let out = try h.written()
        #expect(Array(out.prefix(4)) == [0x88, UInt8(out.count - 2), 0x03, 0xF1], "\(out)")
        #expect(!h.channel.isActive)
    }

    @Test("above the write buffer's high mark reading pauses, pongs included, until the peer drains", arguments: Path.allCases)
    func writeBufferPausesReading(path: Path) throws {
        let h = try open(path)
        let before = h.reads.reads
        h.channel.isWritable = false
        h.channel.pipeline.fireChannelWritabilityChanged()
        try h.send(clientFrame(opcode: 9, payload: [1, 2, 3]))
        #expect(try h.written() == [0x8A, 0x03, 1, 2, 3], "the pong of what was read still goes")
        #expect(h.reads.reads == before, "no more reading while the peer does not drain")
        try h.send(clientFrame(opcode: 9, payload: [4]))
        #expect(h.reads.reads == before)
        h.channel.isWritable = true
        h.channel.pipeline.fireChannelWritabilityChanged()
        #expect(h.reads.reads == before + 1, "reading resumes once below the low mark")
    }

    @Test("the mounted connection runs with the connection options, as the standalone server's bootstrap sets them")
    func mountedChannelOptions() throws {
        let h = try mounted { $0.connection.writeBuffer = (high: 1000, low: 100); $0.connection.readBuffer = (initial: 256, maximum: 4096) }
        let options = h.channel.options
        let marks = options.compactMap { $0.value as? ChannelOptions.Types.WriteBufferWaterMark }.last
        #expect(marks?.low == 100 && marks?.high == 1000)
        #expect(options.compactMap { $0.value as? AdaptiveRecvByteBufferAllocator }.count == 1)
        #expect(options.contains { $0.option is ChannelOptions.Types.AutoReadOption && ($0.value as? Bool) == false })
    }

    @Test("a peer's close after messages in the same read: the replies, then the close reply, then TCP closes", arguments: [Path.callbacks, .mounted])
    func closeReplyAfterEchoes(path: Path) throws {
        let h = try open(path)
        try h.send(clientFrame(opcode: 1, payload: Array("a".utf8)) + clientFrame(opcode: 8, payload: [0x03, 0xE8]))
        #expect(try h.written() == [0x81, 0x01, 0x61, 0x88, 0x02, 0x03, 0xE8])
        #expect(!h.channel.isActive)
    }

    @Test("a local close: the close frame, then the peer's reply closes TCP; the record says local 1000", arguments: Path.allCases)
    func localClose(path: Path) throws {
        let h = try open(path)
        let connection = try h.channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)
        connection.closeLocally(code: .normalClosure, reason: "done")
        #expect(try h.written() == [0x88, 0x06, 0x03, 0xE8] + Array("done".utf8))
        try h.send(clientFrame(opcode: 8, payload: [0x03, 0xE8]))
        #expect(!h.channel.isActive)
        let closed = try #require(records(h.logs).last { $0["event"] as? String == "connection_closed" }?["event_data"] as? [String: Any])
        #expect(closed["close_code"] as? Int == 1000 && closed["initiator"] as? String == "local")
        #expect(closed["path"] as? String == "/echo", "a closed connection can be found by its endpoint: \(closed)")
    }

    @Test("the queued flush: a handler task's replies to a batch share one flush, queued on the loop")
    func queuedFlush() throws {
        let h = try ConnectionHandlerTests().harness(handling: .task { ws in await ws.waitUntilClosed() })
        try h.send(upgradeRequest())
        _ = try h.written()
        let connection = try h.channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)
        // Two messages arrive; the application has asked for none: its reply is part of a batch.
        try h.send(clientFrame(opcode: 1, payload: Array("a".utf8)) + clientFrame(opcode: 1, payload: Array("b".utf8)))
        try connection.send(.text("A"))
        #expect(try h.written().isEmpty, "the reply waits for the queued flush")
        h.loop.run()
        #expect(try h.written() == [0x81, 0x01, 0x41])
    }
}

extension OneRuleTests {
    /// `upgradeRequest()` as the HTTP server hands it to an upgrader.
    static func parsedRequest(_ text: String = upgradeRequest()) throws -> HTTPRequestHead {
        var parser = HTTPHeadParser(limits: .init())
        var buffer = ByteBuffer(string: text)
        return try #require(try parser.parseRequest(&buffer))
    }
}

extension HTTPHeadWriterTests {
    static func parsedRequest() throws -> HTTPRequestHead { try OneRuleTests.parsedRequest() }
}

extension String {
    /// Without the optional whitespace (SP, HTAB) HTTP trims around a field value.
    var trimmedOWS: String {
        let ows: Set<UInt8> = [0x20, 0x09]
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !ows.contains($0) }), let last = bytes.lastIndex(where: { !ows.contains($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}

/// The client's handshake handler and the task style's inbound pause on an `EmbeddedChannel`.
@Suite("Client handshake and the task style's inbound pause (EmbeddedChannel)")
struct ClientHandshakeEmbeddedTests {
    /// A client handshake handler on an active `EmbeddedChannel`, with a fixed request key.
    func client(_ configure: (inout ClientConfiguration) -> Void = { _ in }) throws
        -> (EmbeddedChannel, EventLoopFuture<WebSocket>, ClientHandshake, MemorySink) {
        let logs = MemorySink()
        var configuration = ClientConfiguration()
        configuration.logger = Logger(label: "websockets.client") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .info) }
        configure(&configuration)
        let handshake = ClientHandshake(host: "x", target: "/chat", subprotocols: ["chat"], userAgent: nil)
        let channel = EmbeddedChannel()
        let promise = channel.eventLoop.makePromise(of: WebSocket.self)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try channel.pipeline.syncOperations.addHandler(ClientHandshakeHandler(
            handshake: handshake, compression: nil, options: configuration.connection, promise: promise,
            logger: configuration.makeEventLogger(), logContext: ConnectionContext(peerAddress: "127.0.0.1", peerPort: 9)))
        return (channel, promise.futureResult, handshake, logs)
    }

    func written(_ channel: EmbeddedChannel) throws -> String {
        var out: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer: buffer) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test("the request byte for byte; a 101 over two reads with a frame behind it opens the connection, and the frame is its first message")
    func opens() throws {
        let (channel, opened, handshake, logs) = try client()
        let done = NIOLockedValueBox(false)
        opened.whenComplete { _ in done.withLockedValue { $0 = true } }
        let request = try written(channel)
        #expect(request == "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(handshake.key)\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n", "\(request)")
        let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: \(AcceptKey.acceptValue(forKey: handshake.key))\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        try channel.writeInbound(ByteBuffer(string: String(response.prefix(30))))
        #expect(!done.withLockedValue { $0 }, "not open on part of the head")
        try channel.writeInbound(ByteBuffer(bytes: Array(response.dropFirst(30).utf8) + [0x81, 0x02, 0x68, 0x69]))
        let ws = try opened.wait()
        #expect(ws.subprotocol == "chat")
        #expect((try? channel.pipeline.syncOperations.handler(type: ClientHandshakeHandler.self)) == nil)
        #expect(records(logs).contains { $0["event"] as? String == "connection_open" })
    }

    @Test("a refused handshake fails the promise with the status and closes")
    func refused() throws {
        let (channel, opened, _, _) = try client()
        _ = try written(channel)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
        #expect(throws: WebSocketError.self) { try opened.wait() }
        #expect(!channel.isActive)
    }

    @Test("the open timeout fails the promise (virtual time)")
    func openTimeout() throws {
        let (channel, opened, _, _) = try client { $0.connection.openTimeout = .seconds(3) }
        _ = try written(channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        let error = #expect(throws: WebSocketError.self) { try opened.wait() }
        #expect(error?.kind == .timeout)
    }

    /// A task-style connection opened (the 101 read) whose handler never asks for a message, and its socket.
    func openIdleTask(configure: (inout ServerConfiguration) -> Void) async throws -> (ConnectionHandlerTests.Harness, WebSocket) {
        let (stream, continuation) = AsyncStream<WebSocket>.makeStream()
        let h = try ConnectionHandlerTests().harness(handling: .task { ws in
            continuation.yield(ws)
            await ws.waitUntilClosed()
        }, configure: configure)
        try h.send(upgradeRequest())
        _ = try h.written()
        var sockets = stream.makeAsyncIterator()
        return (h, try #require(await sockets.next()))
    }

    @Test("task style, in bytes: reading pauses once the application holds the byte high mark (queued, or the message in hand) and resumes only when it asks with nothing left above the low mark")
    func inboundBytePause() async throws {
        let (h, ws) = try await openIdleTask { $0.connection.inboundQueueBytes = (high: 1000, low: 100) }
        let a = String(repeating: "a", count: 600), b = String(repeating: "b", count: 600)
        let before = h.reads.reads
        try h.send(clientFrame(opcode: 1, payload: Array(a.utf8)))
        #expect(h.reads.reads > before, "600 bytes held, below the 1,000-byte high mark: reading goes on")
        let paused = h.reads.reads
        try h.send(clientFrame(opcode: 1, payload: Array(b.utf8)))
        #expect(h.reads.reads == paused, "1,200 bytes held, two messages (the count's high mark is 16): no read")
        var messages = ws.messages.makeAsyncIterator()
        #expect(try await messages.next() == .text(a))
        h.loop.run()
        #expect(h.reads.reads == paused, "a in hand, b queued: still 1,200 bytes")
        #expect(try await messages.next() == .text(b))
        h.loop.run()
        #expect(h.reads.reads == paused, "b in hand: 600 bytes, above the low mark of 100")
        let third = Task { [messages] in
            var messages = messages
            return try await messages.next()
        }
        for _ in 0..<1000 where h.reads.reads == paused {  // the task asks; its demand reaches the loop's queue
            h.loop.run()
            await Task.yield()
        }
        #expect(h.reads.reads > paused, "waiting with nothing held: reading resumed")
        try h.send(clientFrame(opcode: 1, payload: Array("c".utf8)))
        #expect(try await third.value == .text("c"))
    }

    @Test("task style: above the inbound queue's high mark reading pauses; the application asking for messages resumes it")
    func inboundPauseAndResume() async throws {
        let (h, ws) = try await openIdleTask { $0.connection.inboundQueue = (high: 2, low: 1) }
        let before = h.reads.reads
        try h.send(clientFrame(opcode: 1, payload: [0x61]) + clientFrame(opcode: 1, payload: [0x62]) + clientFrame(opcode: 1, payload: [0x63]))
        #expect(h.reads.reads == before, "three messages waiting over a high mark of 2: no read")
        var messages = ws.messages.makeAsyncIterator()
        #expect(try await messages.next() == .text("a"))
        #expect(try await messages.next() == .text("b"))
        #expect(try await messages.next() == .text("c"))
        // Below the low mark the application's demand reaches the handler through the event loop's queue.
        h.loop.run()
        #expect(h.reads.reads > before, "reading resumed at the low mark")
    }
}
