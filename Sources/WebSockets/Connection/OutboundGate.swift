import WebSocketCore

/// The one rule for what may be queued on a connection, shared by `send`, `write`, `ping`,
/// `send(fragments:)` and ``broadcast(_:to:logger:)``: a message may go while the connection is
/// OPEN, the channel is writable (NIO's write-buffer marks) and the bytes already on their way to
/// the event loop are below the high mark. Each caller brings its policy for when it may not.
///
/// Part of ``WebSocket``'s locked status, next to the close state it depends on.
struct OutboundGate {
    /// What a caller does when the buffer is above its high mark.
    enum Policy {
        /// Suspend until it drains (`send`, `ping`, `send(fragments:)`).
        case wait
        /// Leave this connection out (`broadcast`: one slow client must not hold up the others).
        case skip
        /// Throw at once (`write` off the event loop: it cannot wait).
        case refuse
    }

    enum Admission: Equatable {
        /// Counted in flight: enqueue it.
        case admitted
        /// Above the high mark; the policy says what follows.
        case full(Policy)
    }

    /// The channel's writability (NIO's write-buffer water marks).
    var writable = true
    /// Bytes queued for the event loop that have not reached the channel yet: its writability
    /// cannot see them, so they are bounded here.
    var bytesInFlight = 0
    /// The write buffer's high mark.
    let highMark: Int
    /// Senders waiting for the buffer to drain (policy ``Policy/wait``).
    var waiters: [CheckedContinuation<Bool, any Error>] = []

    init(highMark: Int) {
        self.highMark = highMark
    }

    /// Whether another message may be queued now.
    var hasRoom: Bool { writable && bytesInFlight < highMark }

    /// Counts `size` bytes in flight if there is room.
    mutating func admit(_ size: Int, policy: Policy) -> Admission {
        guard hasRoom else { return .full(policy) }
        bytesInFlight += size
        return .admitted
    }

    /// The bytes counted by ``admit(_:policy:)`` reached the channel (its writability covers them now).
    mutating func release(_ size: Int) {
        bytesInFlight -= size
    }
}
