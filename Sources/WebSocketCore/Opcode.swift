/// A WebSocket frame opcode (RFC 6455 §5.2).
///
/// Only the six defined opcodes can be represented: reserved opcodes (0x3–0x7, 0xB–0xF)
/// are rejected by ``FrameParser`` with ``ProtocolViolation/reservedOpcode(_:)``.
public enum Opcode: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// A continuation frame of a fragmented message. Corresponds to 0x0.
    case continuation = 0x0
    /// The first frame of a text message. Corresponds to 0x1.
    case text = 0x1
    /// The first frame of a binary message. Corresponds to 0x2.
    case binary = 0x2
    /// A close frame. Corresponds to 0x8.
    case close = 0x8
    /// A ping frame. Corresponds to 0x9.
    case ping = 0x9
    /// A pong frame. Corresponds to 0xA.
    case pong = 0xA

    /// Control frames (close, ping, pong) have the high bit of the opcode set (§5.5).
    @inlinable
    public var isControl: Bool { rawValue & 0x8 != 0 }

    /// The upper-case name used in log lines (`TEXT`, `BINARY`, `CONT`, `CLOSE`, `PING`, `PONG`).
    public var description: String {
        switch self {
        case .continuation: "CONT"
        case .text: "TEXT"
        case .binary: "BINARY"
        case .close: "CLOSE"
        case .ping: "PING"
        case .pong: "PONG"
        }
    }
}
