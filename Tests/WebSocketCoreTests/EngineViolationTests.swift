import NIOCore
import Testing
import WebSocketTestSupport
@testable import WebSocketCore

/// Every RFC 6455 MUST an endpoint enforces on received data, each asserting the exact close
/// code the engine sends (§5.2, §5.4, §5.5, §5.5.1, §7.4, §8.1, and the size limits).
@Suite("WebSocketEngine: failing the connection (RFC 6455 §7.1.7)")
struct EngineViolationTests {
    /// Feeds `input` to an open server engine and returns the close frame it sent.
    func serverFails(_ input: [UInt8], configuration: EngineConfiguration = .init(maxMessageSize: 4096),
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> (CloseFrame?, WebSocketEngine) {
        var engine = WebSocketEngine.open(.server, configuration)
        engine.receive(input)
        let frames = try engine.sentFrames()
        let close = frames.last?.closeFrame
        #expect(engine.state == .closing, sourceLocation: sourceLocation)
        #expect(engine.transportCloseRequested, "a server closes TCP when failing", sourceLocation: sourceLocation)
        return (close, engine)
    }

    static let cases: [(String, [UInt8], UInt16)] = [
        ("RSV1 without extension", clientFrame(rsv: 0b100, opcode: 1), 1002),
        ("RSV2", clientFrame(rsv: 0b010, opcode: 2), 1002),
        ("RSV3", clientFrame(rsv: 0b001, opcode: 9), 1002),
        ("reserved data opcode 0x3", clientFrame(opcode: 0x3), 1002),
        ("reserved data opcode 0x7", clientFrame(opcode: 0x7), 1002),
        ("reserved control opcode 0xB", clientFrame(opcode: 0xB), 1002),
        ("reserved control opcode 0xF", clientFrame(opcode: 0xF), 1002),
        ("ping over 125 bytes", clientFrame(opcode: 9, payload: Array(repeating: 1, count: 126)), 1002),
        ("close over 125 bytes", clientFrame(opcode: 8, payload: closePayload(1000, String(repeating: "a", count: 124))), 1002),
        ("fragmented ping", clientFrame(fin: false, opcode: 9), 1002),
        ("fragmented close", clientFrame(fin: false, opcode: 8, payload: closePayload(1000)), 1002),
        ("unmasked client frame", rawFrame(opcode: 1, payload: Array("hi".utf8)), 1002),
        ("64-bit length with top bit", rawFrame(opcode: 2, mask: [1, 2, 3, 4], declaredLength: 1 << 63, lengthForm: 64), 1002),
        ("continuation without start", clientFrame(opcode: 0, payload: [1]), 1002),
        ("text inside fragmented message", clientFrame(fin: false, opcode: 1, payload: [0x61]) + clientFrame(opcode: 1, payload: [0x62]), 1002),
        ("binary inside fragmented message", clientFrame(fin: false, opcode: 2, payload: [1]) + clientFrame(opcode: 2, payload: [2]), 1002),
        ("invalid UTF-8 text", clientFrame(opcode: 1, payload: [0xC0, 0x80]), 1007),
        ("text ending mid-scalar", clientFrame(opcode: 1, payload: [0xE2, 0x82]), 1007),
        ("invalid UTF-8 across fragments", clientFrame(fin: false, opcode: 1, payload: [0xE2]) + clientFrame(opcode: 0, payload: [0x41]), 1007),
        ("invalid UTF-8 close reason", clientFrame(opcode: 8, payload: [0x03, 0xE8, 0xFF]), 1007),
        ("1-byte close payload", clientFrame(opcode: 8, payload: [0x03]), 1002),
        ("close code 0", clientFrame(opcode: 8, payload: closePayload(0)), 1002),
        ("close code 999", clientFrame(opcode: 8, payload: closePayload(999)), 1002),
        ("close code 1004", clientFrame(opcode: 8, payload: closePayload(1004)), 1002),
        ("close code 1005", clientFrame(opcode: 8, payload: closePayload(1005)), 1002),
        ("close code 1006", clientFrame(opcode: 8, payload: closePayload(1006)), 1002),
        ("close code 1015", clientFrame(opcode: 8, payload: closePayload(1015)), 1002),
        ("close code 1016", clientFrame(opcode: 8, payload: closePayload(1016)), 1002),
        ("close code 2999", clientFrame(opcode: 8, payload: closePayload(2999)), 1002),
        ("close code 5000", clientFrame(opcode: 8, payload: closePayload(5000)), 1002),
        ("message over maxMessageSize in one frame", clientFrame(opcode: 2, payload: Array(repeating: 0, count: 4097)), 1009),
        ("message over maxMessageSize across fragments",
         clientFrame(fin: false, opcode: 2, payload: Array(repeating: 0, count: 4000)) + clientFrame(opcode: 0, payload: Array(repeating: 0, count: 97)), 1009),
    ]

    @Test("deferClose: messages before a violation are delivered and can be answered before the close goes out")
    func deferredViolation() throws {
        var engine = WebSocketEngine.open(.server, EngineConfiguration(maxMessageSize: 4096, deferClose: true))
        engine.receive(clientFrame(opcode: 1, payload: Array("hi".utf8)) + clientFrame(opcode: 0x6, payload: [1]) + clientFrame(opcode: 9))
        #expect(engine.drainEvents() == [.message(.text("hi"))])
        guard case .violation(let held)? = engine.heldClose else { Issue.record("no held violation"); return }
        #expect(held.closeCode == .protocolError)
        #expect(engine.state == .open && !engine.transportCloseRequested)
        #expect(try engine.sentFrames().isEmpty, "no close yet, and the ping behind the violation is not answered")
        try engine.sendText("hi")                                  // the application's echo
        engine.receive(clientFrame(opcode: 1, payload: Array("ignored".utf8)))
        #expect(engine.drainEvents().isEmpty, "input stops at the violation")
        engine.releaseHeldClose()
        let frames = try engine.sentFrames()
        #expect(frames.map(\.opcode) == [.text, .close])
        #expect(frames.last?.closeFrame?.code == .protocolError)
        #expect(engine.state == .closing && engine.transportCloseRequested && engine.heldClose == nil)
        #expect(engine.failure?.closeCode == .protocolError)
    }

    @Test("deferClose: an EOF while a violation waits still records it")
    func deferredViolationThenEOF() throws {
        var engine = WebSocketEngine.open(.server, EngineConfiguration(deferClose: true))
        engine.receive(clientFrame(opcode: 1, payload: [0xC0, 0x80]))
        engine.receiveEOF()
        #expect(engine.state == .closed && engine.heldClose == nil)
        #expect(engine.failure?.closeCode == .invalidFramePayloadData)
    }

    @Test("each violation closes with its code", arguments: cases)
    func violation(name: String, input: [UInt8], code: UInt16) throws {
        let (close, engine) = try serverFails(input)
        #expect(close?.code == CloseCode(code), "\(name)")
        #expect(engine.failure?.closeCode == CloseCode(code), "\(name)")
        #expect(engine.closeInitiator == .local)
    }

    @Test("a frame over maxFrameSize closes with 1009")
    func frameTooBig() throws {
        let (close, _) = try serverFails(clientFrame(fin: false, opcode: 2, payload: Array(repeating: 0, count: 600)),
                                         configuration: .init(maxMessageSize: 4096, maxFrameSize: 500))
        #expect(close?.code == .messageTooBig)
    }

    @Test("the size limit is checked from the header, before any payload is buffered")
    func limitBeforeBuffering() throws {
        // Only the 14-byte header of a 1 GiB frame: the engine must fail without waiting for payload.
        let header = Array(rawFrame(opcode: 2, mask: [1, 2, 3, 4], declaredLength: 1 << 30).prefix(14))
        let (close, _) = try serverFails(header)
        #expect(close?.code == .messageTooBig)
    }

    @Test("invalid UTF-8 fails on the fragment that breaks it, before the message ends")
    func utf8FailsFast() throws {
        var engine = WebSocketEngine.open(.server)
        engine.receive(clientFrame(fin: false, opcode: 1, payload: Array("κόσμε".utf8)))
        #expect(engine.state == .open)
        engine.receive(clientFrame(fin: false, opcode: 0, payload: [0xED, 0xA0, 0x80]))
        #expect(engine.state == .closing)
        #expect(try engine.sentFrames().last?.closeFrame?.code == .invalidFramePayloadData)
    }

    @Test("invalid UTF-8 fails inside a single frame whose payload is still arriving")
    func utf8FailsFastWithinFrame() throws {
        var engine = WebSocketEngine.open(.server)
        let frame = clientFrame(opcode: 1, payload: Array("hello".utf8) + [0xFF] + Array(repeating: 0x61, count: 100))
        engine.receive(Array(frame.prefix(6 + 6)))  // header + "hello" + 0xFF
        #expect(engine.state == .closing)
        #expect(try engine.sentFrames().last?.closeFrame?.code == .invalidFramePayloadData)
    }

    @Test("input after a failure is discarded and no second close is sent")
    func discardsAfterFailure() throws {
        var engine = WebSocketEngine.open(.server)
        engine.receive(clientFrame(opcode: 0x3))
        _ = try engine.sentFrames()
        engine.receive(clientFrame(opcode: 1, payload: Array("late".utf8)) + clientFrame(opcode: 0xF))
        #expect(engine.drainEvents().isEmpty)
        #expect(try engine.sentFrames().isEmpty)
    }

    @Test("a client that fails waits for the server to close TCP")
    func clientFailure() throws {
        var engine = WebSocketEngine.open(.client)
        engine.receive(rawFrame(opcode: 1, mask: [1, 2, 3, 4], payload: [0x41]))
        #expect(engine.failure == .maskedFrameFromServer)
        #expect(try engine.sentFrames().last?.closeFrame?.code == .protocolError)
        #expect(!engine.transportCloseRequested)
        #expect(engine.closeExpected)
    }

    @Test("failure reasons never contain peer bytes and fit in a close frame")
    func reasonsAreSafe() {
        let all: [ProtocolViolation] = [.reservedBitsSet(bits: 0x70), .reservedOpcode(15), .controlFrameTooLong(length: .max),
                                        .fragmentedControlFrame, .unmaskedFrameFromClient, .maskedFrameFromServer, .lengthTopBitSet,
                                        .unexpectedContinuation, .expectedContinuation, .invalidUTF8, .closePayloadTooShort,
                                        .invalidCloseCode(65535), .messageTooBig(limit: .max), .frameTooBig(limit: .max),
                                        .invalidCompressedData, .compressedBitMisplaced]
        for v in all {
            #expect(v.reason.utf8.count <= CloseFrame.maxReasonBytes)
            #expect(v.closeCode.isValidOnWire)
            #expect(!v.name.contains(" "))
        }
    }
}
