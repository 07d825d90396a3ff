import NIOCore

/// The fixed part of a frame (RFC 6455 §5.2): everything but the payload bytes.
public struct FrameHeader: Hashable, Sendable {
    /// The FIN bit: this frame ends its message.
    public var fin: Bool
    /// RSV1: set on the first frame of a compressed message (permessage-deflate).
    public var rsv1: Bool
    /// RSV2: no extension defines it; must be clear.
    public var rsv2: Bool
    /// RSV3: no extension defines it; must be clear.
    public var rsv3: Bool
    /// The frame type.
    public var opcode: Opcode
    /// The masking key, present on every client-to-server frame.
    public var maskingKey: MaskingKey?
    /// The payload length in bytes.
    public var payloadLength: Int

    /// Creates a value; each parameter sets the property of the same name.
    public init(fin: Bool = true, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false,
                opcode: Opcode, maskingKey: MaskingKey? = nil, payloadLength: Int) {
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.opcode = opcode
        self.maskingKey = maskingKey
        self.payloadLength = payloadLength
    }

    /// The size of this header on the wire: 2 bytes, plus 2 or 8 for extended lengths, plus 4
    /// for a masking key. Lengths are encoded in the minimal form (§5.2).
    public var encodedSize: Int {
        let lengthBytes = payloadLength <= 125 ? 0 : (payloadLength <= 0xFFFF ? 2 : 8)
        return 2 + lengthBytes + (maskingKey == nil ? 0 : 4)
    }
}

/// A complete frame with its payload **unmasked**.
public struct Frame: Hashable, Sendable, CustomStringConvertible {
    /// The FIN bit: this frame ends its message.
    public var fin: Bool
    /// RSV1: set on the first frame of a compressed message (permessage-deflate).
    public var rsv1: Bool
    /// RSV2: no extension defines it; must be clear.
    public var rsv2: Bool
    /// RSV3: no extension defines it; must be clear.
    public var rsv3: Bool
    /// The frame type.
    public var opcode: Opcode
    /// The application (unmasked) payload.
    public var payload: ByteBuffer

    /// Creates a value; each parameter sets the property of the same name.
    public init(fin: Bool = true, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false,
                opcode: Opcode, payload: ByteBuffer) {
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.opcode = opcode
        self.payload = payload
    }

    /// A compact description: `TEXT [5 bytes]`, `CONT [3 bytes, continued]`.
    public var description: String {
        var flags = "\(payload.readableBytes) bytes"
        if !fin { flags += ", continued" }
        if rsv1 { flags += ", rsv1" }
        return "\(opcode) [\(flags)]"
    }
}
