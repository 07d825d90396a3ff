import NIOCore
import WebSocketCore

/// The pings a connection waits for (keepalive and ``WebSocket/ping(_:)``) and the keepalive
/// timers. Bounded like the engine's list: a peer that never answers cannot grow it.
struct Keepalive {
    /// The next keepalive ping, re-armed after each one: a scheduled callback, because NIO's
    /// `RepeatedTask` keeps promises and closures alive per connection (docs/PERFORMANCE.md).
    var next: NIOScheduledCallback?
    /// Fails the connection when a keepalive pong does not come in time.
    var timeout: Scheduled<Void>?
    private var pings: [(id: PingID, sentAt: NIODeadline, promise: EventLoopPromise<Duration>?)] = []

    /// Records a ping just sent. Returns the promise of the oldest ping when the list is full:
    /// the engine forgot that ping, so no pong will acknowledge it.
    mutating func sent(_ id: PingID, at now: NIODeadline, promise: EventLoopPromise<Duration>?) -> EventLoopPromise<Duration>? {
        var dropped: EventLoopPromise<Duration>?
        if pings.count >= WebSocketEngine.maxPendingPings { dropped = pings.removeFirst().promise }
        pings.append((id, now, promise))
        return dropped
    }

    /// A pong acknowledged `acknowledged` and every earlier ping: their round trips and waiters, oldest first.
    mutating func acknowledge(_ acknowledged: PingID, at now: NIODeadline) -> [(Duration, EventLoopPromise<Duration>?)] {
        var answered: [(Duration, EventLoopPromise<Duration>?)] = []
        while let first = pings.first, first.id <= acknowledged {
            pings.removeFirst()
            answered.append((Duration.nanoseconds((now - first.sentAt).nanoseconds), first.promise))
        }
        return answered
    }

    mutating func cancel() {
        next?.cancel()
        next = nil
        timeout?.cancel()
    }

    /// Forgets every ping; returns the waiters to fail.
    mutating func removeAll() -> [EventLoopPromise<Duration>] {
        defer { pings.removeAll() }
        return pings.compactMap(\.promise)
    }
}
