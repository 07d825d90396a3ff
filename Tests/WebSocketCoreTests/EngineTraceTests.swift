import NIOCore
import Testing
import WebSocketTestSupport
@testable import WebSocketCore

/// The typed DEBUG records the logging pipeline renders (`=`, `<`, `>`, `x`, `!`).
@Suite("WebSocketEngine: protocol traces and statistics")
struct EngineTraceTests {
    @Test("no traces are recorded unless tracing is on")
    func offByDefault() throws {
        var engine = WebSocketEngine.open(.server)
        engine.receive(clientFrame(opcode: 1, payload: Array("hi".utf8)))
        try engine.sendText("hi")
        #expect(engine.drainTraces().isEmpty)
    }

    @Test("frames, close steps, state changes and handled errors are traced in order")
    func fullSession() throws {
        var engine = WebSocketEngine.open(.server)
        engine.isTracing = true
        engine.receive(clientFrame(opcode: 1, payload: Array("hi".utf8)))
        try engine.sendText("hi")
        engine.receive(clientFrame(opcode: 0x3))
        engine.receiveEOF()
        let traces = engine.drainTraces()
        #expect(traces == [
            .frame(Frame(opcode: .text, payload: buffer("hi")), .received),
            .frame(Frame(opcode: .text, payload: buffer("hi")), .sent),
            .errorHandled(.reservedOpcode(3)),
            .close(.failing(.protocolError, reason: "invalid opcode 3")),
            .frame(Frame(opcode: .close, payload: CloseFrame(code: .protocolError, reason: "invalid opcode 3").serialized()), .sent),
            .stateChanged(.closing),
            .close(.closingTransport),
            .close(.eofReceived),
            .stateChanged(.closed),
        ])
        #expect(traces.map(\.prefix) == ["<", ">", "!", "x", ">", "=", "x", "x", "="])
    }

    @Test("fragment traces carry each fragment's own payload")
    func fragmentPayloads() {
        var engine = WebSocketEngine.open(.server)
        engine.isTracing = true
        engine.receive(clientFrame(fin: false, opcode: 1, payload: Array("ab".utf8)) + clientFrame(opcode: 0, payload: Array("cde".utf8)))
        let payloads = engine.drainTraces().compactMap { t -> String? in
            if case .frame(let f, .received) = t { return String(buffer: f.payload) }
            return nil
        }
        #expect(payloads == ["ab", "cde"])
        #expect(engine.drainEvents() == [.message(.text("abcde"))])
    }

    @Test("statistics count wire bytes, payload bytes, frames and messages both ways")
    func statistics() throws {
        var engine = WebSocketEngine.open(.server)
        let input = clientFrame(fin: false, opcode: 2, payload: [1, 2]) + clientFrame(opcode: 9) + clientFrame(opcode: 0, payload: [3])
        engine.receive(input)
        try engine.sendBinary(ByteBuffer(bytes: Array(repeating: 0, count: 200)))
        let out = engine.drainOutput()
        let s = engine.statistics
        #expect(s.wireBytesIn == input.count)
        #expect(s.payloadBytesIn == 3)
        #expect(s.messagesIn == 1)
        #expect(s.framesIn == 3)
        #expect(s.wireBytesOut == out.readableBytes)
        #expect(s.framesOut == 2)  // pong + binary
        #expect(s.messagesOut == 1)
        #expect(s.payloadBytesOut == 200)
    }

    @Test("large server payloads are queued by reference, not copied")
    func zeroCopyOutput() throws {
        var engine = WebSocketEngine.open(.server)
        let payload = ByteBuffer(repeating: 7, count: 100_000)
        try engine.sendBinary(payload)
        let header = engine.nextOutput()
        let body = engine.nextOutput()
        #expect(header?.readableBytes == 10)
        #expect(body == payload)
        body?.withUnsafeReadableBytes { b in
            payload.withUnsafeReadableBytes { p in #expect(b.baseAddress == p.baseAddress) }
        }
    }
}
