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

    @Test("a server's text written straight into its frame: the same bytes and counts as through a payload buffer",
          arguments: ["", "hi", "héllo wörld ✓", String(repeating: "a", count: 125), String(repeating: "b", count: 126),
                      String(repeating: "c", count: 70_000)])
    func directText(_ text: String) throws {
        for fin in [true, false] {
            var direct = WebSocketEngine.open(.server)
            var buffered = WebSocketEngine.open(.server)
            try direct.sendText(text, fin: fin)
            try buffered.sendText(utf8: ByteBuffer(string: text), fin: fin)  // the general path
            let bytes = direct.drainOutput()
            #expect(bytes == buffered.drainOutput())
            #expect(direct.statistics == buffered.statistics)
            #expect(direct.statistics.wireBytesOut == bytes.readableBytes)
            #expect(direct.statistics.framesOut == 1)
            #expect(direct.statistics.messagesOut == (fin ? 1 : 0))
            #expect(direct.statistics.payloadBytesOut == text.utf8.count)
        }
        if text.utf8.count <= 125 {  // exact bytes: FIN + text opcode, unmasked 7-bit length, the text
            var engine = WebSocketEngine.open(.server)
            try engine.sendText(text)
            #expect(Array(buffer: engine.drainOutput()) == [0x81, UInt8(text.utf8.count)] + Array(text.utf8))
        }
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
