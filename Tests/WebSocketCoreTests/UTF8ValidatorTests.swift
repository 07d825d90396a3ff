import Testing
@testable import WebSocketCore

/// RFC 6455 §8.1 requires text to be valid UTF-8 (RFC 3629).
@Suite("UTF8Validator: RFC 6455 §8.1")
struct UTF8ValidatorTests {
    func validate(_ bytes: [UInt8], chunk: Int = Int.max) -> (ok: Bool, complete: Bool) {
        var v = UTF8Validator()
        var i = 0
        repeat {
            let end = min(bytes.count, i + max(1, chunk))
            if !v.validate(bytes[i..<end]) { return (false, false) }
            i = end
        } while i < bytes.count
        return (true, v.isComplete)
    }

    @Test("valid text, including every scalar width, in any chunking")
    func valid() {
        let text = "κόσμε ascii 日本語 🎉 \u{10FFFF} \u{E000} \u{0080} \u{07FF} \u{0800} \u{FFFD}"
        for chunk in [1, 2, 3, 5, 8, 33, Int.max] {
            let r = validate(Array(text.utf8), chunk: chunk)
            #expect(r.ok && r.complete, "chunk \(chunk)")
        }
    }

    @Test("invalid sequences are rejected", arguments: [
        [0x80] as [UInt8],                  // stray continuation
        [0xC0, 0x80],                       // overlong NUL
        [0xC1, 0xBF],                       // overlong
        [0xE0, 0x80, 0x80],                 // overlong 3-byte
        [0xED, 0xA0, 0x80],                 // surrogate U+D800
        [0xED, 0xBF, 0xBF],                 // surrogate U+DFFF
        [0xF0, 0x80, 0x80, 0x80],           // overlong 4-byte
        [0xF4, 0x90, 0x80, 0x80],           // over U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],           // invalid lead
        [0xFF],
        [0xC2, 0x41],                       // missing continuation
    ])
    func invalid(bytes: [UInt8]) {
        for chunk in [1, Int.max] { #expect(validate(bytes, chunk: chunk).ok == false) }
    }

    @Test("truncated sequences are a valid prefix but not complete")
    func truncated() {
        for bytes: [UInt8] in [[0xC2], [0xE2, 0x82], [0xF0, 0x9F, 0x8E]] {
            let r = validate(bytes)
            #expect(r.ok && !r.complete)
        }
    }

    @Test("fails at the first byte that cannot continue a valid prefix (Autobahn 6.3.1 payload)")
    func failsFast() {
        // "κόσμε" then ED A0 80 (a surrogate) then "edited": invalid from byte index 12.
        let bytes: [UInt8] = [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64]
        var v = UTF8Validator()
        let prefixOK = v.validate(bytes[0..<12])
        #expect(prefixOK)
        let surrogateOK = v.validate(bytes[12..<13])
        #expect(!surrogateOK)
        #expect(v.hasFailed)
        let afterOK = v.validate([0x41] as [UInt8])
        #expect(!afterOK, "failure is sticky")
    }

    @Test("agrees with the standard library on random near-UTF-8 input, split anywhere")
    func agreesWithStdlib() {
        var rng = SeededGenerator(seed: 99)
        let pieces: [[UInt8]] = [[0x41], [0x7F], [0xC2, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80],
                                 [0x80], [0xBF], [0xC0], [0xED, 0xA0], [0xF4, 0x90], [0xFF], [0xE0, 0xA0, 0x80]]
        for _ in 0..<2000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &rng) { bytes += pieces.randomElement(using: &rng)! }
            if Bool.random(using: &rng) { bytes += [UInt8](repeating: 0x61, count: Int.random(in: 0...40, using: &rng)) }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            let r = validate(bytes, chunk: Int.random(in: 1...9, using: &rng))
            #expect((r.ok && r.complete) == expected, "\(bytes)")
        }
    }
}
