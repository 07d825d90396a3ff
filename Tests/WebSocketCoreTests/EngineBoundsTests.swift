import NIOCore
import Testing
import WebSocketTestSupport
@testable import WebSocketCompression
@testable import WebSocketCore

/// Memory grows with bytes received, never with a length a peer merely declares; limits are
/// checked without overflow whatever they are configured to; the 1009 reason names the limit.
@Suite("WebSocketEngine: bounds (memory, limits, pings)")
struct EngineBoundsTests {
    static let sixteenMiB = 16 << 20

    @Test("a header declaring a message just under the limit, then 8 bytes, commits no more than what arrived",
          arguments: ["one frame", "empty first fragment, then a large continuation"])
    func declaredLengthCommitsNothing(shape: String) {
        var engine = WebSocketEngine.open(.server, EngineConfiguration(maxMessageSize: Self.sixteenMiB))
        let declared = UInt64(Self.sixteenMiB - 1)
        var input: [UInt8] = []
        if shape == "one frame" {
            input = rawFrame(opcode: 2, mask: [1, 2, 3, 4], declaredLength: declared)
        } else {
            input = clientFrame(fin: false, opcode: 2) + rawFrame(opcode: 0, mask: [1, 2, 3, 4], declaredLength: declared)
        }
        engine.receive(input + Array(repeating: 0x55, count: 8))
        #expect(engine.failure == nil && engine.state == .open)
        #expect(engine.retainedInputCapacity <= 4096, "\(shape): \(engine.retainedInputCapacity) bytes held for 8 received")
    }

    @Test("a compressed frame declaring a large payload commits no more than what arrived")
    func declaredCompressedLengthCommitsNothing() throws {
        var engine = WebSocketEngine.open(.server, EngineConfiguration(maxMessageSize: Self.sixteenMiB))
        engine.compression = PerMessageDeflate.accept(offers: [ExtensionOffer(name: "permessage-deflate")], configuration: .init())
        engine.receive(rawFrame(rsv: 4, opcode: 1, mask: [1, 2, 3, 4], declaredLength: UInt64(Self.sixteenMiB - 1)) + [0x55, 0x55])
        #expect(engine.failure == nil)
        #expect(engine.retainedInputCapacity <= 4096, "\(engine.retainedInputCapacity) bytes held for 2 received")
    }

    @Test("the limit check cannot overflow: maxMessageSize Int.max and a continuation declaring 2^63-1 bytes closes 1009")
    func limitArithmeticDoesNotOverflow() throws {
        var engine = WebSocketEngine.open(.server, EngineConfiguration(maxMessageSize: .max))
        engine.receive(clientFrame(fin: false, opcode: 2, payload: Array(repeating: 1, count: 10))
                       + rawFrame(opcode: 0, mask: [1, 2, 3, 4], declaredLength: UInt64(Int64.max)))
        #expect(engine.failure == .messageTooBig(limit: .max))
        #expect(try engine.sentFrames().last?.closeFrame?.code == .messageTooBig)
    }

    @Test("a fragmented compressed message over the limit closes 1009 naming the configured limit")
    func fragmentedCompressedReasonNamesLimit() throws {
        var engine = WebSocketEngine.open(.client, EngineConfiguration(maxMessageSize: 1000))
        engine.compression = try PerMessageDeflate.clientAccept(
            response: ExtensionOffer(name: "permessage-deflate"),
            configuration: PerMessageDeflateConfiguration(localMaxWindowBits: 15, remoteMaxWindowBits: 15))
        let deflater = try #require(Deflater(windowBits: 15, memLevel: 8, level: 6))
        let part = ByteBuffer(repeating: 0x61, count: 600)
        let first = Array(buffer: deflater.compress(part, allocator: ByteBufferAllocator())) + [0, 0, 0xFF, 0xFF]
        let second = Array(buffer: deflater.compress(part, allocator: ByteBufferAllocator()))
        engine.receive(rawFrame(fin: false, rsv: 4, opcode: 1, payload: first) + rawFrame(opcode: 0, payload: second))
        #expect(engine.failure == .messageTooBig(limit: 1000))
        let close = try #require(try engine.sentFrames().last?.closeFrame)
        #expect(close.code == .messageTooBig && close.reason == "message over 1000 bytes")
    }

    @Test("pings waiting for a pong are bounded: the oldest is forgotten")
    func pendingPingsBounded() throws {
        var engine = WebSocketEngine.open(.server)
        var ids: [PingID] = []
        for i in 0..<(WebSocketEngine.maxPendingPings + 4) { ids.append(try engine.sendPing(ByteBuffer(string: "p\(i)"))) }
        engine.receive(clientFrame(opcode: 0xA, payload: Array("p0".utf8)))
        #expect(engine.drainEvents() == [.pong(ByteBuffer(string: "p0"), acknowledged: nil)], "forgotten: no id")
        let last = WebSocketEngine.maxPendingPings + 3
        engine.receive(clientFrame(opcode: 0xA, payload: Array("p\(last)".utf8)))
        #expect(engine.drainEvents() == [.pong(ByteBuffer(string: "p\(last)"), acknowledged: ids[last])])
    }

    @Test("a text message sent in fragments that split a character arrives whole (sendText(utf8:))")
    func textFragmentsSplitCharacter() throws {
        var client = WebSocketEngine.open(.client)
        try client.sendText(utf8: ByteBuffer(bytes: [0x61, 0xC3]), fin: false)
        try client.sendContinuation(ByteBuffer(bytes: [0xA9]), fin: true)
        var server = WebSocketEngine.open(.server)
        while let bytes = client.nextOutput() { server.receive(bytes) }
        #expect(server.drainEvents() == [.message(.text("aé"))])
        #expect(server.failure == nil)
    }
}

@Suite("WebSocketEngine: the close held behind messages (deferClose)")
struct EngineHeldCloseTests {
    @Test("messages in the same input as the peer's close are delivered and answered before the close reply")
    func replyHeldBehindMessages() throws {
        var engine = WebSocketEngine.open(.server, EngineConfiguration(deferClose: true))
        engine.receive(clientFrame(opcode: 1, payload: Array("a".utf8)) + clientFrame(opcode: 1, payload: Array("b".utf8))
                       + clientFrame(opcode: 8, payload: closePayload(1000, "bye")))
        #expect(engine.drainEvents() == [.message(.text("a")), .message(.text("b")),
                                          .closeReceived(CloseFrame(code: .normalClosure, reason: "bye"))])
        #expect(engine.heldClose == .reply(CloseFrame(code: .normalClosure, reason: "bye")))
        #expect(engine.state == .open && !engine.transportCloseRequested)
        try engine.sendText("a")
        try engine.sendText("b")
        engine.releaseHeldClose()
        let frames = try engine.sentFrames()
        #expect(frames.map(\.opcode) == [.text, .text, .close])
        #expect(frames.last?.closeFrame == CloseFrame(code: .normalClosure, reason: "bye"))
        #expect(engine.state == .closing && engine.transportCloseRequested && engine.closeInitiator == .remote)
    }

    @Test("a close with no message before it is answered at once")
    func replyNotHeldAlone() throws {
        var engine = WebSocketEngine.open(.server, EngineConfiguration(deferClose: true))
        engine.receive(clientFrame(opcode: 8, payload: closePayload(1001)))
        #expect(engine.heldClose == nil)
        #expect(try engine.sentFrames().map(\.closeFrame?.code) == [.goingAway])
    }

    @Test("close() while the reply is held sends the reply (the peer started the handshake)")
    func localCloseSendsHeldReply() throws {
        var engine = WebSocketEngine.open(.client, EngineConfiguration(deferClose: true))
        engine.receive(rawFrame(opcode: 1, payload: Array("x".utf8)) + rawFrame(opcode: 8, payload: closePayload(4000, "app")))
        _ = engine.drainEvents()
        try engine.close(code: .normalClosure, reason: "mine")
        #expect(try engine.sentFrames().map(\.closeFrame) == [CloseFrame(code: CloseCode(4000), reason: "app")])
        #expect(engine.closeInitiator == .remote && engine.heldClose == nil)
    }
}
