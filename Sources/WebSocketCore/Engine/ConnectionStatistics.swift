/// Counters kept by the engine for the `connection_closed` log record.
public struct ConnectionStatistics: Hashable, Sendable {
    /// Bytes received from / sent to the transport, frame headers included.
    public var wireBytesIn = 0
    /// Bytes sent to the transport, frame headers included.
    public var wireBytesOut = 0
    /// Application payload bytes of data messages (after decompression / before compression).
    public var payloadBytesIn = 0
    /// Payload bytes of data messages sent, before compression.
    public var payloadBytesOut = 0
    /// Complete data messages.
    public var messagesIn = 0
    /// Complete data messages sent.
    public var messagesOut = 0
    /// Frames of any kind.
    public var framesIn = 0
    /// Frames of any kind sent.
    public var framesOut = 0

    /// All counters at zero.
    public init() {}
}
