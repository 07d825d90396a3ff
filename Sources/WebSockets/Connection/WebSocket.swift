import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Synchronization
import WebSocketCore
import WebSocketLogging

/// One open WebSocket connection, server or client side.
///
/// Receive with `for try await message in ws.messages` (text as `String`, binary as
/// `ByteBuffer`); iteration ends after a normal close (1000/1001) and throws
/// ``ConnectionClosed`` otherwise. Send with ``send(_:)-(String)``; it suspends while the
/// outbound buffer is above its high mark. All methods may be called from any task.
/// A server handled by ``WebSocketCallbacks`` delivers messages to its callbacks instead, which
/// answer with ``write(_:)``.
public final class WebSocket: Sendable {
    /// The connection id (UUID v4), generated at accept or connect, before the handshake.
    public let id: ConnectionID
    /// Whether this end is the client or the server.
    public let role: Role
    /// The socket peer.
    public let remoteAddress: SocketAddress?
    /// The client's address: from a trusted proxy's forwarding header, else the peer address.
    public let clientAddress: String?
    /// The opening handshake request (received by a server, sent by a client).
    public let request: HTTPRequestHead
    /// The opening handshake response.
    public let response: HTTPResponseHead
    /// The negotiated subprotocol.
    public let subprotocol: String?
    /// The negotiated extensions, as in `Sec-WebSocket-Extensions`.
    public let extensions: [ExtensionOffer]
    /// A logger tagged with this connection: records written through it carry its context.
    public let logger: Logger
    /// The context every log record of this connection carries.
    public let logContext: ConnectionContext

    let eventLoop: any EventLoop
    let handler: NIOLoopBound<WebSocketChannelHandler>
    let status: NIOLockedValueBox<Status>
    /// The messages for a handler task to iterate; `nil` when the server's callbacks get them.
    let inbound: Inbound?
    let iterating = Atomic<Bool>(false)
    let closed: EventLoopFuture<Void>

    typealias Inbound = NIOThrowingAsyncSequenceProducer<
        InboundItem, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, InboundDelegate
    >

    enum InboundItem: Sendable {
        case message(Message)
        case fragment(MessageFragment)
    }

    struct Status: Sendable {
        var state: ConnectionState = .open
        var closeSent: CloseFrame?
        var closeReceived: CloseFrame?
        var latency: Duration?
        /// The channel's writability (NIO's write-buffer water marks).
        var writable = true
        /// Bytes `send` and `broadcast` queued for the event loop that have not reached the
        /// channel yet: its writability cannot see them, so they are bounded here.
        var bytesInFlight = 0
        /// The write buffer's high mark.
        let highMark: Int
        var writabilityWaiters: [CheckedContinuation<Bool, any Error>] = []

        /// Whether another message may be queued now.
        var canWrite: Bool { writable && bytesInFlight < highMark }
    }

    init(id: ConnectionID, role: Role, remoteAddress: SocketAddress?, logContext: ConnectionContext, request: HTTPRequestHead,
         response: HTTPResponseHead, subprotocol: String?, extensions: [ExtensionOffer], logger: Logger,
         eventLoop: any EventLoop, handler: NIOLoopBound<WebSocketChannelHandler>, inbound: Inbound?,
         closed: EventLoopFuture<Void>, writeBufferHighMark: Int) {
        self.id = id
        self.role = role
        self.remoteAddress = remoteAddress
        self.clientAddress = logContext.clientAddress
        self.logContext = logContext
        self.request = request
        self.response = response
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.logger = logger  // already tagged with `logContext` by the handler: shared, not copied
        self.eventLoop = eventLoop
        self.handler = handler
        self.status = NIOLockedValueBox(Status(highMark: writeBufferHighMark))
        self.inbound = inbound
        self.closed = closed
    }

    /// A task executor that runs on this connection's event loop. Code that reads and writes
    /// one connection runs with no thread hop per message when started with it, e.g.
    /// `Task(executorPreference: ws.taskExecutor) { for try await m in ws.messages { … } }` —
    /// what the server does for its handlers (``ServerConfiguration/runHandlersOnEventLoop``).
    /// Do not block in such code.
    public var taskExecutor: any TaskExecutor { EventLoopTaskExecutor(eventLoop) }

    // MARK: - State

    /// The connection state.
    public var state: ConnectionState { status.withLockedValue { $0.state } }
    /// The close frame this side sent, once sent.
    public var closeSent: CloseFrame? { status.withLockedValue { $0.closeSent } }
    /// The close frame the peer sent, once received.
    public var closeReceived: CloseFrame? { status.withLockedValue { $0.closeReceived } }
    /// The connection's close code once closed: received code, 1005 without status, 1006 without handshake.
    public var closeCode: CloseCode? {
        status.withLockedValue { $0.state == .closed ? ($0.closeReceived?.code ?? .abnormalClosure) : nil }
    }
    /// The reason received with the close frame.
    public var closeReason: String? { status.withLockedValue { $0.closeReceived?.reason } }
    /// The round trip of the last keepalive ping (or ``ping(_:)``).
    public var latency: Duration? { status.withLockedValue { $0.latency } }

    // MARK: - Receiving

    /// The messages, in order. Iterate once. Ends after a normal close; throws
    /// ``ConnectionClosed`` when the connection ended otherwise.
    public var messages: Messages { Messages(socket: self) }

    /// The fragments of messages, when the connection was opened with
    /// ``ConnectionOptions/streamFragments``.
    public var fragments: Fragments { Fragments(socket: self) }

    /// Receives the next message, or `nil` after a normal close.
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = Message
        let socket: WebSocket

        public func makeAsyncIterator() -> Iterator { Iterator(base: socket.makeInboundIterator(), socket: socket) }

        /// Iterates the sequence; there can be only one.
        public struct Iterator: AsyncIteratorProtocol {
            var base: Inbound.AsyncIterator?
            let socket: WebSocket
            public mutating func next() async throws -> Message? {
                guard let base else { throw socket.noIteratorError }
                while true {
                    socket.noteItemRequested()
                    guard let item = try await base.next() else { return nil }
                    if case .message(let m) = item { return m }
                }
            }
        }
    }

    /// Receives fragments (streaming mode).
    public struct Fragments: AsyncSequence, Sendable {
        public typealias Element = MessageFragment
        let socket: WebSocket

        public func makeAsyncIterator() -> Iterator { Iterator(base: socket.makeInboundIterator(), socket: socket) }

        /// Iterates the sequence; there can be only one.
        public struct Iterator: AsyncIteratorProtocol {
            var base: Inbound.AsyncIterator?
            let socket: WebSocket
            public mutating func next() async throws -> MessageFragment? {
                guard let base else { throw socket.noIteratorError }
                while true {
                    socket.noteItemRequested()
                    guard let item = try await base.next() else { return nil }
                    if case .fragment(let f) = item { return f }
                }
            }
        }
    }

    /// Inbound items the application has asked for (calls of the iterator's `next`).
    let itemsRequested = Atomic<Int>(0)
    /// Set while a protocol violation waits for the application to finish with the messages
    /// that arrived before it (see ``EngineConfiguration/deferViolations``).
    let violationPending = Atomic<Bool>(false)

    /// The application asks for the next inbound item: it is done with the previous ones.
    func noteItemRequested() {
        itemsRequested.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if violationPending.load(ordering: .sequentiallyConsistent) {
            let handler = self.handler
            eventLoop.execute { handler.value.checkPendingViolation() }
        }
    }

    func makeInboundIterator() -> Inbound.AsyncIterator? {
        guard let inbound else { return nil }
        return iterating.exchange(true, ordering: .relaxed) ? nil : inbound.makeAsyncIterator()
    }

    /// Why there is no iterator: iterated already, or the messages go to callbacks.
    var noIteratorError: WebSocketError {
        inbound == nil
            ? WebSocketError(.alreadyIterating, "this connection's messages go to the server's WebSocketCallbacks")
            : WebSocketError(.alreadyIterating, "messages can be iterated only once")
    }

    // MARK: - Sending

    /// Sends a text message. Suspends while the write buffer is above its high mark.
    public func send(_ text: String) async throws {
        try await send(.text(text))
    }

    /// Sends a binary message. Suspends while the write buffer is above its high mark.
    public func send(_ bytes: ByteBuffer) async throws {
        try await send(.binary(bytes))
    }

    /// Sends a message: text as text, binary as binary (what an echo server needs). Suspends
    /// while the write buffer is above its high mark.
    public func send(_ message: Message) async throws {
        // On the event loop with room in the write buffer (a server handler, by default): into the
        // channel at once, with one look at the status and no bytes counted in flight (spelled out:
        // `enqueue`'s escaping closure would be an allocation per message).
        if eventLoop.inEventLoop, try canWriteNow() {
            handler.value.send(message)
            return
        }
        let size = message.payloadSize
        if try !tryReserve(size) { try await reserveWrite(size) }  // no async call while there is room
        enqueue(size) { $0.send(message) }
    }

    /// Runs `body` on the event loop with the handler, then releases the `size` bytes that
    /// ``reserveWrite(_:)`` counted: by then they are in the channel, whose writability covers them.
    ///
    /// Already on the event loop (a server handler runs there by default) it runs at once: no
    /// task-queue hop. Order is kept: a task on the loop never has earlier sends still queued,
    /// since its every send takes this path once it runs there.
    func enqueue(_ size: Int, _ body: @escaping @Sendable (WebSocketChannelHandler) -> Void) {
        let handler = self.handler
        if eventLoop.inEventLoop {
            body(handler.value)
            update { $0.bytesInFlight -= size }
            return
        }
        eventLoop.execute {
            body(handler.value)
            self.update { $0.bytesInFlight -= size }
        }
    }

    /// Queues a message without waiting, from any thread: what ``WebSocketCallbacks`` use,
    /// since they run on the event loop and cannot suspend.
    ///
    /// Unlike ``send(_:)-(Message)`` it does not wait while the write buffer is above its high
    /// mark. A server handled by callbacks stops reading from a connection while its buffer is
    /// above the mark, which bounds what replies can queue; elsewhere, prefer `send`.
    /// - Throws: ``ConnectionClosed`` once the connection is closing or closed.
    public func write(_ message: Message) throws {
        try status.withLockedValue { s in
            if s.state != .open { throw ConnectionClosed(received: s.closeReceived, sent: s.closeSent) }
        }
        if eventLoop.inEventLoop {
            handler.value.send(message)
            return
        }
        let size = message.payloadSize
        status.withLockedValue { $0.bytesInFlight += size }  // released by `enqueue` once in the channel
        enqueue(size) { $0.send(message) }
    }

    /// Starts the closing handshake without waiting for it (for ``WebSocketCallbacks``);
    /// ``WebSocketCallbacks/closed(_:)`` follows when the connection is closed. Idempotent.
    public func beginClose(code: CloseCode = .normalClosure, reason: String = "") {
        if eventLoop.inEventLoop {
            handler.value.closeLocally(code: code, reason: reason)
            return
        }
        let handler = self.handler
        eventLoop.execute { handler.value.closeLocally(code: code, reason: reason) }
    }

    /// Sends a binary message from bytes.
    public func send(_ bytes: some Sequence<UInt8> & Sendable) async throws {
        try await send(ByteBuffer(bytes: bytes))
    }

    /// Sends one message made of the fragments of `sequence`: each element becomes a frame.
    /// `text` chooses the message type; a text message's fragments must concatenate to valid UTF-8.
    public func send<S: AsyncSequence & Sendable>(fragments sequence: S, text: Bool) async throws where S.Element == ByteBuffer {
        var iterator = sequence.makeAsyncIterator()
        var current = try await iterator.next()
        var first = true
        while let fragment = current {
            let next = try await iterator.next()
            try await reserveWrite(fragment.readableBytes)
            let isFirst = first, fin = next == nil
            enqueue(fragment.readableBytes) { $0.sendFragment(fragment, text: text, first: isFirst, fin: fin) }
            first = false
            current = next
        }
        if first {  // empty sequence: an empty message
            try await send(text ? .text("") : .binary(ByteBuffer()))
        }
    }

    /// Sends a ping and returns the round trip when its pong arrives.
    /// - Throws: ``ConnectionClosed`` if the connection closes first.
    @discardableResult
    public func ping(_ payload: ByteBuffer? = nil) async throws -> Duration {
        try await reserveWrite(0)
        let promise = eventLoop.makePromise(of: Duration.self)
        let handler = self.handler
        let data = payload ?? ByteBuffer(integer: UInt32.random(in: 0...UInt32.max))
        eventLoop.execute { handler.value.sendPing(data, promise: promise) }
        return try await promise.futureResult.get()
    }

    /// Starts the closing handshake and waits until the connection is closed (at most the
    /// close timeout). Idempotent.
    public func close(code: CloseCode = .normalClosure, reason: String = "") async {
        let handler = self.handler
        eventLoop.execute { handler.value.closeLocally(code: code, reason: reason) }
        try? await closed.get()
    }

    /// Waits until the connection is closed.
    public func waitUntilClosed() async {
        try? await closed.get()
    }

    /// Whether the write buffer is below its high mark (``broadcast(_:to:)`` skips others).
    public var isWritable: Bool { status.withLockedValue { $0.canWrite && $0.state == .open } }

    /// Waits until the connection can take more (the channel is writable and what is already
    /// on its way to the event loop is below the high mark), then counts `size` bytes in flight.
    func reserveWrite(_ size: Int) async throws {
        while true {
            if try tryReserve(size) { return }  // the common case: no continuation
            let reserved = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                let result: Result<Bool, any Error>? = status.withLockedValue { s in
                    if s.state != .open { return .failure(ConnectionClosed(received: s.closeReceived, sent: s.closeSent)) }
                    guard s.canWrite else {
                        s.writabilityWaiters.append(continuation)
                        return nil
                    }
                    s.bytesInFlight += size
                    return .success(true)
                }
                if let result { continuation.resume(with: result) }
            }
            if reserved { return }
        }
    }

    /// Whether a message may go into the channel now.
    /// - Throws: ``ConnectionClosed`` once the connection is no longer open.
    private func canWriteNow() throws -> Bool {
        try status.withLockedValue { s in
            if s.state != .open { throw ConnectionClosed(received: s.closeReceived, sent: s.closeSent) }
            return s.canWrite
        }
    }

    /// Counts `size` bytes in flight if the connection can take more now; `false` if it cannot yet.
    /// - Throws: ``ConnectionClosed`` once the connection is no longer open.
    private func tryReserve(_ size: Int) throws -> Bool {
        try status.withLockedValue { s in
            if s.state != .open { throw ConnectionClosed(received: s.closeReceived, sent: s.closeSent) }
            guard s.canWrite else { return false }
            s.bytesInFlight += size
            return true
        }
    }

    // Called by the handler on the event loop.
    func update(_ body: (inout Status) -> Void) {
        let waiters: [CheckedContinuation<Bool, any Error>]
        let outcome: Result<Bool, any Error>?
        (waiters, outcome) = status.withLockedValue { s in
            body(&s)
            if s.state != .open {
                defer { s.writabilityWaiters = [] }
                return (s.writabilityWaiters, .failure(ConnectionClosed(received: s.closeReceived, sent: s.closeSent)))
            }
            if s.canWrite && !s.writabilityWaiters.isEmpty {
                defer { s.writabilityWaiters = [] }
                return (s.writabilityWaiters, .success(false))   // try to reserve again
            }
            return ([], nil)
        }
        if let outcome { for w in waiters { w.resume(with: outcome) } }
    }
}

/// Resumes socket reads when the application consumed enough messages.
struct InboundDelegate: NIOAsyncSequenceProducerDelegate {
    let eventLoop: any EventLoop
    let handler: NIOLoopBoundBox<WebSocketChannelHandler?>

    func produceMore() {
        let handler = self.handler
        eventLoop.execute { handler.value?.resumeReading() }
    }

    func didTerminate() {
        let handler = self.handler
        eventLoop.execute { handler.value?.inboundTerminated() }
    }
}

/// Sends `message` to every connection in `connections` that is open and below its write
/// buffer's high mark, without waiting for any of them; the others are skipped and each skip
/// is logged at WARNING (`broadcast_skipped`) through `logger` (or the connection's logger).
///
/// - Returns: how many connections the message was queued for.
@discardableResult
public func broadcast(_ message: Message, to connections: some Sequence<WebSocket>, logger: WebSocketEventLogger? = nil) -> Int {
    var sent = 0
    for ws in connections {
        let size = message.payloadSize
        let skip: String? = ws.status.withLockedValue { s in
            if s.state != .open { return "connection is \(s.state)" }
            // Writability covers what the channel holds; messages still on their way to the
            // event loop count too, or a fast broadcaster could queue without bound.
            if !s.canWrite { return "write buffer above high mark" }
            s.bytesInFlight += size
            return nil
        }
        if let skip {
            let log = logger?.with(connection: ws.logContext) ?? WebSocketEventLogger(logger: ws.logger)
            log.emit(.broadcastSkipped(reason: skip))
            continue
        }
        ws.enqueue(size) { $0.send(message) }
        sent += 1
    }
    return sent
}
