import NIOCore
import Testing
import WebSocketTestSupport
@testable import WebSocketCore

/// RFC 6455 §5.2 (base framing) and §5.7 (examples), parsed.
@Suite("FrameParser: RFC 6455 §5.2, §5.7")
struct FrameParserTests {
    func parseAll(_ bytes: [UInt8], role: Role, maxFrameSize: Int = 1 << 20) throws -> [Frame] {
        var parser = FrameParser(role: role, maxFrameSize: maxFrameSize)
        var input = ByteBuffer(bytes: bytes)
        var frames: [Frame] = []
        while let f = try parser.nextFrame(&input) { frames.append(f) }
        #expect(input.readableBytes == 0)
        return frames
    }

    @Test("§5.7 a single-frame unmasked text message")
    func unmaskedText() throws {
        let frames = try parseAll([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], role: .client)
        #expect(frames == [Frame(opcode: .text, payload: buffer("Hello"))])
    }

    @Test("§5.7 a single-frame masked text message")
    func maskedText() throws {
        let frames = try parseAll([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], role: .server)
        #expect(frames == [Frame(opcode: .text, payload: buffer("Hello"))])
    }

    @Test("§5.7 a fragmented unmasked text message")
    func fragmented() throws {
        let frames = try parseAll([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f], role: .client)
        #expect(frames == [Frame(fin: false, opcode: .text, payload: buffer("Hel")),
                           Frame(fin: true, opcode: .continuation, payload: buffer("lo"))])
    }

    @Test("§5.7 unmasked ping and masked pong")
    func pingPong() throws {
        #expect(try parseAll([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], role: .client)
            == [Frame(opcode: .ping, payload: buffer("Hello"))])
        #expect(try parseAll([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], role: .server)
            == [Frame(opcode: .pong, payload: buffer("Hello"))])
    }

    @Test("§5.7 256 bytes binary (16-bit length) and 64 KiB binary (64-bit length)")
    func extendedLengths() throws {
        let p256 = (0..<256).map { UInt8($0 & 0xFF) }
        #expect(try parseAll([0x82, 0x7E, 0x01, 0x00] + p256, role: .client) == [Frame(opcode: .binary, payload: buffer(p256))])
        let p64k = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let header: [UInt8] = [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]
        #expect(try parseAll(header + p64k, role: .client) == [Frame(opcode: .binary, payload: buffer(p64k))])
    }

    @Test("header is returned before the payload arrives")
    func headerFirst() throws {
        let parser = FrameParser(role: .client)
        var input = ByteBuffer(bytes: [0x82, 0x7E, 0x01, 0x00])
        let header = try parser.parseHeader(&input)
        #expect(header == FrameHeader(opcode: .binary, payloadLength: 256))
        #expect(input.readableBytes == 0)
    }

    @Test("a partial header consumes nothing")
    func partialHeader() throws {
        let parser = FrameParser(role: .server)
        let full = rawFrame(opcode: 2, mask: [1, 2, 3, 4], payload: [], declaredLength: 70000)
        for cut in 0..<full.count {
            var input = ByteBuffer(bytes: full[..<cut])
            #expect(try parser.parseHeader(&input) == nil)
            #expect(input.readableBytes == cut)
        }
    }

    @Test("§5.2 every violation a header can carry is rejected", arguments: [
        (rawFrame(rsv: 0b100, opcode: 1, mask: [1, 2, 3, 4]), ProtocolViolation.reservedBitsSet(bits: 0x40)),
        (rawFrame(rsv: 0b010, opcode: 1, mask: [1, 2, 3, 4]), .reservedBitsSet(bits: 0x20)),
        (rawFrame(rsv: 0b001, opcode: 1, mask: [1, 2, 3, 4]), .reservedBitsSet(bits: 0x10)),
        (rawFrame(opcode: 3, mask: [1, 2, 3, 4]), .reservedOpcode(3)),
        (rawFrame(opcode: 0xB, mask: [1, 2, 3, 4]), .reservedOpcode(0xB)),
        (rawFrame(opcode: 9, mask: [1, 2, 3, 4], payload: Array(repeating: 0, count: 126)), .controlFrameTooLong(length: 126)),
        (rawFrame(fin: false, opcode: 9, mask: [1, 2, 3, 4]), .fragmentedControlFrame),
        (rawFrame(opcode: 1, payload: [0x41]), .unmaskedFrameFromClient),
        (rawFrame(opcode: 2, mask: [1, 2, 3, 4], declaredLength: 1 << 63, lengthForm: 64), .lengthTopBitSet),
        (rawFrame(opcode: 2, mask: [1, 2, 3, 4], declaredLength: 2000), .frameTooBig(limit: 1000)),
    ])
    func serverSideViolations(bytes: [UInt8], expected: ProtocolViolation) {
        let parser = FrameParser(role: .server, maxFrameSize: 1000)
        var input = ByteBuffer(bytes: bytes)
        #expect(throws: expected) { _ = try parser.parseHeader(&input) }
    }

    @Test("§5.1 a client rejects a masked frame")
    func maskedFromServer() {
        let parser = FrameParser(role: .client)
        var input = ByteBuffer(bytes: rawFrame(opcode: 1, mask: [1, 2, 3, 4], payload: [0x41]))
        #expect(throws: ProtocolViolation.maskedFrameFromServer) { _ = try parser.parseHeader(&input) }
    }

    @Test("RSV1 is accepted once an extension allows it")
    func allowedReservedBit() throws {
        let parser = FrameParser(role: .server, allowedReservedBits: 0x40)
        var input = ByteBuffer(bytes: rawFrame(rsv: 0b100, opcode: 1, mask: [1, 2, 3, 4]))
        #expect(try parser.parseHeader(&input)?.rsv1 == true)
        var rsv2 = ByteBuffer(bytes: rawFrame(rsv: 0b010, opcode: 1, mask: [1, 2, 3, 4]))
        #expect(throws: ProtocolViolation.reservedBitsSet(bits: 0x20)) { _ = try parser.parseHeader(&rsv2) }
    }

    @Test("non-minimal length encodings are accepted (the minimal-length MUST binds senders)")
    func nonMinimalLength() throws {
        let frames = try parseAll(rawFrame(opcode: 2, payload: [1, 2, 3], lengthForm: 64), role: .client)
        #expect(frames == [Frame(opcode: .binary, payload: buffer([1, 2, 3]))])
    }
}
