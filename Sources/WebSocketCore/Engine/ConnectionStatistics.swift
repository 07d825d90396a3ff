/// Counters kept by the engine for the `connection_closed` log record.
public struct ConnectionStatistics: Hashable, Sendable {
    /// Bytes received from / sent to the transport, frame headers included.
    public var wireBytesIn = 0
    public var wireBytesOut = 0
    /// Application payload bytes of data messages (after decompression / before compression).
    public var payloadBytesIn = 0
    public var payloadBytesOut = 0
    /// Complete data messages.
    public var messagesIn = 0
    public var messagesOut = 0
    /// Frames of any kind.
    public var framesIn = 0
    public var framesOut = 0

    public init() {}
}
