import NIOCore

/// An incremental frame parser for one role (RFC 6455 §5.2).
///
/// Input may be split at any byte boundary. The parser enforces every rule that can be
/// checked from a single frame header: reserved bits, reserved opcodes, control-frame length
/// and fragmentation, masking direction, the 64-bit length's top bit and `maxFrameSize`. Rules
/// that need message context (continuation sequencing, message size, UTF-8) belong to
/// ``WebSocketEngine``.
///
/// Two levels of API: ``parseHeader(_:)`` returns a header as soon as it is complete, before
/// any payload is buffered (the engine uses it to check limits first and to stream payloads),
/// and ``nextFrame(_:)`` returns whole unmasked frames (tests, fuzzing, simple consumers).
public struct FrameParser: Sendable {
    /// The side that *receives* the frames: a server expects masked frames, a client unmasked.
    public let role: Role
    /// The largest accepted payload of a single frame.
    public var maxFrameSize: Int
    /// RSV bits (as a `0x70` mask over the first byte) that a negotiated extension defines.
    public var allowedReservedBits: UInt8

    private var pending: (header: FrameHeader, payload: ByteBuffer)?

    /// A parser for frames arriving at `role`: servers require masked frames, clients unmasked ones. Frames over `maxFrameSize` and reserved bits outside `allowedReservedBits` are violations.
    public init(role: Role, maxFrameSize: Int = 1 << 20, allowedReservedBits: UInt8 = 0) {
        precondition(maxFrameSize >= 125, "maxFrameSize must allow control frames (125 bytes)")
        self.role = role
        self.maxFrameSize = maxFrameSize
        self.allowedReservedBits = allowedReservedBits
    }

    /// Reads one frame header from `buffer` if it is complete, consuming it; otherwise
    /// consumes nothing and returns `nil`.
    ///
    /// - Throws: the ``ProtocolViolation`` of the first rule the header breaks.
    public func parseHeader(_ buffer: inout ByteBuffer) throws(ProtocolViolation) -> FrameHeader? {
        let start = buffer.readerIndex
        guard buffer.readableBytes >= 2,
              let first = buffer.getInteger(at: start, as: UInt8.self),
              let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }

        // §5.2: "MUST be 0 unless an extension is negotiated that defines meanings for non-zero values"
        let rsv = first & 0x70
        if rsv & ~allowedReservedBits != 0 { throw .reservedBitsSet(bits: rsv & ~allowedReservedBits) }
        // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
        guard let opcode = Opcode(rawValue: first & 0x0F) else { throw .reservedOpcode(first & 0x0F) }
        let fin = first & 0x80 != 0
        // §5.5: "Control frames themselves MUST NOT be fragmented."
        if opcode.isControl && !fin { throw .fragmentedControlFrame }
        // §5.1: a server MUST close on an unmasked frame; a client MUST close on a masked frame.
        let masked = second & 0x80 != 0
        switch role {
        case .server where !masked: throw .unmaskedFrameFromClient
        case .client where masked: throw .maskedFrameFromServer
        default: break
        }

        var length = UInt64(second & 0x7F)
        var cursor = start + 2
        if length == 126 {
            guard let l = buffer.getInteger(at: cursor, as: UInt16.self) else { return nil }
            length = UInt64(l)
            cursor += 2
        } else if length == 127 {
            guard let l = buffer.getInteger(at: cursor, as: UInt64.self) else { return nil }
            // §5.2: "the most significant bit MUST be 0"
            if l & (1 << 63) != 0 { throw .lengthTopBitSet }
            length = l
            cursor += 8
        }
        // §5.5: "All control frames MUST have a payload length of 125 bytes or less"
        if opcode.isControl && length > 125 { throw .controlFrameTooLong(length: length) }
        if length > UInt64(maxFrameSize) { throw .frameTooBig(limit: maxFrameSize) }

        var key: MaskingKey?
        if masked {
            // One integer read: `getBytes` would allocate an array per frame.
            guard let k = buffer.getInteger(at: cursor, endianness: .big, as: UInt32.self) else { return nil }
            key = MaskingKey(UInt8(truncatingIfNeeded: k >> 24), UInt8(truncatingIfNeeded: k >> 16),
                             UInt8(truncatingIfNeeded: k >> 8), UInt8(truncatingIfNeeded: k))
            cursor += 4
        }
        buffer.moveReaderIndex(to: cursor)
        return FrameHeader(fin: fin, rsv1: first & 0x40 != 0, rsv2: first & 0x20 != 0, rsv3: first & 0x10 != 0,
                           opcode: opcode, maskingKey: key, payloadLength: Int(length))
    }

    /// Returns the next complete frame, unmasked, or `nil` when more bytes are needed.
    /// Partial payloads are kept between calls.
    mutating func nextFrame(_ buffer: inout ByteBuffer) throws(ProtocolViolation) -> Frame? {
        if pending == nil {
            guard let header = try parseHeader(&buffer) else { return nil }
            pending = (header, ByteBuffer())
            pending!.payload.reserveCapacity(header.payloadLength)
        }
        let header = pending!.header
        let have = pending!.payload.readableBytes
        let take = min(header.payloadLength - have, buffer.readableBytes)
        if take > 0 {
            let chunk = buffer.readSlice(length: take)!
            pending!.payload.writeWebSocketBytes(chunk, maskingKey: header.maskingKey, offset: have)
        }
        guard pending!.payload.readableBytes == header.payloadLength else { return nil }
        let (h, payload) = pending!
        pending = nil
        return Frame(fin: h.fin, rsv1: h.rsv1, rsv2: h.rsv2, rsv3: h.rsv3, opcode: h.opcode, payload: payload)
    }
}

extension ByteBuffer {
    /// Appends `chunk`, unmasking it with `key` (if any) as payload bytes starting at `offset`.
    @inlinable
    mutating func writeWebSocketBytes(_ chunk: ByteBuffer, maskingKey key: MaskingKey?, offset: Int) {
        guard let key else {
            var chunk = chunk
            writeBuffer(&chunk)
            return
        }
        let n = chunk.readableBytes
        writeWithUnsafeMutableBytes(minimumWritableBytes: n) { dst in
            chunk.withUnsafeReadableBytes { src in key.copy(from: src, to: dst, offset: offset) }
            return n
        }
    }
}
