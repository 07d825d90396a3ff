import NIOCore
import NIOHTTP1
import Synchronization
import WebSocketCore
import WebSocketLogging

/// The server's opening handshake on one channel: parses the request head, applies the origin
/// policy and `processRequest` (with reads paused), then either answers with an HTTP response
/// and a lingering close, or writes the 101 and replaces itself with a
/// ``WebSocketConnectionHandler``. Its decisions are ``ServerHandshakeStateMachine``'s.
final class ServerHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: ServerSide
    private var machine: ServerHandshakeStateMachine
    /// The handshake's engine, traces and tagged logger, as the server's decision takes them.
    private var attempt: HandshakeAttempt
    private var log: WebSocketEventLogger { attempt.log }
    private var context: ChannelHandlerContext?
    private var openTimer: Scheduled<Void>?
    /// The lingering close's bound.
    private var lingerTimer: Scheduled<Void>?

    /// What the attempt holds once its engine went to the decision (shared: a new engine per
    /// connection would only be allocated to be thrown away).
    private static let handedOver = WebSocketEngine(role: .server)

    init(server: ServerSide, logger: WebSocketEventLogger, logContext: ConnectionContext) {
        let options = server.configuration.connection
        self.server = server
        self.machine = ServerHandshakeStateMachine(limits: options.httpLimits)
        self.attempt = HandshakeAttempt(engine: WebSocketEngine(role: .server, configuration: options.engineConfiguration),
                                        traces: TraceBudget(limit: options.traceBudget), log: logger.with(connection: logContext),
                                        logContext: logContext, startedAt: .now())
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard machine.start() == .start else { return }
        attempt.startedAt = .now()
        attempt.engine.isTracing = log.wantsTraces
        if attempt.engine.isTracing, attempt.traces.admit(.stateChanged(.connecting)) { log.emit(trace: .stateChanged(.connecting)) }
        if let timeout = server.configuration.connection.openTimeout {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            openTimer = context.eventLoop.scheduleTask(in: TimeAmount(clamping: timeout)) { bound.value.openTimedOut() }
        }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch machine.bytesReceived(unwrapInboundIn(data)) {
        case .needMore, .discard: break
        case .decide(let head): decide(head, context: context)
        case .reject(let rejection, let head): reject(rejection, request: head, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        if machine.wantsRead { context.read() }  // also while responding: a lingering close drains the input
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let failure = TLSFailure(error, role: .server) {
            logTLSFailure(failure, context: context)
        } else {
            log.emit(.errorHandled(error: "\(error)", code: nil, reason: "transport error"))
        }
        context.close(promise: nil)
    }

    /// INFO, within the server's ``ServerConfiguration/rejectionLogLimit`` (its own count: a
    /// scanner's TLS probes do not crowd out the rejections).
    private func logTLSFailure(_ failure: TLSFailure, context: ChannelHandlerContext) {
        guard let limiter = server.tlsFailureLog else { return log.emit(.tlsHandshakeFailed(reason: failure.description)) }
        switch limiter.admit() {
        case .log: log.emit(.tlsHandshakeFailed(reason: failure.description))
        case .suppress(let reportIn):
            log.count(.tlsHandshakeFailed(reason: failure.description))
            if let reportIn {
                let base = server.log
                context.eventLoop.scheduleTask(in: reportIn) { limiter.report(to: base) }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    /// Replaced by the connection handler: the context (which holds this handler) is let go,
    /// or the two would keep each other alive for as long as the process runs.
    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    private func release() {
        openTimer?.cancel()
        lingerTimer?.cancel()
        context = nil
    }

    // MARK: - Deciding

    /// The server's decision (``ServerSide/decide(_:attempt:on:)``, shared with every mounted
    /// upgrader); reads stay paused until it is carried out.
    private func decide(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        attempt.logContext = server.context(for: head, base: attempt.logContext, log: log)
        attempt.log = log.with(connection: attempt.logContext)  // replaces the context the logger carried
        let deciding = attempt
        attempt.engine = Self.handedOver  // the decision's engine is the only one now
        switch server.decide(head, attempt: deciding, on: context.eventLoop) {
        case .now(let outcome):
            carryOut(outcome)
        case .later(let future):
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            future.whenSuccess { outcome in bound.value.carryOut(outcome) }
        }
    }

    private func carryOut(_ outcome: HandshakeOutcome) {
        guard let context else { return }
        switch outcome {
        case .answer(let answer, let answered):
            attempt = answered
            // Not if the connection was answered meanwhile (too much input behind the request).
            guard case .respond = machine.answered() else { return }
            writeAndClose(answer.head, body: answer.body, context: context)
        case .upgrade(var accepted, let response, let subprotocol):
            guard case .upgrade(let head, let early) = machine.accepted() else { return }
            openTimer?.cancel()
            var buffer = context.channel.allocator.buffer(capacity: 256)
            buffer.writeHTTPResponseHead(response)  // the decision validated it
            context.write(wrapOutboundOut(buffer), promise: nil)
            accepted.drainTraces()
            let opening = server.opening(accepted, request: head, response: response, subprotocol: subprotocol, early: early,
                                         mounted: false)
            let connection = WebSocketConnectionHandler(opening: opening, hooks: server.hooks)
            do {
                try context.pipeline.syncOperations.addHandler(connection, position: .after(self))
                context.flush()  // the 101 and whatever the connection answered to early frames
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            } catch {
                log.emit(.internalError(description: "installing the connection handler failed: \(error)"), error: error)
                context.close(promise: nil)
            }
        }
    }

    // MARK: - Answering

    /// A refusal before the decision (a bad head, the open timeout, too much input): logged and
    /// answered by the same code as the decision's refusals.
    private func reject(_ rejection: HandshakeRejection, request: HTTPRequestHead?, context: ChannelHandlerContext) {
        guard case .answer(let answer, _) = server.refuse(rejection, request: request, attempt: &attempt, traced: false,
                                                          eventLoop: context.eventLoop) else { return }
        writeAndClose(answer.head, body: answer.body, context: context)
    }

    private func writeAndClose(_ head: HTTPResponseHead, body: ByteBuffer, context: ChannelHandlerContext) {
        openTimer?.cancel()
        var buffer = context.channel.allocator.buffer(capacity: 256 + body.readableBytes)
        buffer.writeHTTPResponseHead(head)  // answers come from the decision, which validated them
        var body = body
        buffer.writeBuffer(&body)
        // Lingering close: half-close our side and drain what the peer is still sending.
        // Closing with unread input makes the kernel send a reset, which can destroy the
        // response before the peer reads it (e.g. a 414 while the long request still arrives).
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            let handler = bound.value
            guard let context = handler.context else { return }
            context.close(mode: .output, promise: nil)
            handler.lingerTimer = context.eventLoop.scheduleTask(in: .seconds(2)) { bound.value.context?.close(promise: nil) }
        }
        context.read()  // drain: the request may have paused reading
    }

    private func openTimedOut() {
        guard let context, case .reject(let request) = machine.openTimedOut() else { return }
        log.emit(.timedOut(waitingFor: "the opening handshake", timeout: (server.configuration.connection.openTimeout ?? .zero).seconds))
        reject(HandshakeRejection(kind: .timeout, status: .requestTimeout, reason: "opening handshake timed out"),
               request: request, context: context)
    }

    /// Server shutdown: a connection that sent nothing yet is closed; a request that arrives is answered 503.
    func shutdown() {
        guard let context, machine.shutdown() == .close else { return }
        context.close(promise: nil)
    }
}
