/// Which side of a WebSocket connection an engine plays.
///
/// The role decides masking (RFC 6455 §5.1: a client masks every frame it sends, a server
/// never does, and each side rejects frames that break this rule), who closes the TCP
/// connection first (§7.1.1: the server), and the logger label used by the I/O layer.
public enum Role: String, Sendable, Hashable, CustomStringConvertible {
    /// The accepting side.
    case server
    /// The connecting side.
    case client

    public var description: String { rawValue }
}
