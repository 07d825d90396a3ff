import NIOCore
import WebSocketCore

/// What the open-connection handler needs from the side that opened it: shared by all of a
/// server's connections (a reference: an idle connection's memory counts), one per client.
final class ConnectionHooks: Sendable {
    let options: ConnectionOptions
    /// The server's callbacks, when it has no handler task per connection.
    let callbacks: (any WebSocketCallbacks)?
    /// The connection is open (a server starts its handler task; a client returns the socket).
    let onOpen: @Sendable (WebSocket) -> Void
    /// The connection closed.
    let onClose: @Sendable (WebSocket) -> Void

    init(options: ConnectionOptions, callbacks: (any WebSocketCallbacks)?, onOpen: @escaping @Sendable (WebSocket) -> Void,
         onClose: @escaping @Sendable (WebSocket) -> Void) {
        self.options = options
        self.callbacks = callbacks
        self.onOpen = onOpen
        self.onClose = onClose
    }
}

extension TimeAmount {
    /// `duration`, clamped to what a `TimeAmount` holds: a configured timeout of any size never traps.
    init(clamping duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let limit = Int64.max / 1_000_000_000 - 1
        if seconds >= limit { self = .nanoseconds(.max) } else if seconds <= -limit { self = .nanoseconds(.min) } else {
            self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
    }
}

extension Duration {
    /// In seconds, for log records.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
