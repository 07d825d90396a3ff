import NIOCore

/// Encodes frames for one role (RFC 6455 §5.2).
///
/// A client masks every frame with a fresh key from its generator (§5.3: "a new masking key
/// from the set of allowed 32-bit values ... MUST be unpredictable"); a server never masks.
/// Lengths are written in their minimal form.
public struct FrameEncoder: Sendable {
    /// The side that *sends* the frames.
    public let role: Role
    private var generator: any RandomNumberGenerator & Sendable

    /// - Parameters:
    ///   - role: the sending side; `.client` masks.
    ///   - generator: the source of masking keys (the system CSPRNG, buffered, in production).
    public init(role: Role, generator: any RandomNumberGenerator & Sendable = BufferedSystemRandomNumberGenerator()) {
        self.role = role
        self.generator = generator
    }

    /// Writes the header for a frame of `payloadLength` bytes into `buffer` and returns the
    /// masking key the payload must be masked with (clients) or `nil` (servers).
    public mutating func writeHeader(fin: Bool, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false,
                                     opcode: Opcode, payloadLength: Int, into buffer: inout ByteBuffer) -> MaskingKey? {
        let key: MaskingKey? = role == .client ? MaskingKey.random(using: &generator) : nil
        var first = opcode.rawValue
        if fin { first |= 0x80 }
        if rsv1 { first |= 0x40 }
        if rsv2 { first |= 0x20 }
        if rsv3 { first |= 0x10 }
        let maskBit: UInt8 = key == nil ? 0 : 0x80
        if payloadLength <= 125 {
            buffer.writeMultipleIntegers(first, maskBit | UInt8(payloadLength))
        } else if payloadLength <= 0xFFFF {
            buffer.writeMultipleIntegers(first, maskBit | 126, UInt16(payloadLength))
        } else {
            buffer.writeMultipleIntegers(first, maskBit | 127, UInt64(payloadLength))
        }
        if let key { buffer.writeMultipleIntegers(key.b0, key.b1, key.b2, key.b3) }
        return key
    }

    /// Appends a whole frame (header and payload, masked if this is a client) to `buffer`.
    public mutating func encode(_ frame: Frame, into buffer: inout ByteBuffer) {
        let n = frame.payload.readableBytes
        buffer.reserveCapacity(minimumWritableBytes: n + 14)
        let key = writeHeader(fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3, opcode: frame.opcode, payloadLength: n, into: &buffer)
        buffer.writeWebSocketBytes(frame.payload, maskingKey: key, offset: 0)
    }
}
