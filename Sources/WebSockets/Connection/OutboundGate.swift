import WebSocketCore

/// The one rule for what may be queued on a connection, shared by `send`, `write`, `ping`,
/// `send(fragments:)` and ``broadcast(_:to:logger:)``: a message may go while the connection is
/// OPEN, the channel is writable (NIO's write-buffer marks) and the bytes already on their way to
/// the event loop are below the high mark. When it may not, `send`, `ping` and `send(fragments:)`
/// wait, `broadcast` skips the connection and `write` off the event loop throws. What the
/// connection writes on its own (pongs, close replies) is bounded by the read pause instead
/// (``WebSocketConnectionHandler``'s `channelWritabilityChanged`).
///
/// Part of ``WebSocket``'s locked status, next to the close state it depends on.
struct OutboundGate {
    /// The channel's writability (NIO's write-buffer water marks).
    var writable = true
    /// Bytes queued for the event loop that have not reached the channel yet: its writability
    /// cannot see them, so they are bounded here.
    var bytesInFlight = 0
    /// The write buffer's high mark.
    let highMark: Int
    /// `send`s waiting for the buffer to drain.
    var waiters: [CheckedContinuation<Bool, any Error>] = []

    init(highMark: Int) {
        self.highMark = highMark
    }

    /// Whether another message may be queued now.
    var hasRoom: Bool { writable && bytesInFlight < highMark }

    /// Counts `size` bytes in flight if there is room; false when full (the caller then waits,
    /// skips or refuses, as its API says).
    mutating func admit(_ size: Int) -> Bool {
        guard hasRoom else { return false }
        bytesInFlight += size
        return true
    }

    /// The bytes counted by ``admit(_:)`` reached the channel (its writability covers them now).
    mutating func release(_ size: Int) {
        bytesInFlight -= size
    }
}
