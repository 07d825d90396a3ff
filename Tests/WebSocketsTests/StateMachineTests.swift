import NIOCore
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketTestSupport
@testable import WebSockets

/// Every transition of the open connection's I/O state, without a channel.
@Suite("ConnectionStateMachine")
struct ConnectionStateMachineTests {
    @Test("reading: a read completes and another is asked for while flowing")
    func flowing() {
        var m = ConnectionStateMachine()
        #expect(m.readComplete() == .read)
        #expect(m.state == .active(.init(reading: .flowing)))
    }

    @Test("reading: paused for two reasons resumes only when both are lifted, and only then reads what was pending")
    func twoPauseReasons() {
        var m = ConnectionStateMachine()
        m.pause(.inboundQueueFull)
        #expect(m.readComplete() == .none)
        m.pause(.writeBufferFull)
        #expect(m.resume(.inboundQueueFull) == .none, "the write buffer still holds it")
        #expect(m.state == .active(.init(reading: .paused(.writeBufferFull, readPending: true))))
        #expect(m.resume(.writeBufferFull) == .read)
        #expect(m.state == .active(.init(reading: .flowing)))
    }

    @Test("reading: resumed with nothing pending asks for no read")
    func resumeWithoutPending() {
        var m = ConnectionStateMachine()
        m.pause(.inboundQueueFull)
        #expect(m.resume(.inboundQueueFull) == .none)
        #expect(m.resume(.inboundQueueFull) == .none, "lifting a reason that is not there does nothing")
    }

    @Test("pump: a request during a round makes one more round, then it finishes")
    func pumpReentrancy() {
        var m = ConnectionStateMachine()
        #expect(m.pumpRequested() == .run)
        #expect(m.pumpRequested() == .leaveToRunningPump)
        #expect(m.pumpRequested() == .leaveToRunningPump)
        #expect(m.pumpRoundEnded() == .runAgain)
        #expect(m.pumpRoundEnded() == .finish)
        #expect(m.pump == .idle)
        #expect(m.pumpRequested() == .run)
    }

    @Test("flush: a batch queues one flush; a batch's end flushes now")
    func flushing() {
        var m = ConnectionStateMachine()
        #expect(m.wrote(batchEnds: false) == .queueFlush)
        #expect(m.wrote(batchEnds: false) == .none, "one queued flush carries later writes too")
        m.queuedFlushRan()
        #expect(m.wrote(batchEnds: false) == .queueFlush)
        #expect(m.wrote(batchEnds: true) == .flushNow)
    }

    @Test("closing: the transport closes once; reads go on while it closes; inactive finishes once")
    func closing() {
        var m = ConnectionStateMachine()
        m.pause(.inboundQueueFull)
        #expect(m.transportCloseRequested() == .closeAfterWrites)
        #expect(m.transportCloseRequested() == .none)
        #expect(m.readComplete() == .read, "a lingering close drains the peer's input")
        #expect(m.isActive)
        #expect(m.channelInactive() == .finish)
        #expect(m.channelInactive() == .none)
        #expect(!m.isActive && m.readComplete() == .none)
    }
}

/// Every transition of the server's opening handshake, without a channel.
@Suite("ConnectionStateMachine: close and hold timers")
struct ConnectionTimerStateTests {
    @Test("the close timer is armed once, and not after the channel went inactive")
    func closeTimerOnce() {
        var m = ConnectionStateMachine()
        #expect(m.closeExpected() == .arm && m.closeTimer == .armed)
        #expect(m.closeExpected() == .none)
        var closed = ConnectionStateMachine()
        #expect(closed.channelInactive() == .finish)
        #expect(closed.closeExpected() == .none)
    }

    @Test("a held close waits once; the first release ends it, a second does nothing; the channel's end clears it")
    func holdOnce() {
        var m = ConnectionStateMachine()
        #expect(m.holdBegan() == .arm && m.hold == .waiting)
        #expect(m.holdBegan() == .none, "one bound per held close")
        #expect(m.holdEnded() == .release && m.hold == .none)
        #expect(m.holdEnded() == .none)
        #expect(m.holdBegan() == .arm)
        #expect(m.channelInactive() == .finish && m.hold == .none)
        #expect(m.holdBegan() == .none, "nothing is held once closed")
    }
}

@Suite("ServerHandshakeStateMachine")
struct ServerHandshakeStateMachineTests {
    func started(limit: Int = 64 << 10) -> ServerHandshakeStateMachine {
        var m = ServerHandshakeStateMachine(limits: .init(), earlyInputLimit: limit)
        #expect(m.start() == .start)
        #expect(m.start() == .none)
        return m
    }

    @Test("the head in pieces, then a decision to upgrade carrying the bytes behind it")
    func headThenUpgrade() throws {
        var m = started()
        let request = upgradeRequest()
        guard case .needMore = m.bytesReceived(ByteBuffer(string: String(request.prefix(10)))) else { Issue.record(); return }
        #expect(m.wantsRead)
        guard case .decide(let head) = m.bytesReceived(ByteBuffer(string: String(request.dropFirst(10)) + "xy")) else {
            Issue.record(); return
        }
        #expect(head.uri == "/echo")
        #expect(!m.wantsRead, "reads pause while the request is decided")
        guard case .needMore = m.bytesReceived(ByteBuffer(string: "z")) else { Issue.record(); return }
        guard case .upgrade(_, let early) = m.accepted() else { Issue.record(); return }
        #expect(String(buffer: early) == "xyz")
        guard case .none = m.openTimedOut() else { Issue.record(); return }
    }

    @Test("input behind the head over the limit is refused with 400")
    func earlyInputLimit() {
        var m = started(limit: 4)
        guard case .decide = m.bytesReceived(ByteBuffer(string: upgradeRequest() + "1234")) else { Issue.record(); return }
        guard case .reject(let rejection, let head) = m.bytesReceived(ByteBuffer(string: "5")) else { Issue.record(); return }
        #expect(rejection.status == .badRequest && head != nil)
        guard case .discard = m.bytesReceived(ByteBuffer(string: "more")) else { Issue.record(); return }
        #expect(m.wantsRead, "a lingering close drains")
    }

    @Test("a malformed head is rejected at once")
    func malformed() {
        var m = started()
        guard case .reject(let rejection, nil) = m.bytesReceived(ByteBuffer(string: "garbage\r\n\r\n")) else { Issue.record(); return }
        #expect(rejection.status == .badRequest)
    }

    @Test("the open timeout while deciding is the decision's to answer (it bounds processRequest itself); its answer is then carried out")
    func timeoutWhileDeciding() {
        var m = started()
        guard case .decide = m.bytesReceived(ByteBuffer(string: upgradeRequest())) else { Issue.record(); return }
        guard case .none = m.openTimedOut() else { Issue.record(); return }
        guard case .respond(let head) = m.answered() else { Issue.record(); return }
        #expect(head.uri == "/echo")
        guard case .none = m.accepted() else { Issue.record(); return }
    }

    @Test("shutdown closes a connection that sent nothing, and waits for one that sent part of a head")
    func shutdown() {
        var m = started()
        #expect(m.shutdown() == .close)
        _ = m.bytesReceived(ByteBuffer(string: "GET / HT"))
        #expect(m.shutdown() == .none)
    }
}

@Suite("Configured durations never trap")
struct DurationClampingTests {
    @Test("TimeAmount(clamping:) saturates instead of overflowing", arguments: [Int64.max, Int64.max / 1_000_000_000, -Int64.max])
    func clamped(seconds: Int64) {
        let amount = TimeAmount(clamping: .seconds(seconds))
        #expect(seconds > 0 ? amount.nanoseconds == .max : amount.nanoseconds == .min)
    }

    @Test("ordinary durations are exact")
    func exact() {
        #expect(TimeAmount(clamping: .milliseconds(1500)) == .milliseconds(1500))
        #expect(TimeAmount(clamping: .seconds(20)) == .seconds(20))
    }
}

@Suite("ClientHandshakeStateMachine")
struct ClientHandshakeStateMachineTests {
    static let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/chat")
    static let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"

    func started() -> ClientHandshakeStateMachine {
        var m = ClientHandshakeStateMachine(limits: .init())
        #expect(m.start(request: Self.request) == .send)
        return m
    }

    @Test("idle → awaitingResponse once; a second start does nothing")
    func startOnce() {
        var m = ClientHandshakeStateMachine(limits: .init())
        #expect(m.isIdle && !m.wantsRead)
        #expect(m.start(request: Self.request) == .send)
        #expect(!m.isIdle && m.wantsRead)
        #expect(m.start(request: Self.request) == .none)
    }

    @Test("the response head over three reads, with a frame behind it: the request it answers, the head, the early bytes; then done")
    func responseInPieces() {
        var m = started()
        let bytes = Array(Self.response.utf8) + [0x81, 0x01, 0x61]
        guard case .needMore = m.bytesReceived(ByteBuffer(bytes: bytes[0..<10])) else { Issue.record(); return }
        guard case .needMore = m.bytesReceived(ByteBuffer(bytes: bytes[10..<40])) else { Issue.record(); return }
        guard case .response(let request, let head, let early) = m.bytesReceived(ByteBuffer(bytes: bytes[40...])) else { Issue.record(); return }
        #expect(request.uri == "/chat" && head.status == .switchingProtocols && Array(early.readableBytesView) == [0x81, 0x01, 0x61])
        #expect(!m.wantsRead)
        guard case .discard = m.bytesReceived(ByteBuffer(string: "more")) else { Issue.record(); return }
        #expect(m.failed() == .none, "the promise was completed by the response's outcome")
    }

    @Test("a malformed response fails once; a later failure or the channel's end does nothing more")
    func malformed() {
        var m = started()
        guard case .fail = m.bytesReceived(ByteBuffer(string: "garbage\r\n\r\n")) else { Issue.record(); return }
        #expect(m.failed() == .none)
        #expect(m.channelInactive() == .none)
    }

    @Test("the channel ends while waiting: fail the promise, once")
    func inactiveWhileWaiting() {
        var m = started()
        #expect(m.channelInactive() == .fail)
        #expect(m.channelInactive() == .none)
    }
}
