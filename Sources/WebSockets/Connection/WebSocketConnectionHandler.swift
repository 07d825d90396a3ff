import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Synchronization
import WebSocketCore
import WebSocketLogging

/// The open connection: feeds socket bytes to an OPEN ``WebSocketEngine``, writes what it
/// produces, delivers messages (to ``WebSocketCallbacks`` or, through ``InboundBridge``, to
/// ``WebSocket/messages``), runs the keepalive and close timers and holds the close while the
/// application finishes with the messages that preceded it.
///
/// Installed by whoever completed the opening handshake (``ServerHandshakeHandler``,
/// ``ClientHandshakeHandler``, or an upgrader inside another HTTP/1 server) with an
/// ``Opening``. Its lifecycle is ``ConnectionStateMachine``'s: this class performs the actions.
final class WebSocketConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the handshake hands over.
    struct Opening {
        /// OPEN, with the negotiated compression in place.
        var engine: WebSocketEngine
        var request: HTTPRequestHead
        var response: HTTPResponseHead
        var subprotocol: String?
        var extensions: [ExtensionOffer]
        /// Tagged with `logContext`.
        var log: WebSocketEventLogger
        var logContext: ConnectionContext
        /// When the TCP connection was accepted (or connected): the handshake's duration runs from here.
        var startedAt: NIODeadline
        /// Bytes that arrived behind the handshake.
        var early: ByteBuffer
        var traces: TraceBudget
        /// Whether the channel still needs ``ConnectionOptions``' channel options (a channel
        /// accepted by another server; the standalone server and the client set them at creation).
        var appliesChannelOptions = false
        /// Whether the bootstrapped instrument may extract its context from the request
        /// (``ServerConfiguration/traceContext``); a client injects rather than extracts.
        var extractsServiceContext = true
    }

    private let hooks: ConnectionHooks
    private var engine: WebSocketEngine
    private var machine = ConnectionStateMachine()
    private var log: WebSocketEventLogger
    private var trafficCounted: WebSocketEventLogger.TrafficMark?
    private var traces: TraceBudget
    /// What `handlerAdded` opens the connection with, then lets go: boxed, so that an open
    /// connection's handler does not carry the space of the heads and buffers inline.
    private var pending: Pending?
    private var bridge: InboundBridge?
    private var delegateBox: NIOLoopBoundBox<WebSocketConnectionHandler?>?
    private var socket: WebSocket?
    private var context: ChannelHandlerContext?
    /// The connection's channel while the handler is in its pipeline (tests read socket options).
    var channel: (any Channel)? { context?.channel }
    private let startedAt: NIODeadline
    /// The scheduled close and hold timers, kept only to cancel them: whether each is armed is
    /// the machine's state (``ConnectionStateMachine/closeTimer``, ``ConnectionStateMachine/hold``).
    private var closeTimer: Scheduled<Void>?
    private var holdTimer: Scheduled<Void>?
    private var keepalive: Keepalive
    /// The close state last copied into the socket's status (see `publishState`).
    private var published = Published(state: .open, sent: nil, received: nil)

    private struct Published: Equatable {
        var state: ConnectionState
        var sent: CloseFrame?
        var received: CloseFrame?
    }

    init(opening: Opening, hooks: ConnectionHooks) {
        precondition(opening.engine.state == .open, "the connection handler takes an OPEN engine")
        self.hooks = hooks
        self.engine = opening.engine
        self.log = opening.log
        self.traces = opening.traces
        self.startedAt = opening.startedAt
        self.keepalive = Keepalive()
        self.pending = Pending(opening)
    }

    private final class Pending {
        let opening: Opening
        init(_ opening: Opening) { self.opening = opening }
    }

    private var options: ConnectionOptions { hooks.options }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        guard let opening = pending?.opening else { return }
        pending = nil
        if opening.appliesChannelOptions {
            // Installed into another server's channel (a mounted upgrader): the same read
            // buffer, write-buffer marks and explicit reads as the standalone server's connections.
            do {
                try options.apply(to: context.channel)
            } catch {
                log.emit(.internalError(description: "applying the connection options failed: \(error)"), error: error)
            }
        }
        open(opening, context: context)
        if !context.channel.isWritable {
            socket?.update { $0.gate.writable = false }
            if engine.role == .server { machine.pause(.writeBufferFull) }
        }
        if opening.early.readableBytes > 0 { receive(opening.early) }
        pump()
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(unwrapInboundIn(data))
    }

    private func receive(_ bytes: ByteBuffer) {
        engine.isTracing = log.wantsTraces
        engine.receive(bytes)
        pump()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        if machine.readComplete() == .read { context.read() }
    }

    /// The outbound rule for every byte a server connection writes, in both handler styles and
    /// mounted: above the write buffer's high mark, reading pauses until the peer drains it. What
    /// reading would make us write (the engine's pongs and close replies, a callback's echo) is
    /// then bounded by the mark, and senders wait in ``WebSocket``'s gate.
    ///
    /// A client keeps reading: were both ends to pause, a client pipelining more than both
    /// buffers hold to an echoing server would wait for a server that waits for it. Its sends
    /// still wait at the gate.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        socket?.update { $0.gate.writable = writable }
        if engine.role == .server {
            if writable { resumeReading(.writeBufferFull) } else { machine.pause(.writeBufferFull) }
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIOSSL's descriptions carry BoringSSL's codes and source paths: the reason in words instead.
        let text = TLSFailure(error, role: engine.role).map { "TLS: \($0)" } ?? "\(error)"
        emitDebug(.errorHandled(error: text, code: nil, reason: "transport error"))
        context.close(promise: nil)
    }

    /// A server that quiesces its connections (NIO's `ServerQuiescingHelper`, as in Hummingbird's
    /// and Vapor's graceful shutdown) closes this one with 1001, as ``WebSocketServer`` does.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        closeLocally(code: .goingAway, reason: "server shutting down")
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    // MARK: - Opening

    private func open(_ opening: Opening, context: ChannelHandlerContext) {
        var inbound: WebSocket.Inbound?
        if hooks.callbacks == nil {  // a handler task iterates the messages; callbacks get them from `pump`
            let box = NIOLoopBoundBox<WebSocketConnectionHandler?>(self, eventLoop: context.eventLoop)
            delegateBox = box
            let (bridge, sequence) = InboundBridge.make(eventLoop: context.eventLoop, options: options, handler: box)
            self.bridge = bridge
            inbound = sequence
        }
        let ws = WebSocket(id: opening.logContext.id, role: engine.role, remoteAddress: context.channel.remoteAddress,
                           logContext: opening.logContext, request: opening.request, response: opening.response,
                           subprotocol: opening.subprotocol, extensions: opening.extensions, logger: log.logger,
                           eventLoop: context.eventLoop, handler: NIOLoopBound(self, eventLoop: context.eventLoop),
                           inbound: inbound, heldBytes: bridge?.held, closed: context.channel.closeFuture, writeBufferHighMark: options.writeBuffer.high,
                           extractsServiceContext: opening.extractsServiceContext)
        socket = ws
        let handshakeDuration = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
        // Both roles: one INFO record when the connection opens, one when it closes.
        log.emit(.connectionOpen(ConnectionOpenInfo(
            path: log.redaction.target(opening.request.uri), subprotocol: opening.subprotocol,
            subprotocolsOffered: opening.request.headers.offeredSubprotocols,
            extensions: opening.extensions.isEmpty ? nil : opening.extensions.map(\.description).joined(separator: ", "),
            handshakeDuration: handshakeDuration)))
        startKeepalive(context: context)
        hooks.onOpen(ws)
        callBack { try $0.opened($1) }
    }

    /// Calls a callback; one that throws closes the connection with 1011 and an ERROR
    /// `handler_failed` record, as a throwing handler task does.
    private func callBack(_ body: (any WebSocketCallbacks, WebSocket) throws -> Void) {
        guard let callbacks = hooks.callbacks, let socket else { return }
        do {
            try body(callbacks, socket)
        } catch {
            log.handlerFailed(error)
            closeLocally(code: .internalError, reason: "")
        }
    }

    // MARK: - Pump

    /// Writes what the engine produced, delivers its events and logs its traces, round after
    /// round while callbacks answer; then flushes (now, or once the application's batch is
    /// answered with `batch`), arms the close timer and closes the transport if the engine asks.
    private func pump(batch: Bool = false) {
        guard let context, machine.pumpRequested() == .run else { return }
        var wrote = false
        repeat {
            pumpRound(context: context, wrote: &wrote)
        } while machine.pumpRoundEnded() == .runAgain
        if wrote {
            let batchEnds = !batch || !(bridge?.applicationHasMore(requested: requested) ?? false)
            switch machine.wrote(batchEnds: batchEnds) {
            case .flushNow: context.flush()
            case .queueFlush: queueFlush(context: context)
            case .none: break
            }
        }
        if engine.closeExpected, machine.closeExpected() == .arm {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            closeTimer = context.eventLoop.scheduleTask(in: TimeAmount(clamping: options.closeTimeout)) {
                bound.value.closeTimedOut()
            }
        }
        if engine.transportCloseRequested, machine.transportCloseRequested() == .closeAfterWrites {
            // Whatever the engine queued (its close frame above all) goes out before the close.
            while let bytes = engine.nextOutput() { context.write(wrapOutboundOut(bytes), promise: nil) }
            // Close once every queued write has gone out (writes complete in order).
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in bound.value.context?.close(promise: nil) }
        }
    }

    private func pumpRound(context: ChannelHandlerContext, wrote: inout Bool) {
        while let bytes = engine.nextOutput() {
            context.write(wrapOutboundOut(bytes), promise: nil)
            wrote = true
        }
        drainTraces()
        while let event = engine.nextEvent() {
            switch event {
            case .message(let m): deliver(.message(m))
            case .fragment(let f): deliver(.fragment(f))
            case .ping, .closeReceived: break
            case .pong(_, let acknowledged): pongArrived(acknowledged)
            }
        }
        if engine.heldClose != nil { holdClose(context: context) }
        publishState()
    }

    /// The close state every other thread reads, copied from the engine: the one place that
    /// keeps ``WebSocket``'s status in step.
    private func publishState() {
        guard let socket else { return }
        let state = engine.state
        // While OPEN no close frame has gone either way: nothing else to compare (per message).
        if state == .open, published.state == .open { return }
        let sent = engine.closeSent, received = engine.closeReceived
        // This handler is the status's only writer of these fields: compare with what it last
        // wrote, without taking the lock on every pump.
        let current = Published(state: state, sent: sent, received: received)
        if current == published { return }
        published = current
        socket.update { s in
            s.state = state
            s.closeSent = sent
            s.closeReceived = received
        }
    }

    private var requested: Int { socket?.itemsRequested.load(ordering: .relaxed) ?? 0 }

    private func queueFlush(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = bound.value
            handler.machine.queuedFlushRan()
            handler.context?.flush()
        }
    }

    private func deliver(_ item: WebSocket.InboundItem) {
        if hooks.callbacks != nil {
            if case .message(let m) = item { callBack { try $0.received(m, on: $1) } }
            return
        }
        if bridge?.yield(item) == .pauseReading { machine.pause(.inboundQueueFull) }
    }

    private func drainTraces() {
        while let trace = engine.nextTrace() {
            if traces.admit(trace) { log.emit(trace: trace) }
        }
    }

    // MARK: - Held close

    /// The engine holds a violation or its reply to the peer's close behind messages of the
    /// same read: it goes out once the application asks for the next message (so its answers
    /// to them go first, RFC 6455 §7.1.7 leaves room for it and Autobahn checks it strictly),
    /// after at most a second, or at once when nothing waits for the application (callbacks
    /// answered during this pump already).
    private func holdClose(context: ChannelHandlerContext) {
        guard let bridge, bridge.isAttached else {
            engine.releaseHeldClose()
            // The released close frame is output: the running pump writes it in one more round.
            _ = machine.pumpRequested()
            return
        }
        guard machine.holdBegan() == .arm else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        holdTimer = context.eventLoop.scheduleTask(in: min(TimeAmount(clamping: options.closeTimeout), .seconds(1))) {
            bound.value.releaseHeldClose()
        }
        socket?.closeHeld.store(true, ordering: .sequentiallyConsistent)
        checkHeldClose()
    }

    /// Releases the held close once the application caught up with what it was given.
    func checkHeldClose() {
        guard engine.heldClose != nil, let context else { return }
        guard let bridge, bridge.isAttached else { return releaseHeldClose() }
        if bridge.applicationCaughtUp(requested: socket?.itemsRequested.load(ordering: .sequentiallyConsistent) ?? 0) {
            // Through the loop's task queue: a `send` the application made before asking for
            // the next message is already queued there and must reach the engine first.
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute { bound.value.releaseHeldClose() }
        }
    }

    private func releaseHeldClose() {
        guard engine.heldClose != nil, context != nil else { return }
        if machine.holdEnded() == .release {
            holdTimer?.cancel()
            holdTimer = nil
        }
        socket?.closeHeld.store(false, ordering: .relaxed)
        engine.releaseHeldClose()
        pump()
    }

    // MARK: - Reading

    func resumeReading(_ reason: ConnectionStateMachine.PauseReasons) {
        if machine.resume(reason) == .read { context?.read() }
    }

    /// The application stopped iterating: keep reading so close frames and pings are handled.
    func inboundTerminated() {
        bridge?.detach()
        resumeReading(.inboundQueueFull)
        checkHeldClose()
    }

    // MARK: - Sending (from ``WebSocket``)

    /// Sends a message now.
    /// - Throws: ``ConnectionClosed`` once closing; ``WebSocketError`` (`invalid_send`) for a
    ///   message the engine's state does not allow.
    func send(_ message: Message) throws {
        try perform { engine in
            switch message {
            case .text(let s): try engine.sendText(s)
            case .binary(let b): try engine.sendBinary(b)
            }
        }
        pump(batch: true)
    }

    /// A message queued without a caller to throw to (``WebSocket/write(_:)`` off the event
    /// loop, ``broadcast(_:to:logger:)``): a refusal (the connection closed meanwhile) is logged
    /// at DEBUG, and the next send throws.
    func sendQueued(_ message: Message) {
        do {
            try send(message)
        } catch {
            emitDebug(.errorHandled(error: "\(error)", code: nil, reason: "send not carried out"))
        }
    }

    func sendFragment(_ bytes: ByteBuffer, text: Bool, first: Bool, fin: Bool) throws {
        try perform { engine in
            if !first {
                try engine.sendContinuation(bytes, fin: fin)
            } else if text {
                try engine.sendText(utf8: bytes, fin: fin)
            } else {
                try engine.sendBinary(bytes, fin: fin)
            }
        }
        pump()
    }

    /// Runs an engine send, mapping its refusal to the error the application sees.
    private func perform(_ body: (inout WebSocketEngine) throws -> Void) throws {
        guard machine.isActive else { throw ConnectionClosed(received: engine.closeReceived, sent: engine.closeSent) }
        do {
            try body(&engine)
        } catch EngineError.notOpen {
            throw ConnectionClosed(received: engine.closeReceived, sent: engine.closeSent)
        } catch let error as EngineError {
            throw WebSocketError(.invalidSend, "\(error)")
        }
    }

    func sendPing(_ payload: ByteBuffer, promise: EventLoopPromise<Duration>?) {
        do {
            try perform { engine in
                let id = try engine.sendPing(payload)
                if let dropped = keepalive.sent(id, at: .now(), promise: promise) {
                    dropped.fail(WebSocketError(.timeout, "no pong before \(WebSocketEngine.maxPendingPings) newer pings"))
                }
            }
        } catch {
            promise?.fail(error)
            return
        }
        pump()
    }

    private func pongArrived(_ acknowledged: PingID?) {
        guard let acknowledged else { return }
        for (rtt, promise) in keepalive.acknowledge(acknowledged, at: .now()) {
            socket?.update { $0.latency = rtt }  // before resuming the waiter, which may read it
            if let promise {
                promise.succeed(rtt)
            } else {
                keepalive.timeout?.cancel()
                keepalive.timeout = nil
                emitDebug(.pongReceived(roundTrip: rtt.seconds))
            }
        }
    }

    // MARK: - Timers

    private func startKeepalive(context: ChannelHandlerContext) {
        guard let interval = options.pingInterval else { return }
        // Fails only on an event loop that is shutting down: then no ping is needed.
        keepalive.next = try? context.eventLoop.assumeIsolated().scheduleCallback(
            in: TimeAmount(clamping: interval), handler: KeepaliveTick(handler: self))
    }

    /// Runs the keepalive on the connection's event loop.
    private struct KeepaliveTick: NIOScheduledCallbackHandler {
        let handler: WebSocketConnectionHandler
        func handleScheduledCallback(eventLoop: some EventLoop) { handler.keepalivePing() }
        func didCancelScheduledCallback(eventLoop: some EventLoop) {}
    }

    private func keepalivePing() {
        keepalive.next = nil
        guard let context, machine.isActive, engine.state == .open else { return }
        startKeepalive(context: context)
        sendPing(ByteBuffer(integer: UInt32.random(in: 0...UInt32.max)), promise: nil)
        emitDebug(.pingSent)
        log.addTraffic(engine.statistics, since: &trafficCounted)
        guard let timeout = options.pingTimeout, keepalive.timeout == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        keepalive.timeout = context.eventLoop.scheduleTask(in: TimeAmount(clamping: timeout)) {
            bound.value.keepaliveTimedOut(timeout)
        }
    }

    private func keepaliveTimedOut(_ timeout: Duration) {
        guard let context, machine.isActive else { return }
        emitDebug(.keepaliveTimeout(timeout: timeout.seconds))
        engine.fail(code: .internalError, reason: "keepalive ping timeout")
        pump()
        // A client would wait for the server's EOF; a dead peer never sends one.
        context.close(promise: nil)
    }

    private func closeTimedOut() {
        guard let context else { return }
        emitDebug(.timedOut(waitingFor: "the closing handshake", timeout: options.closeTimeout.seconds))
        emitDebug(.closeStep(step: "closing TCP connection", code: nil, reason: nil))
        context.close(promise: nil)
    }

    /// A DEBUG event of the connection's own, within its trace budget (counted for the metrics
    /// and stats either way).
    private func emitDebug(_ event: WebSocketLogEvent) {
        if !log.isEnabled(event) || traces.admit(records: 1) { log.emit(event) } else { log.count(event) }
    }

    // MARK: - Closing

    /// Starts the closing handshake (application, callbacks or server shutdown). Idempotent.
    func closeLocally(code: CloseCode, reason: String) {
        guard machine.isActive else { return }
        try? engine.close(code: code, reason: reason)  // only CONNECTING throws, which an open handler never is
        pump()
    }

    /// Fails the connection for a local reason (a fragmented send whose source failed).
    func failLocally(code: CloseCode, reason: String) {
        guard machine.isActive else { return }
        engine.fail(code: code, reason: reason)
        pump()
    }

    private func finish() {
        guard machine.channelInactive() == .finish else { return }
        closeTimer?.cancel()
        holdTimer?.cancel()
        keepalive.cancel()
        engine.receiveEOF()
        drainTraces()
        let closed = ConnectionClosed(received: engine.closeReceived, sent: engine.closeSent)
        for promise in keepalive.removeAll() { promise.fail(closed) }
        // The record before anything wakes the application: a program that exits once the
        // messages end (a command-line client) must not lose it.
        let duration = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
        let latency = socket?.latency?.seconds
        log.addTraffic(engine.statistics, since: &trafficCounted)
        log.emit(.connectionClosed(ConnectionClosedInfo(engine: engine, duration: duration, latency: latency)))
        if traces.suppressed > 0 {
            log.emit(.logRecordsSuppressed(event: "debug_trace", count: traces.suppressed, interval: duration))
        }
        // Status first: a consumer woken by the end of the messages reads the close code.
        publishState()
        bridge?.finish(closed)
        if let socket {
            hooks.onClose(socket)
            callBack { callbacks, ws in callbacks.closed(ws) }
        }
        delegateBox?.value = nil
        // Break the cycle WebSocket → handler → WebSocket: the application may keep the
        // WebSocket (and reach this closed handler through it); the handler lets it go.
        socket = nil
        context = nil
    }
}
