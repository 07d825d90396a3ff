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
    /// Hold a protocol violation found in received data instead of failing at once: input
    /// stops, the violation waits in ``WebSocketEngine/pendingViolation`` and the connection
    /// stays open until ``WebSocketEngine/failPendingViolation()``. The I/O layer uses this to
    /// let the application finish with the messages that arrived before the violation (an echo
    /// of them is still sent) before the close frame goes out. Default `false`: fail at once.
    public var deferViolations: Bool

    /// Creates a configuration; each parameter sets the property of the same name.
    public init(maxMessageSize: Int = 1 << 20, maxFrameSize: Int? = nil, deliverFragments: Bool = false,
                largePayloadThreshold: Int = 16 << 10, deferViolations: Bool = false) {
        precondition(maxMessageSize >= 0, "maxMessageSize must not be negative")
        self.maxMessageSize = maxMessageSize
        self.maxFrameSize = maxFrameSize
        self.deliverFragments = deliverFragments
        self.largePayloadThreshold = largePayloadThreshold
        self.deferViolations = deferViolations
    }

    /// The frame limit in force: ``maxFrameSize`` if set, else ``maxMessageSize``, never below
    /// 125 (control frames must always fit).
    public var effectiveMaxFrameSize: Int { max(125, maxFrameSize ?? maxMessageSize) }
}
