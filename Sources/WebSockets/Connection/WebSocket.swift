import Instrumentation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Synchronization
import W3CTraceContext
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
    /// The opening handshake request (received by a server, sent by a client). Rebuilt from a
    /// compact copy on each access: keep it in a local when reading it often.
    public var request: HTTPRequestHead {
        var head = packedRequest.request
        if Self.headersInContext(role, logContext), let shared = logContext.packedHeaders { head.headers = shared.headers }
        return head
    }
    /// The opening handshake response; rebuilt on each access, as ``request``.
    public var response: HTTPResponseHead { packedResponse.response }
    /// The request's start line, and its headers unless the context keeps them (a server's does).
    private let packedRequest: PackedHead
    private let packedResponse: PackedHead
    /// A server's context holds its request's headers (for enrichers): kept there only.
    private static func headersInContext(_ role: Role, _ context: ConnectionContext) -> Bool {
        role == .server && context.packedHeaders != nil
    }
    /// The negotiated subprotocol.
    public let subprotocol: String?
    /// The negotiated extensions, as in `Sec-WebSocket-Extensions`.
    public let extensions: [ExtensionOffer]
    /// A logger tagged with this connection: records written through it carry its context.
    /// Made on each access (the tag is a copy of the handler's metadata, which most connections
    /// never need): keep it in a local when writing many records.
    public var logger: Logger {
        var tagged = baseLogger
        tagged[metadataKey: ConnectionContext.metadataKey] = .stringConvertible(logContext)
        return tagged
    }
    /// The connection's logger, shared with its handler; untagged when records take the
    /// pipeline's direct route.
    let baseLogger: Logger
    /// The context every log record of this connection carries.
    public let logContext: ConnectionContext
    /// The W3C trace context of the opening handshake (`traceparent`, `tracestate`): what the
    /// caller's records share with this connection's (`trace_id`, `span_id`).
    public var traceContext: TraceContext? { logContext.traceContext }
    /// What the bootstrapped swift-distributed-tracing instrument extracted from the request
    /// (server side; nil without an instrument). Handler tasks run with it as
    /// `ServiceContext.current`; callbacks read it here.
    public let serviceContext: ServiceContext?

    let eventLoop: any EventLoop
    let handler: NIOLoopBound<WebSocketConnectionHandler>
    let status: NIOLockedValueBox<Status>
    /// The messages for a handler task to iterate; `nil` when the server's callbacks get them.
    let inbound: Inbound?
    /// What the application holds of `inbound`, in bytes (the inbound byte marks).
    let heldBytes: HeldBytes?
    let iterating = Atomic<Bool>(false)
    let closed: EventLoopFuture<Void>

    typealias Inbound = NIOThrowingAsyncSequenceProducer<InboundItem, any Error, InboundMarks, InboundDelegate>

    enum InboundItem: Sendable {
        case message(Message)
        case fragment(MessageFragment)
    }

    /// What other threads read of the connection: the close state the handler publishes from
    /// its engine (one place, ``WebSocketConnectionHandler``'s `publishState`) and the outbound gate.
    struct Status: Sendable {
        var state: ConnectionState = .open
        var closeSent: CloseFrame?
        var closeReceived: CloseFrame?
        var latency: Duration?
        var gate: OutboundGate

        var closedError: ConnectionClosed { ConnectionClosed(received: closeReceived, sent: closeSent) }

        /// Whether the gate admits `size` more bytes.
        /// - Throws: ``ConnectionClosed`` once the connection is no longer open.
        mutating func admit(_ size: Int) throws -> Bool {
            if state != .open { throw closedError }
            return gate.admit(size)
        }
    }

    init(id: ConnectionID, role: Role, remoteAddress: SocketAddress?, logContext: ConnectionContext, request: HTTPRequestHead,
         response: HTTPResponseHead, subprotocol: String?, extensions: [ExtensionOffer], logger: Logger,
         eventLoop: any EventLoop, handler: NIOLoopBound<WebSocketConnectionHandler>, inbound: Inbound?, heldBytes: HeldBytes?,
         closed: EventLoopFuture<Void>, writeBufferHighMark: Int, extractsServiceContext: Bool = true) {
        self.id = id
        self.role = role
        self.remoteAddress = remoteAddress
        self.clientAddress = logContext.clientAddress
        self.logContext = logContext
        self.serviceContext = role == .server && extractsServiceContext ? TracePropagation.extract(request.headers) : nil
        self.packedRequest = PackedHead(request, withHeaders: !Self.headersInContext(role, logContext))
        self.packedResponse = PackedHead(response)
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.baseLogger = logger  // the handler's: shared, not copied
        self.eventLoop = eventLoop
        self.handler = handler
        self.status = NIOLockedValueBox(Status(gate: OutboundGate(highMark: writeBufferHighMark)))
        self.inbound = inbound
        self.heldBytes = heldBytes
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
            /// The size of the last item given: the application holds it until it asks again.
            var inHand = 0
            public mutating func next() async throws -> Message? {
                guard let base else { throw socket.noIteratorError }
                while true {
                    socket.noteItemRequested(releasing: &inHand)
                    guard let item = try await base.next() else { return nil }
                    inHand = item.size
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
            /// The size of the last item given: the application holds it until it asks again.
            var inHand = 0
            public mutating func next() async throws -> MessageFragment? {
                guard let base else { throw socket.noIteratorError }
                while true {
                    socket.noteItemRequested(releasing: &inHand)
                    guard let item = try await base.next() else { return nil }
                    inHand = item.size
                    if case .fragment(let f) = item { return f }
                }
            }
        }
    }

    /// Inbound items the application has asked for (calls of the iterator's `next`).
    let itemsRequested = Atomic<Int>(0)
    /// Set while the close waits for the application to finish with the messages that arrived
    /// before it (see ``EngineConfiguration/deferClose``).
    let closeHeld = Atomic<Bool>(false)

    /// The application asks for the next inbound item: it is done with the previous ones, and
    /// the bytes of the one it had (`inHand`) no longer count against the inbound byte marks.
    func noteItemRequested(releasing inHand: inout Int) {
        if inHand > 0 {
            heldBytes?.release(inHand)
            inHand = 0
        }
        itemsRequested.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if closeHeld.load(ordering: .sequentiallyConsistent) {
            let handler = self.handler
            eventLoop.execute { handler.value.checkHeldClose() }
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
    /// - Throws: ``ConnectionClosed`` once the connection is closing or closed.
    public func send(_ text: String) async throws {
        try await send(.text(text))
    }

    /// Sends a binary message. Suspends while the write buffer is above its high mark.
    /// - Throws: ``ConnectionClosed`` once the connection is closing or closed.
    public func send(_ bytes: ByteBuffer) async throws {
        try await send(.binary(bytes))
    }

    /// Sends a message: text as text, binary as binary (what an echo server needs). Suspends
    /// while the write buffer is above its high mark.
    /// - Throws: ``ConnectionClosed`` once the connection is closing or closed;
    ///   ``WebSocketError`` (`invalid_send`) inside a ``send(fragments:text:)`` still running.
    public func send(_ message: Message) async throws {
        // On the event loop with room (a server handler, by default): into the channel at once,
        // with one look at the status and nothing counted in flight.
        if eventLoop.inEventLoop, try status.withLockedValue({ try $0.admit(0) }) {
            try handler.value.send(message)
            return
        }
        // From another thread: the connection may refuse it on arrival (closed meanwhile, or a
        // `send(fragments:)` of another task in progress), and that refusal reaches the caller.
        try await submit(message.payloadSize) { try $0.send(message) }
    }

    /// Runs `body` on the event loop with the handler, then releases the `size` bytes that
    /// ``reserve(_:)`` counted: by then they are in the channel, whose writability covers them.
    ///
    /// Already on the event loop it runs at once: no task-queue hop. Order is kept: a task on the
    /// loop never has earlier sends still queued, since its every send takes this path once it
    /// runs there.
    func enqueue(_ size: Int, _ body: @escaping @Sendable (WebSocketConnectionHandler) -> Void) {
        let handler = self.handler
        if eventLoop.inEventLoop {
            body(handler.value)
            update { $0.gate.release(size) }
            return
        }
        eventLoop.execute {
            body(handler.value)
            self.update { $0.gate.release(size) }
        }
    }

    /// Queues a message without waiting, from any thread: what ``WebSocketCallbacks`` use,
    /// since they run on the event loop and cannot suspend.
    ///
    /// On the event loop the message goes straight into the channel: a server handled by
    /// callbacks stops reading from a connection while its write buffer is above the high mark,
    /// which bounds what replies can queue. From another thread it is refused while the buffer
    /// is above the high mark; there, prefer `send`, which waits.
    /// - Throws: ``ConnectionClosed`` once the connection is closing or closed;
    ///   ``WebSocketError`` (`write_buffer_full`) off the event loop above the high mark.
    public func write(_ message: Message) throws {
        if eventLoop.inEventLoop {
            if status.withLockedValue({ $0.state }) != .open { throw status.withLockedValue { $0.closedError } }
            try handler.value.send(message)
            return
        }
        let size = message.payloadSize
        guard try status.withLockedValue({ try $0.admit(size) }) else {
            throw WebSocketError(.writeBufferFull, "write buffer above its high mark (\(status.withLockedValue { $0.gate.highMark }) bytes): use send, which waits")
        }
        enqueue(size) { $0.sendQueued(message) }
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
    /// `text` chooses the message type; a text message's fragments must concatenate to valid
    /// UTF-8, but a fragment may end inside a character.
    ///
    /// Each fragment is handed over before the next is read, and a failure to send one throws.
    /// If `sequence` throws after the first fragment went out, the message cannot be completed:
    /// the connection is closed with 1011 (as Python websockets does) and the error rethrown.
    /// - Throws: ``ConnectionClosed`` once the connection is closing or closed; the sequence's error.
    public func send<S: AsyncSequence & Sendable>(fragments sequence: S, text: Bool) async throws where S.Element == ByteBuffer {
        var iterator = sequence.makeAsyncIterator()
        var current = try await iterator.next()
        var first = true
        while let fragment = current {
            let next: ByteBuffer?
            do {
                next = try await iterator.next()
            } catch {
                if !first { beginAbort() }
                throw error
            }
            let isFirst = first, fin = next == nil
            try await submit(fragment.readableBytes) { try $0.sendFragment(fragment, text: text, first: isFirst, fin: fin) }
            first = false
            current = next
        }
        if first {  // empty sequence: an empty message
            try await send(text ? .text("") : .binary(ByteBuffer()))
        }
    }

    /// A fragmented send whose source failed: the message cannot be completed, so the connection fails with 1011.
    private func beginAbort() {
        let handler = self.handler
        eventLoop.execute { handler.value.failLocally(code: .internalError, reason: "message aborted") }
    }

    /// Reserves `size` bytes, runs `body` on the event loop, and throws what it threw.
    private func submit(_ size: Int, _ body: @escaping @Sendable (WebSocketConnectionHandler) throws -> Void) async throws {
        try await reserve(size)
        let promise = eventLoop.makePromise(of: Void.self)
        enqueue(size) { handler in promise.completeWith(Result { try body(handler) }) }
        try await promise.futureResult.get()
    }

    /// Sends a ping and returns the round trip when its pong arrives.
    /// - Throws: ``ConnectionClosed`` if the connection closes first.
    @discardableResult
    public func ping(_ payload: ByteBuffer? = nil) async throws -> Duration {
        try await reserve(0)
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

    /// Whether the write buffer is below its high mark (``broadcast(_:to:logger:)`` skips others).
    public var isWritable: Bool { status.withLockedValue { $0.gate.hasRoom && $0.state == .open } }

    /// The gate for the callers that wait: suspends until the connection can
    /// take more, then counts `size` bytes in flight. No suspension while there is room.
    func reserve(_ size: Int) async throws {
        while true {
            if try status.withLockedValue({ try $0.admit(size) }) { return }
            let admitted = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                let result: Result<Bool, any Error>? = status.withLockedValue { s in
                    do {
                        guard try s.admit(size) else {
                            s.gate.waiters.append(continuation)
                            return nil
                        }
                        return .success(true)
                    } catch {
                        return .failure(error)
                    }
                }
                if let result { continuation.resume(with: result) }
            }
            if admitted { return }
        }
    }

    /// Changes the status (on the event loop) and wakes the waiters the change concerns: all of
    /// them with ``ConnectionClosed`` once the connection is no longer open, or all of them to
    /// try again once there is room.
    func update(_ body: (inout Status) -> Void) {
        let waiters: [CheckedContinuation<Bool, any Error>]
        let outcome: Result<Bool, any Error>?
        (waiters, outcome) = status.withLockedValue { s in
            body(&s)
            if s.state != .open {
                defer { s.gate.waiters = [] }
                return (s.gate.waiters, .failure(s.closedError))
            }
            if s.gate.hasRoom && !s.gate.waiters.isEmpty {
                defer { s.gate.waiters = [] }
                return (s.gate.waiters, .success(false))  // try to reserve again
            }
            return ([], nil)
        }
        if let outcome { for w in waiters { w.resume(with: outcome) } }
    }
}

/// Sends `message` to every connection in `connections` that is open and below its write
/// buffer's high mark, without waiting for any of them; the others are skipped and each skip
/// is logged at WARNING (`broadcast_skipped`) through `logger` (or the connection's logger).
///
/// - Returns: how many connections the message was queued for.
@discardableResult
public func broadcast(_ message: Message, to connections: some Sequence<WebSocket>, logger: Logger? = nil) -> Int {
    var sent = 0
    let size = message.payloadSize
    for ws in connections {
        let skip: String?
        do {
            skip = try ws.status.withLockedValue { try $0.admit(size) } ? nil : "write buffer above high mark"
        } catch {
            skip = "connection is \(ws.state)"
        }
        if let skip {
            let log = WebSocketEventLogger(logger: logger ?? ws.baseLogger).with(connection: ws.logContext)
            log.emit(.broadcastSkipped(reason: skip))
            continue
        }
        ws.enqueue(size) { $0.sendQueued(message) }
        sent += 1
    }
    return sent
}
