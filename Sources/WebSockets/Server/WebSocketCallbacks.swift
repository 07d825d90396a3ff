import WebSocketCore

/// A server's connections handled by callbacks on each connection's event loop, with no task
/// per connection: the lighter of the two ways to write a server (see
/// ``WebSocketServer/serve(host:port:configuration:group:callbacks:)``).
///
/// ```swift
/// struct Echo: WebSocketCallbacks {
///     func received(_ message: Message, on ws: WebSocket) throws { try ws.write(message) }
/// }
/// let server = try await WebSocketServer.serve(port: 8765, callbacks: Echo())
/// ```
///
/// Compared with a handler that iterates `ws.messages` in its own task, a connection costs
/// about 2.8 KiB less memory and each message less CPU (no task to resume, no async
/// sequence); the price is that callbacks must not block or wait. They run on the event loop
/// that serves the connection (and others): hand slow or blocking work to a task of your own.
///
/// - Answer with ``WebSocket/write(_:)``, which queues without waiting; close with
///   ``WebSocket/beginClose(code:reason:)``. Replies to the messages of one read share a flush.
/// - Backpressure: while the connection's write buffer is above its high mark
///   (``ConnectionOptions/writeBuffer``), the server stops reading from that connection, so a
///   peer that sends faster than it reads cannot grow the buffer without bound.
/// - A callback that throws closes the connection with 1011 and logs an ERROR `handler_failed`
///   record, as a throwing handler does; the error is never sent to the peer.
/// - Log through `ws.logger`: its records carry the connection's context.
///   (``ConnectionContext/current`` is a task-local value, and callbacks run outside any task.)
/// - Connections deliver whole messages: ``ConnectionOptions/streamFragments`` is not
///   available with callbacks.
public protocol WebSocketCallbacks: Sendable {
    /// The connection is open: its `connection_open` record is written. Default: nothing.
    func opened(_ ws: WebSocket) throws
    /// A message arrived, in order. Do not block.
    func received(_ message: Message, on ws: WebSocket) throws
    /// The connection is closed (``WebSocket/closeCode`` says how), just before its
    /// `connection_closed` record. Default: nothing.
    func closed(_ ws: WebSocket)
}

extension WebSocketCallbacks {
    /// Does nothing.
    public func opened(_ ws: WebSocket) throws {}
    /// Does nothing.
    public func closed(_ ws: WebSocket) {}
}
