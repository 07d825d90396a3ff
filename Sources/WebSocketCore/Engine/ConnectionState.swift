/// The lifecycle of a connection (RFC 6455 §4, §7): CONNECTING → OPEN → CLOSING → CLOSED.
public enum ConnectionState: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The opening handshake is in progress.
    case connecting
    /// Messages may flow both ways.
    case open
    /// A close frame was sent or received; the closing handshake is in progress.
    case closing
    /// The TCP connection is closed (or, for a rejected handshake, was never upgraded).
    case closed

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// `CONNECTING`, `OPEN`, `CLOSING`, `CLOSED`, as the RFC and Python websockets write them.
    public var description: String {
        switch self {
        case .connecting: "CONNECTING"
        case .open: "OPEN"
        case .closing: "CLOSING"
        case .closed: "CLOSED"
        }
    }
}

/// Which side started the closing handshake.
public enum CloseInitiator: String, Sendable, Hashable {
    /// This endpoint sent the first close frame (including when it failed the connection).
    case local
    /// The peer sent the first close frame.
    case remote
    /// The TCP connection ended without a closing handshake (close code 1006).
    case abnormal
}
