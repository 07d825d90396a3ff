import NIOCore

/// The decoded payload of a close frame: a status code and a UTF-8 reason (RFC 6455 §5.5.1).
public struct CloseFrame: Hashable, Sendable, CustomStringConvertible {
    /// The status code; ``CloseCode/noStatusReceived`` (1005) when the frame had an empty payload.
    public var code: CloseCode
    /// The reason text, possibly empty. At most 123 bytes of UTF-8 on the wire.
    public var reason: String

    /// A close frame's content: a code and a UTF-8 reason (at most 123 bytes on the wire).
    public init(code: CloseCode, reason: String = "") {
        self.code = code
        self.reason = reason
    }

    /// The largest reason that fits in a control frame: 125 bytes minus the 2-byte code.
    public static let maxReasonBytes = 123

    /// Parses a received close payload.
    ///
    /// - Throws: ``ProtocolViolation/closePayloadTooShort`` for a 1-byte payload,
    ///   ``ProtocolViolation/invalidCloseCode(_:)`` for a code that may not appear on the wire,
    ///   ``ProtocolViolation/invalidUTF8`` for a reason that is not UTF-8.
    public init(parsing payload: ByteBuffer) throws(ProtocolViolation) {
        var payload = payload
        switch payload.readableBytes {
        case 0:
            self.init(code: .noStatusReceived)
        case 1:
            throw .closePayloadTooShort
        default:
            let raw = payload.readInteger(as: UInt16.self)!
            let code = CloseCode(raw)
            guard code.isValidOnWire else { throw .invalidCloseCode(raw) }
            let reason = payload.readableBytesView.withContiguousStorageIfAvailable {
                String(validating: $0, as: UTF8.self)
            } ?? String(validating: Array(payload.readableBytesView), as: UTF8.self)
            guard let reason else { throw .invalidUTF8 }
            self.init(code: code, reason: reason)
        }
    }

    /// The wire payload: the code in network byte order followed by the reason, truncated on a
    /// scalar boundary to ``maxReasonBytes``. 1005 serialises as an empty payload.
    public func serialized(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        if code == .noStatusReceived { return allocator.buffer(capacity: 0) }
        var buffer = allocator.buffer(capacity: 2 + min(reason.utf8.count, Self.maxReasonBytes))
        buffer.writeInteger(code.rawValue)
        buffer.writeSubstring(Self.truncated(reason))
        return buffer
    }

    /// `reason` cut to at most ``maxReasonBytes`` UTF-8 bytes without splitting a scalar.
    static func truncated(_ reason: String) -> Substring {
        if reason.utf8.count <= maxReasonBytes { return reason[...] }
        var end = reason.utf8.index(reason.utf8.startIndex, offsetBy: maxReasonBytes)
        while end > reason.startIndex, end.samePosition(in: reason.unicodeScalars) == nil {
            end = reason.utf8.index(before: end)
        }
        return reason[..<end]
    }

    public var description: String {
        reason.isEmpty ? code.description : "\(code) \(reason)"
    }
}
