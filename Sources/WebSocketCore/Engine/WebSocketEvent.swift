import NIOCore

/// A complete message.
public enum Message: Hashable, Sendable, CustomStringConvertible {
    case text(String)
    case binary(ByteBuffer)

    /// The payload's length in bytes (UTF-8 bytes for text).
    public var payloadSize: Int {
        switch self {
        case .text(let s): s.utf8.count
        case .binary(let b): b.readableBytes
        }
    }

    public var description: String {
        switch self {
        case .text(let s): "text(\(s.utf8.count) bytes)"
        case .binary(let b): "binary(\(b.readableBytes) bytes)"
        }
    }
}

/// One frame of a message, delivered in streaming mode (``EngineConfiguration/deliverFragments``).
public struct MessageFragment: Hashable, Sendable {
    /// `.text` or `.binary`: the type of the whole message, repeated on every fragment.
    public var kind: Opcode
    /// The fragment's bytes. For text, UTF-8 validated, but a scalar may straddle fragments.
    public var payload: ByteBuffer
    /// Whether this is the message's first fragment.
    public var isFirst: Bool
    /// Whether this is the message's last fragment.
    public var isFinal: Bool
}

/// Identifies a ping sent with ``WebSocketEngine/sendPing(_:)``; pongs acknowledge in order.
public struct PingID: Hashable, Comparable, Sendable {
    /// The ping's sequence number on this connection.
    public let rawValue: UInt64
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// What the engine tells the application layer.
public enum WebSocketEvent: Hashable, Sendable {
    /// A complete text or binary message.
    case message(Message)
    /// A fragment, in streaming mode only.
    case fragment(MessageFragment)
    /// The peer pinged; the engine already queued the pong (when the connection is open).
    case ping(ByteBuffer)
    /// A pong arrived. `acknowledged` is the newest ping it answers (RFC 6455 §5.5.3: a pong
    /// answers the most recent ping; earlier ones are acknowledged with it), or `nil` for an
    /// unsolicited pong.
    case pong(ByteBuffer, acknowledged: PingID?)
    /// The peer sent a close frame.
    case closeReceived(CloseFrame)
}

extension WebSocketEvent {
    /// Whether this is a message or a fragment of one (what the application answers).
    var isData: Bool {
        switch self {
        case .message, .fragment: true
        case .ping, .pong, .closeReceived: false
        }
    }
}

/// What ``EngineConfiguration/deferClose`` holds back while the application finishes with the
/// messages that arrived before it.
public enum HeldClose: Hashable, Sendable {
    /// A protocol violation found in received data: the connection fails when released.
    case violation(ProtocolViolation)
    /// The reply to the peer's close frame: sent when released.
    case reply(CloseFrame)
}

/// Local misuse of the engine: raised to the caller, never sent to the peer.
public enum EngineError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Data or pings can only be sent while the connection is open.
    case notOpen(ConnectionState)
    /// A continuation without a message in progress, or a new message inside a fragmented one.
    case invalidFragmentSequence
    /// Control frame payloads are limited to 125 bytes (RFC 6455 §5.5).
    case controlPayloadTooLong(Int)
    /// A ping with this payload is already waiting for its pong.
    case duplicatePingPayload
    /// The operation belongs to the other role (e.g. `accept` on a client engine).
    case wrongRole(Role)

    public var description: String {
        switch self {
        case .notOpen(let s): "connection is \(s)"
        case .invalidFragmentSequence: "invalid fragment sequence"
        case .controlPayloadTooLong(let n): "control frame payload of \(n) bytes exceeds 125"
        case .duplicatePingPayload: "already waiting for a pong with the same data"
        case .wrongRole(let r): "operation not available to a \(r)"
        }
    }
}
