/// Limits and behaviour of a ``WebSocketEngine``. Every field has a safe default.
public struct EngineConfiguration: Sendable, Hashable {
    /// The largest message accepted, in bytes (after decompression). Checked against each
    /// frame's declared length *before* its payload is buffered. Default 1 MiB, as Python
    /// websockets. Exceeding it fails the connection with 1009.
    public var maxMessageSize: Int
    /// The largest single frame accepted, or `nil` for the same value as ``maxMessageSize``.
    public var maxFrameSize: Int?
    /// Deliver each data frame as a ``WebSocketEvent/fragment(_:)`` instead of assembling whole
    /// messages: the streaming mode for large messages. UTF-8 is still validated across
    /// fragments and message sizes are still bounded.
    public var deliverFragments: Bool
    /// Payloads at least this large are queued by reference instead of being copied next to
    /// their header (servers only; clients must copy to mask). Default 16 KiB.
    public var largePayloadThreshold: Int
    /// Let the application finish with the messages that arrived before the connection's end,
    /// before the close frame goes out: a protocol violation found in received data, or the
    /// reply to a peer's close frame that arrived behind messages in the same input, waits in
    /// ``WebSocketEngine/heldClose`` (input stops, sending still works) until
    /// ``WebSocketEngine/releaseHeldClose()``. The I/O layer uses this so that an echo of those
    /// messages still goes out first. Default `false`: fail or reply at once.
    public var deferClose: Bool

    /// Creates a configuration; each parameter sets the property of the same name.
    public init(maxMessageSize: Int = 1 << 20, maxFrameSize: Int? = nil, deliverFragments: Bool = false,
                largePayloadThreshold: Int = 16 << 10, deferClose: Bool = false) {
        precondition(maxMessageSize >= 0, "maxMessageSize must not be negative")
        self.maxMessageSize = maxMessageSize
        self.maxFrameSize = maxFrameSize
        self.deliverFragments = deliverFragments
        self.largePayloadThreshold = largePayloadThreshold
        self.deferClose = deferClose
    }

    /// The frame limit in force: ``maxFrameSize`` if set, else ``maxMessageSize``, never below
    /// 125 (control frames must always fit).
    public var effectiveMaxFrameSize: Int { max(125, maxFrameSize ?? maxMessageSize) }
}
