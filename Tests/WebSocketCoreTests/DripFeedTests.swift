import NIOCore
import Testing
import WebSocketTestSupport
@testable import WebSocketCore

/// Every sample, valid and invalid, fed one byte at a time must give exactly the same events,
/// output and close code as the same bytes fed at once.
@Suite("Drip-feed: input split at every byte boundary")
struct DripFeedTests {
    static let samples: [(String, [UInt8])] = [
        ("text", clientFrame(opcode: 1, payload: Array("Hello".utf8))),
        ("empty text", clientFrame(opcode: 1)),
        ("binary 126", clientFrame(opcode: 2, payload: Array(repeating: 0xAB, count: 126))),
        ("binary 65536", clientFrame(opcode: 2, payload: (0..<65536).map { UInt8($0 & 0xFF) })),
        ("fragmented text with ping", clientFrame(fin: false, opcode: 1, payload: [0xE2, 0x82]) + clientFrame(opcode: 9, payload: [1])
            + clientFrame(opcode: 0, payload: [0xAC])),
        ("close", clientFrame(opcode: 8, payload: closePayload(1000, "done"))),
        ("reserved bits", clientFrame(rsv: 1, opcode: 1)),
        ("reserved opcode", clientFrame(opcode: 5)),
        ("long ping", clientFrame(opcode: 9, payload: Array(repeating: 0, count: 126))),
        ("unmasked", rawFrame(opcode: 2, payload: [1, 2, 3])),
        ("top bit", rawFrame(opcode: 2, mask: [9, 9, 9, 9], declaredLength: 1 << 63, lengthForm: 64)),
        ("bad continuation", clientFrame(opcode: 0, payload: [1])),
        ("bad utf8 mid-frame", clientFrame(opcode: 1, payload: Array("ab".utf8) + [0xF8] + Array("cd".utf8))),
        ("bad close code", clientFrame(opcode: 8, payload: closePayload(1004))),
        ("too big", clientFrame(opcode: 2, payload: Array(repeating: 0, count: 65537))),
        // Whole text frames take a path of their own (straight into the String): the same rules.
        ("text 300, multi-byte", clientFrame(opcode: 1, payload: Array(String(repeating: "añ€😀", count: 30).utf8))),
        ("text cut mid-character at the end", clientFrame(opcode: 1, payload: Array("ab€".utf8).dropLast())),
        ("text too big", clientFrame(opcode: 1, payload: Array(repeating: 0x61, count: 65537))),
        ("text at the limit", clientFrame(opcode: 1, payload: Array(repeating: 0x61, count: 65536))),
        ("unmasked text", rawFrame(opcode: 1, payload: Array("hi".utf8))),
        ("two texts and a ping", clientFrame(opcode: 1, payload: Array("one".utf8)) + clientFrame(opcode: 9, payload: [7])
            + clientFrame(opcode: 1, payload: Array("two €".utf8))),
        ("compressed bit on text", clientFrame(rsv: 4, opcode: 1, payload: Array("x".utf8))),
        ("surrogate in text", clientFrame(opcode: 1, payload: [0x61, 0xED, 0xA0, 0x80])),
    ]

    struct Outcome: Equatable {
        var events: [WebSocketEvent]
        var output: [UInt8]
        var state: ConnectionState
        var failure: ProtocolViolation?
    }

    func run(_ bytes: [UInt8], chunk: Int) -> Outcome {
        var engine = WebSocketEngine.open(.server, .init(maxMessageSize: 65536))
        var i = 0
        while i < bytes.count {
            engine.receive(Array(bytes[i..<min(bytes.count, i + chunk)]))
            i += chunk
        }
        return Outcome(events: engine.drainEvents(), output: Array(engine.drainOutput().readableBytesView),
                       state: engine.state, failure: engine.failure)
    }

    @Test("byte-at-a-time equals all-at-once", arguments: samples)
    func dripFeed(name: String, bytes: [UInt8]) {
        let whole = run(bytes, chunk: bytes.count)
        let drip = run(bytes, chunk: 1)
        #expect(drip == whole, "\(name)")
        let odd = run(bytes, chunk: 3)
        #expect(odd == whole, "\(name)")
    }
}
