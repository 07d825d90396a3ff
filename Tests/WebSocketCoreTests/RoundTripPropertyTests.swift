import NIOCore
import Testing
@testable import WebSocketCore

/// Property: any sequence of messages, randomly fragmented on send and randomly split on the
/// wire, arrives intact and in order — in both directions, with pings interleaved.
@Suite("Round trip: encoder → wire → parser (RFC 6455 §5.4)")
struct RoundTripPropertyTests {
    static func randomMessage(using rng: inout SeededGenerator) -> Message {
        let sizes = [0, 1, 2, 125, 126, 127, 65535, 65536, 70000]
        let size = Bool.random(using: &rng) ? sizes.randomElement(using: &rng)! : Int.random(in: 0...300, using: &rng)
        if Bool.random(using: &rng) {
            let alphabet: [Character] = ["a", "Z", " ", "é", "日", "🎉", "\u{0}", "\n", "\u{10FFFF}"]
            var s = ""
            while s.utf8.count < size { s.append(alphabet.randomElement(using: &rng)!) }
            return .text(s)
        }
        return .binary(ByteBuffer(bytes: (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }))
    }

    /// Sends `message` through `engine`, fragmented at random points.
    static func send(_ message: Message, from engine: inout WebSocketEngine, using rng: inout SeededGenerator) throws {
        var bytes: ByteBuffer
        let isText: Bool
        switch message {
        case .text(let s): bytes = ByteBuffer(string: s); isText = true
        case .binary(let b): bytes = b; isText = false
        }
        let fragments = Int.random(in: 1...4, using: &rng)
        if fragments == 1 {
            switch message {
            case .text(let s): try engine.sendText(s)
            case .binary(let b): try engine.sendBinary(b)
            }
            return
        }
        var first = true
        for i in 0..<fragments {
            let last = i == fragments - 1
            let n = last ? bytes.readableBytes : Int.random(in: 0...bytes.readableBytes, using: &rng)
            let part = bytes.readSlice(length: n)!
            if first {
                if isText {
                    // Fragment text at the byte level: a scalar may straddle frames.
                    try engine.sendBinaryAsText(part, fin: last)
                } else {
                    try engine.sendBinary(part, fin: last)
                }
                first = false
            } else {
                try engine.sendContinuation(part, fin: last)
            }
            if !last && Int.random(in: 0...3, using: &rng) == 0 { try engine.sendPing(ByteBuffer(integer: rng.next() as UInt64)) }
        }
    }

    @Test("random messages survive random fragmentation and random wire splits", arguments: [Role.client, Role.server])
    func roundTrip(sender: Role) throws {
        var rng = SeededGenerator(seed: sender == .client ? 2024 : 6455)
        for iteration in 0..<60 {
            var tx = WebSocketEngine.open(sender, .init(maxMessageSize: 1 << 20), seed: UInt64(iteration))
            var rx = WebSocketEngine.open(sender == .client ? .server : .client, .init(maxMessageSize: 1 << 20))
            let messages = (0..<Int.random(in: 1...6, using: &rng)).map { _ in Self.randomMessage(using: &rng) }
            for m in messages { try Self.send(m, from: &tx, using: &rng) }
            var wire = tx.drainOutput()
            while wire.readableBytes > 0 {
                let n = min(wire.readableBytes, Int.random(in: 1...(Bool.random(using: &rng) ? 7 : 5000), using: &rng))
                rx.receive(wire.readSlice(length: n)!)
            }
            let received = rx.drainEvents().compactMap { event -> Message? in
                if case .message(let m) = event { return m }
                return nil
            }
            #expect(received == messages, "iteration \(iteration)")
            #expect(rx.state == .open && rx.failure == nil)
            #expect(rx.statistics.messagesIn == messages.count)
            #expect(rx.statistics.wireBytesIn == tx.statistics.wireBytesOut)
        }
    }

    @Test("streaming mode delivers fragments that concatenate to the message")
    func streaming() throws {
        var tx = WebSocketEngine.open(.client)
        var rx = WebSocketEngine.open(.server, .init(deliverFragments: true))
        try tx.sendText("Hel", fin: false)
        try tx.sendContinuation(ByteBuffer(string: "lo"), fin: false)
        try tx.sendContinuation(ByteBuffer(string: "!"), fin: true)
        rx.receive(tx.drainOutput())
        let fragments = rx.drainEvents().compactMap { e -> MessageFragment? in
            if case .fragment(let f) = e { return f }
            return nil
        }
        #expect(fragments.map { String(buffer: $0.payload) } == ["Hel", "lo", "!"])
        #expect(fragments.map(\.isFirst) == [true, false, false])
        #expect(fragments.map(\.isFinal) == [false, false, true])
        #expect(fragments.allSatisfy { $0.kind == .text })
    }

    @Test("local fragment sequencing errors throw")
    func sendSequencing() throws {
        var engine = WebSocketEngine.open(.server)
        #expect(throws: EngineError.invalidFragmentSequence) { try engine.sendContinuation(ByteBuffer(), fin: true) }
        try engine.sendText("a", fin: false)
        #expect(throws: EngineError.invalidFragmentSequence) { try engine.sendBinary(ByteBuffer()) }
        try engine.sendContinuation(ByteBuffer(), fin: true)
        try engine.sendText("b")
    }
}

extension WebSocketEngine {
    /// Test helper: starts a text message from raw bytes (possibly cutting a scalar).
    mutating func sendBinaryAsText(_ bytes: ByteBuffer, fin: Bool) throws {
        try sendText(String(decoding: [], as: UTF8.self), fin: false)
        try sendContinuation(bytes, fin: fin)
    }
}
