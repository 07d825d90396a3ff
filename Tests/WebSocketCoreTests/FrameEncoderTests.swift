import NIOCore
import Testing
@testable import WebSocketCore

/// RFC 6455 §5.2, §5.3 and §5.7, encoded.
@Suite("FrameEncoder: RFC 6455 §5.2, §5.3, §5.7")
struct FrameEncoderTests {
    func encode(_ frame: Frame, role: Role, generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) -> [UInt8] {
        var encoder = FrameEncoder(role: role, generator: generator)
        var out = ByteBuffer()
        encoder.encode(frame, into: &out)
        return Array(out.readableBytesView)
    }

    @Test("§5.7 examples byte for byte, server side (unmasked)")
    func serverExamples() {
        #expect(encode(Frame(opcode: .text, payload: buffer("Hello")), role: .server) == [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
        #expect(encode(Frame(fin: false, opcode: .text, payload: buffer("Hel")), role: .server) == [0x01, 0x03, 0x48, 0x65, 0x6c])
        #expect(encode(Frame(opcode: .continuation, payload: buffer("lo")), role: .server) == [0x80, 0x02, 0x6c, 0x6f])
        #expect(encode(Frame(opcode: .ping, payload: buffer("Hello")), role: .server) == [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
        let p256 = [UInt8](repeating: 7, count: 256)
        #expect(encode(Frame(opcode: .binary, payload: buffer(p256)), role: .server) == [0x82, 0x7E, 0x01, 0x00] + p256)
        let p64k = [UInt8](repeating: 9, count: 65536)
        #expect(encode(Frame(opcode: .binary, payload: buffer(p64k)), role: .server)
            == [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + p64k)
    }

    @Test("§5.7 masked examples byte for byte with the RFC's key 37 fa 21 3d")
    func clientExamples() {
        let key = FixedGenerator(value: 0x3d21_fa37)
        #expect(encode(Frame(opcode: .text, payload: buffer("Hello")), role: .client, generator: key)
            == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        #expect(encode(Frame(opcode: .pong, payload: buffer("Hello")), role: .client, generator: key)
            == [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    @Test("§5.3 a client uses a fresh key per frame")
    func freshKeys() {
        var encoder = FrameEncoder(role: .client, generator: SeededGenerator(seed: 42))
        var keys = Set<MaskingKey>()
        for _ in 0..<64 {
            var out = ByteBuffer()
            if let key = encoder.writeHeader(fin: true, opcode: .text, payloadLength: 1, into: &out) { keys.insert(key) }
        }
        #expect(keys.count == 64)
    }

    @Test("§5.2 lengths use the minimal form at each boundary", arguments: [0, 125, 126, 65535, 65536])
    func minimalLength(length: Int) {
        var encoder = FrameEncoder(role: .server)
        var out = ByteBuffer()
        _ = encoder.writeHeader(fin: true, opcode: .binary, payloadLength: length, into: &out)
        let expected = length <= 125 ? 2 : (length <= 65535 ? 4 : 10)
        #expect(out.readableBytes == expected)
        #expect(FrameHeader(opcode: .binary, payloadLength: length).encodedSize == expected)
    }
}

@Suite("MaskingKey: RFC 6455 §5.3")
struct MaskingKeyTests {
    func naive(_ data: [UInt8], _ key: [UInt8], offset: Int) -> [UInt8] {
        data.enumerated().map { $0.element ^ key[($0.offset + offset) % 4] }
    }

    @Test("word-at-a-time masking equals byte-at-a-time for every length and offset")
    func matchesNaive() {
        var rng = SeededGenerator(seed: 7)
        let keyBytes: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]
        let key = MaskingKey(keyBytes)
        for length in [0, 1, 3, 7, 8, 9, 31, 32, 33, 64, 100, 1000] {
            for offset in 0..<4 {
                let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                var buf = ByteBuffer(bytes: data)
                buf.webSocketMask(key, offset: offset)
                #expect(Array(buf.readableBytesView) == naive(data, keyBytes, offset: offset), "length \(length) offset \(offset)")
                var copy = [UInt8](repeating: 0, count: length)
                data.withUnsafeBytes { src in copy.withUnsafeMutableBytes { key.copy(from: src, to: $0, offset: offset) } }
                #expect(copy == naive(data, keyBytes, offset: offset))
            }
        }
    }

    @Test("masking in pieces with running offsets equals masking at once")
    func piecewise() {
        let key = MaskingKey(1, 2, 3, 4)
        let data = (0..<257).map { UInt8($0 & 0xFF) }
        var whole = ByteBuffer(bytes: data)
        whole.webSocketMask(key)
        var pieces: [UInt8] = []
        var offset = 0
        for size in [5, 1, 30, 100, 121] {
            var part = ByteBuffer(bytes: data[offset..<offset + size])
            part.webSocketMask(key, offset: offset)
            pieces += part.readableBytesView
            offset += size
        }
        #expect(pieces == Array(whole.readableBytesView))
    }
}

@Suite("BufferedSystemRandomNumberGenerator")
struct BufferedRandomTests {
    @Test("values are random across refills: 1,000 draws, no repeats, every bit set somewhere and clear somewhere")
    func randomAcrossRefills() {
        var generator = BufferedSystemRandomNumberGenerator()
        let values = (0..<1000).map { _ in generator.next() }
        #expect(Set(values).count == 1000)
        #expect(values.reduce(0, |) == .max)
        #expect(values.reduce(.max, &) == 0)
    }

    @Test("the default client encoder uses a fresh key per frame")
    func freshKeys() throws {
        var encoder = FrameEncoder(role: .client)
        var keys = Set<MaskingKey>()
        for _ in 0..<200 {
            var out = ByteBuffer()
            let key = encoder.writeHeader(fin: true, opcode: .text, payloadLength: 0, into: &out)
            keys.insert(try #require(key))
        }
        #expect(keys.count >= 199, "200 random 32-bit keys")
    }
}
