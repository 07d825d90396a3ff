/// A way a peer broke RFC 6455 (or RFC 7692), detected by the sans-I/O core.
///
/// Each case maps to exactly one close code in ``closeCode``; this is the **only** place where
/// that mapping lives. The engine fails the connection with that code and a short reason
/// (``reason``) that never includes peer-supplied bytes.
public enum ProtocolViolation: Error, Hashable, Sendable, CustomStringConvertible {
    /// RSV1–3 set without an extension that defines them (§5.2). `bits` holds the RSV bits (0x70 mask).
    case reservedBitsSet(bits: UInt8)
    /// An opcode in 0x3–0x7 or 0xB–0xF (§5.2).
    case reservedOpcode(UInt8)
    /// A control frame with a payload over 125 bytes (§5.5).
    case controlFrameTooLong(length: UInt64)
    /// A control frame without FIN (§5.5: control frames MUST NOT be fragmented).
    case fragmentedControlFrame
    /// A server received an unmasked frame (§5.1).
    case unmaskedFrameFromClient
    /// A client received a masked frame (§5.1).
    case maskedFrameFromServer
    /// A 64-bit extended payload length with the most significant bit set (§5.2).
    case lengthTopBitSet
    /// A continuation frame with no message in progress (§5.4).
    case unexpectedContinuation
    /// A text or binary frame while a fragmented message is in progress (§5.4).
    case expectedContinuation
    /// A text message or close reason that is not valid UTF-8 (§5.6, §8.1).
    case invalidUTF8
    /// A close frame with a 1-byte payload (§5.5.1).
    case closePayloadTooShort
    /// A close frame with a code that may not be sent on the wire (§7.4).
    case invalidCloseCode(UInt16)
    /// A message whose payload exceeds `maxMessageSize`.
    case messageTooBig(limit: Int)
    /// A frame whose payload exceeds `maxFrameSize`.
    case frameTooBig(limit: Int)
    /// A compressed payload that could not be decompressed (RFC 7692 §6.2).
    case invalidCompressedData
    /// RSV1 set on a continuation frame (RFC 7692 §6.1) or on a control frame.
    case compressedBitMisplaced

    /// The close code sent to the peer when the connection is failed for this reason.
    ///
    /// 1002 for framing and sequencing errors, 1007 for invalid UTF-8 and undecodable
    /// compressed data, 1009 for size limits.
    public var closeCode: CloseCode {
        switch self {
        case .reservedBitsSet, .reservedOpcode, .controlFrameTooLong, .fragmentedControlFrame,
            .unmaskedFrameFromClient, .maskedFrameFromServer, .lengthTopBitSet,
            .unexpectedContinuation, .expectedContinuation, .closePayloadTooShort,
            .invalidCloseCode, .compressedBitMisplaced:
            .protocolError
        case .invalidUTF8, .invalidCompressedData:
            .invalidFramePayloadData
        case .messageTooBig, .frameTooBig:
            .messageTooBig
        }
    }

    /// The reason sent in the close frame: fixed text, never peer bytes, always < 124 bytes.
    public var reason: String {
        switch self {
        case .reservedBitsSet: "reserved bits must be 0"
        case .reservedOpcode(let op): "invalid opcode \(op)"
        case .controlFrameTooLong: "control frame too long"
        case .fragmentedControlFrame: "fragmented control frame"
        case .unmaskedFrameFromClient: "incorrect masking"
        case .maskedFrameFromServer: "incorrect masking"
        case .lengthTopBitSet: "invalid payload length"
        case .unexpectedContinuation: "unexpected continuation frame"
        case .expectedContinuation: "expected a continuation frame"
        case .invalidUTF8: "invalid UTF-8"
        case .closePayloadTooShort: "close frame too short"
        case .invalidCloseCode(let code): "invalid status code \(code)"
        case .messageTooBig(let limit): "message over \(limit) bytes"
        case .frameTooBig(let limit): "frame over \(limit) bytes"
        case .invalidCompressedData: "invalid compressed data"
        case .compressedBitMisplaced: "RSV1 set on a continuation or control frame"
        }
    }

    /// A stable snake_case identifier for logs and metrics.
    public var name: String {
        switch self {
        case .reservedBitsSet: "reserved_bits_set"
        case .reservedOpcode: "reserved_opcode"
        case .controlFrameTooLong: "control_frame_too_long"
        case .fragmentedControlFrame: "fragmented_control_frame"
        case .unmaskedFrameFromClient: "unmasked_frame_from_client"
        case .maskedFrameFromServer: "masked_frame_from_server"
        case .lengthTopBitSet: "length_top_bit_set"
        case .unexpectedContinuation: "unexpected_continuation"
        case .expectedContinuation: "expected_continuation"
        case .invalidUTF8: "invalid_utf8"
        case .closePayloadTooShort: "close_payload_too_short"
        case .invalidCloseCode: "invalid_close_code"
        case .messageTooBig: "message_too_big"
        case .frameTooBig: "frame_too_big"
        case .invalidCompressedData: "invalid_compressed_data"
        case .compressedBitMisplaced: "compressed_bit_misplaced"
        }
    }

    public var description: String { "\(name): \(reason) → \(closeCode)" }
}
