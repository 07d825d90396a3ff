import NIOCore
import Testing
import WebSocketTestSupport
@testable import WebSocketCore

/// The closing handshake: RFC 6455 §5.5.1, §7.1.1–§7.1.5.
@Suite("WebSocketEngine: closing handshake (RFC 6455 §5.5.1, §7)")
struct EngineCloseTests {
    @Test("a received close is answered with the same code and reason; the server closes TCP")
    func remoteClose() throws {
        var engine = WebSocketEngine.open(.server)
        engine.receive(clientFrame(opcode: 8, payload: closePayload(1001, "bye")))
        #expect(engine.drainEvents() == [.closeReceived(CloseFrame(code: .goingAway, reason: "bye"))])
        #expect(try engine.sentFrames().map(\.closeFrame) == [CloseFrame(code: .goingAway, reason: "bye")])
        #expect(engine.state == .closing)
        #expect(engine.transportCloseRequested)
        engine.receiveEOF()
        #expect(engine.state == .closed)
        #expect(engine.closeCode == .goingAway)
        #expect(engine.closeInitiator == .remote)
    }

    @Test("an empty close is answered with 1000; the close code reads 1005")
    func emptyClose() throws {
        var engine = WebSocketEngine.open(.server)
        engine.receive(clientFrame(opcode: 8))
        #expect(try engine.sentFrames().map(\.closeFrame?.code) == [.normalClosure])
        engine.receiveEOF()
        #expect(engine.closeCode == .noStatusReceived)
    }

    @Test("a locally initiated close: the peer's data before its close frame is still delivered (§7.1.2), the reply completes the handshake")
    func localCloseServer() throws {
        var engine = WebSocketEngine.open(.server)
        try engine.close(code: .goingAway, reason: "shutdown")
        #expect(engine.state == .closing)
        #expect(engine.closeExpected)
        #expect(!engine.transportCloseRequested, "the server waits for the client's close frame")
        #expect(try engine.sentFrames().map(\.closeFrame) == [CloseFrame(code: .goingAway, reason: "shutdown")])
        engine.receive(clientFrame(opcode: 1, payload: Array("in flight".utf8)))
        #expect(engine.drainEvents() == [.message(.text("in flight"))], "the peer's messages until its close frame are its messages")
        engine.receive(clientFrame(opcode: 8, payload: closePayload(1001)) + clientFrame(opcode: 1, payload: Array("after".utf8)))
        #expect(engine.drainEvents() == [.closeReceived(CloseFrame(code: .goingAway, reason: ""))], "nothing after the close frame")
        #expect(try engine.sentFrames().isEmpty, "no second close frame")
        #expect(engine.transportCloseRequested)
        engine.receiveEOF()
        #expect(engine.closeInitiator == .local)
        #expect(engine.closeCode == .goingAway)
    }

    @Test("a client never closes TCP first: it waits for the server's EOF")
    func localCloseClient() throws {
        var engine = WebSocketEngine.open(.client)
        try engine.close()
        engine.receive(rawFrame(opcode: 8, payload: closePayload(1000)))
        #expect(!engine.transportCloseRequested)
        #expect(engine.closeExpected)
        engine.receiveEOF()
        #expect(engine.state == .closed)
        #expect(engine.closeCode == .normalClosure)
    }

    @Test("EOF without a close frame is 1006, abnormal; 1006 is never sent")
    func abnormal() throws {
        var engine = WebSocketEngine.open(.server)
        engine.receive(clientFrame(fin: false, opcode: 1, payload: [0x61]))
        engine.receiveEOF()
        #expect(engine.state == .closed)
        #expect(engine.closeCode == .abnormalClosure)
        #expect(engine.closeInitiator == .abnormal)
        #expect(try engine.sentFrames().isEmpty)
    }

    @Test("close is idempotent and sending after close throws")
    func misuse() throws {
        var engine = WebSocketEngine.open(.server)
        try engine.close()
        try engine.close(code: .internalError)
        #expect(try engine.sentFrames().count == 1)
        #expect(throws: EngineError.notOpen(.closing)) { try engine.sendText("late") }
        #expect(throws: EngineError.notOpen(.closing)) { try engine.sendPing() }
        var connecting = WebSocketEngine(role: .server)
        #expect(throws: EngineError.notOpen(.connecting)) { try connecting.close() }
    }

    @Test("fail(code:) from the I/O layer sends the code and closes")
    func failFromIO() throws {
        var engine = WebSocketEngine.open(.server)
        engine.fail(code: .internalError, reason: "keepalive ping timeout")
        #expect(try engine.sentFrames().map(\.closeFrame) == [CloseFrame(code: .internalError, reason: "keepalive ping timeout")])
        #expect(engine.transportCloseRequested)
    }
}

/// Control frames: RFC 6455 §5.5.2, §5.5.3, and interleaving with fragments (§5.4).
@Suite("WebSocketEngine: ping and pong (RFC 6455 §5.5.2, §5.5.3)")
struct EngineControlFrameTests {
    @Test("a ping is answered with a pong carrying the same payload")
    func pingPong() throws {
        var engine = WebSocketEngine.open(.server)
        engine.receive(clientFrame(opcode: 9, payload: Array("abc".utf8)))
        #expect(engine.drainEvents() == [.ping(buffer("abc"))])
        #expect(try engine.sentFrames() == [Frame(opcode: .pong, payload: buffer("abc"))])
    }

    @Test("control frames interleave with the fragments of a message")
    func interleaved() throws {
        var engine = WebSocketEngine.open(.server)
        engine.receive(clientFrame(fin: false, opcode: 1, payload: Array("Hel".utf8))
            + clientFrame(opcode: 9, payload: [7])
            + clientFrame(opcode: 0, payload: Array("lo".utf8)))
        #expect(engine.drainEvents() == [.ping(buffer([7])), .message(.text("Hello"))])
        #expect(try engine.sentFrames() == [Frame(opcode: .pong, payload: buffer([7]))])
    }

    @Test("a pong acknowledges its ping and every earlier one; unsolicited pongs acknowledge nothing")
    func pongMatching() throws {
        var engine = WebSocketEngine.open(.client)
        let first = try engine.sendPing(buffer("1"))
        let second = try engine.sendPing(buffer("2"))
        #expect(first < second)
        #expect(throws: EngineError.duplicatePingPayload) { try engine.sendPing(buffer("2")) }
        engine.receive(rawFrame(opcode: 10, payload: Array("x".utf8)))
        engine.receive(rawFrame(opcode: 10, payload: Array("2".utf8)))
        engine.receive(rawFrame(opcode: 10, payload: Array("1".utf8)))
        #expect(engine.drainEvents() == [.pong(buffer("x"), acknowledged: nil), .pong(buffer("2"), acknowledged: second),
                                         .pong(buffer("1"), acknowledged: nil)])
        #expect(try engine.sentFrames().map(\.opcode) == [.ping, .ping])
    }

    @Test("control payloads over 125 bytes are refused locally")
    func longControl() {
        var engine = WebSocketEngine.open(.server)
        let long = ByteBuffer(repeating: 0, count: 126)
        #expect(throws: EngineError.controlPayloadTooLong(126)) { try engine.sendPing(long) }
        #expect(throws: EngineError.controlPayloadTooLong(126)) { try engine.sendPong(long) }
    }
}

/// The close progress as one value: each step of the closing handshake is one case, and the
/// properties the I/O layer reads agree with it.
@Suite("WebSocketEngine: close progress (one value)")
struct CloseProgressTests {
    @Test("a peer's close behind a message, held: .held(.reply, received:); released: .closing with the reply sent, input ended, transport close asked")
    func heldReplyThenReleased() throws {
        var engine = WebSocketEngine.open(.server, EngineConfiguration(deferClose: true))
        engine.receive(clientFrame(opcode: 1, payload: Array("a".utf8)) + clientFrame(opcode: 8, payload: closePayload(1001, "bye")))
        let bye = CloseFrame(code: .goingAway, reason: "bye")
        #expect(engine.closeProgress == .held(.reply(bye), received: bye))
        #expect(engine.closeInitiator == .remote && engine.closeReceived == bye && engine.closeSent == nil && engine.state == .open)
        engine.releaseHeldClose()
        guard case .closing(let c) = engine.closeProgress else { Issue.record("\(engine.closeProgress)"); return }
        #expect(c.initiator == .remote && c.sent == bye && c.received == bye && c.inputEnded && c.transportCloseRequested && c.failure == nil)
    }

    @Test("a violation held, then the application closes: the violation is the story (1002), not the application's code")
    func heldViolationThenLocalClose() throws {
        var engine = WebSocketEngine.open(.server, EngineConfiguration(deferClose: true))
        engine.receive(clientFrame(opcode: 1, payload: Array("a".utf8)) + rawFrame(opcode: 1, payload: [0x62]))  // then unmasked
        guard case .held(.violation, nil) = engine.closeProgress else { Issue.record("\(engine.closeProgress)"); return }
        try engine.close(code: .normalClosure, reason: "done")
        guard case .closing(let c) = engine.closeProgress else { Issue.record("\(engine.closeProgress)"); return }
        #expect(c.sent?.code == .protocolError && c.failure != nil && c.inputEnded && c.initiator == .local)
    }

    @Test("a local close keeps reading (§7.1.2) until the peer's reply; EOF without any close frame is abnormal")
    func localCloseThenReplyAndAbnormalEOF() throws {
        var engine = WebSocketEngine.open(.client)
        try engine.close(code: .normalClosure)
        guard case .closing(let c) = engine.closeProgress else { Issue.record(); return }
        #expect(!c.inputEnded && c.sent?.code == .normalClosure && c.received == nil)
        engine.receive(rawFrame(opcode: 8, payload: closePayload(1000)))
        guard case .closing(let after) = engine.closeProgress else { Issue.record(); return }
        #expect(after.inputEnded && after.received?.code == .normalClosure && !after.transportCloseRequested, "a client waits for the server's EOF")

        var dropped = WebSocketEngine.open(.server)
        #expect(dropped.closeProgress == .none)
        dropped.receiveEOF()
        guard case .closing(let d) = dropped.closeProgress else { Issue.record(); return }
        #expect(d.initiator == .abnormal && d.inputEnded && dropped.closeCode == .abnormalClosure)
    }
}
