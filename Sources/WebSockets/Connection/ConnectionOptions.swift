import NIOCore
import WebSocketCore

/// Limits and timeouts of a connection, shared by server and client. Defaults follow Python
/// websockets: open 10 s, ping every 20 s with a 20 s timeout, close 10 s, 1 MiB messages.
public struct ConnectionOptions: Sendable, Hashable {
    /// Largest message accepted (after decompression), bytes. Exceeding it closes with 1009.
    public var maxMessageSize: Int
    /// Largest frame accepted, or `nil` for ``maxMessageSize``.
    public var maxFrameSize: Int?
    /// Time allowed for the TCP connection to complete the opening handshake (server: from
    /// accept; client: from connect). Server: the connection is dropped (and logged).
    public var openTimeout: Duration?
    /// Interval between keepalive pings, or `nil` to disable keepalive.
    public var pingInterval: Duration?
    /// Time to wait for a keepalive pong before failing the connection with 1011.
    public var pingTimeout: Duration?
    /// Time to wait for the closing handshake and the TCP close before dropping the connection.
    public var closeTimeout: Duration
    /// Inbound message queue, in messages (a handler task's; callbacks have none): reading from
    /// the socket stops at `high` messages waiting for the application and resumes below `low`.
    public var inboundQueue: (high: Int, low: Int)
    /// Inbound message queue, in bytes of payload: reading stops once the application holds
    /// `high` bytes (messages queued, and the one it is working on until it asks for the next)
    /// and resumes at `low` or when it waits on an empty queue. With the message limit it bounds
    /// what one connection's inbound side holds, whatever the peer sends: below `high` plus one
    /// message, plus the message being read (see the README's limits table for the worst case).
    public var inboundQueueBytes: (high: Int, low: Int)
    /// Outbound write buffer marks, bytes: `send` suspends while more than `high` bytes wait
    /// to be written and resumes below `low`.
    public var writeBuffer: (high: Int, low: Int)
    /// Limits on the handshake's HTTP head (→ 414/431).
    public var httpLimits: HTTPHeadLimits
    /// Deliver large messages fragment by fragment (``WebSocket/fragments``) instead of whole.
    public var streamFragments: Bool
    /// The socket read buffer, bytes: a connection starts with `initial` and grows (up to
    /// `maximum`) while reads fill it. Each connection keeps its read buffer while idle, so
    /// `initial` is most of an idle connection's buffer memory; NIO's default is 2,048.
    public var readBuffer: (initial: Int, maximum: Int)
    /// DEBUG protocol traces (handshake lines, frames, close steps) written per connection, or
    /// `nil` for no limit. Past it they are counted and reported once at close (a WARNING
    /// `log_records_suppressed` record), so a ping flood cannot flood the log. Default 1,000.
    public var traceBudget: Int?

    /// Creates options; each parameter sets the property of the same name (defaults in the README's limits table).
    public init(maxMessageSize: Int = 1 << 20, maxFrameSize: Int? = nil, openTimeout: Duration? = .seconds(10),
                pingInterval: Duration? = .seconds(20), pingTimeout: Duration? = .seconds(20),
                closeTimeout: Duration = .seconds(10), inboundQueue: (high: Int, low: Int) = (16, 4),
                inboundQueueBytes: (high: Int, low: Int) = (256 << 10, 64 << 10),
                writeBuffer: (high: Int, low: Int) = (64 << 10, 16 << 10), httpLimits: HTTPHeadLimits = .init(),
                streamFragments: Bool = false, readBuffer: (initial: Int, maximum: Int) = (512, 64 << 10),
                traceBudget: Int? = 1000) {
        precondition(inboundQueue.low >= 0 && inboundQueue.low <= inboundQueue.high && inboundQueue.high >= 1, "invalid inbound queue marks")
        precondition(inboundQueueBytes.low >= 0 && inboundQueueBytes.low <= inboundQueueBytes.high, "invalid inbound queue byte marks")
        precondition(writeBuffer.low <= writeBuffer.high, "invalid write buffer marks")
        precondition(readBuffer.initial >= 64 && readBuffer.initial <= readBuffer.maximum, "invalid read buffer sizes")
        precondition(maxMessageSize >= 1, "maxMessageSize must be at least 1")
        precondition((traceBudget ?? 0) >= 0, "traceBudget must not be negative")
        self.maxMessageSize = maxMessageSize
        self.maxFrameSize = maxFrameSize
        self.openTimeout = openTimeout
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.closeTimeout = closeTimeout
        self.inboundQueue = inboundQueue
        self.inboundQueueBytes = inboundQueueBytes
        self.writeBuffer = writeBuffer
        self.httpLimits = httpLimits
        self.streamFragments = streamFragments
        self.readBuffer = readBuffer
        self.traceBudget = traceBudget
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.maxMessageSize == b.maxMessageSize && a.maxFrameSize == b.maxFrameSize && a.openTimeout == b.openTimeout
            && a.pingInterval == b.pingInterval && a.pingTimeout == b.pingTimeout && a.closeTimeout == b.closeTimeout
            && a.inboundQueue == b.inboundQueue && a.inboundQueueBytes == b.inboundQueueBytes && a.writeBuffer == b.writeBuffer && a.httpLimits == b.httpLimits
            && a.streamFragments == b.streamFragments && a.readBuffer == b.readBuffer
            && a.traceBudget == b.traceBudget
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(maxMessageSize)
        hasher.combine(closeTimeout)
    }

    /// NIO's adaptive read-buffer sizing with ``readBuffer``'s bounds.
    var receiveAllocator: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: 64, initial: readBuffer.initial, maximum: readBuffer.maximum)
    }

    /// The channel options every connection runs with, whichever server accepted it: explicit
    /// reads (the connection handler asks for bytes as it can process them), the read buffer
    /// and the write-buffer marks. The standalone server and the client apply them when the
    /// channel is created (before the handshake), a mounted connection when it is installed.
    func apply(to channel: any Channel) throws {
        guard let options = channel.syncOptions else { return }
        try options.setOption(.autoRead, value: false)
        try options.setOption(.recvAllocator, value: receiveAllocator)
        try options.setOption(.writeBufferWaterMark, value: .init(low: writeBuffer.low, high: writeBuffer.high))
    }

    var engineConfiguration: EngineConfiguration {
        EngineConfiguration(maxMessageSize: maxMessageSize, maxFrameSize: maxFrameSize, deliverFragments: streamFragments,
                            deferClose: true)
    }
}
