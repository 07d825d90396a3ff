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
    private var engine: WebSocketEngine
    private var log: WebSocketEventLogger
    private var logContext: ConnectionContext
    private var traces: TraceBudget
    private var context: ChannelHandlerContext?
    private var startedAt = NIODeadline.now()
    private var openTimer: Scheduled<Void>?
    /// The lingering close's bound.
    private var lingerTimer: Scheduled<Void>?

    /// What `engine` holds once the real one went to the connection handler (shared: a new
    /// engine per connection would only be allocated to be thrown away).
    private static let handedOver = WebSocketEngine(role: .server)

    init(server: ServerSide, logger: WebSocketEventLogger, logContext: ConnectionContext) {
        let options = server.configuration.connection
        self.server = server
        self.machine = ServerHandshakeStateMachine(limits: options.httpLimits)
        self.engine = WebSocketEngine(role: .server, configuration: options.engineConfiguration)
        self.logContext = logContext
        self.log = logger.with(connection: logContext)
        self.traces = TraceBudget(limit: options.traceBudget)
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
        startedAt = .now()
        engine.isTracing = log.wantsTraces
        if engine.isTracing, traces.admit(.stateChanged(.connecting)) { log.emit(trace: .stateChanged(.connecting)) }
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

    private func decide(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let configuration = server.configuration
        let (address, source) = configuration.clientAddress(peer: logContext.peerAddress, headers: head.headers)
        logContext = logContext.with(clientAddress: address, source: source, requestHeaders: head.headers,
                                     traceContext: TracePropagation.traceContext(in: head.headers))
        log = log.with(connection: logContext)  // replaces the context the logger carried
        if let refused = server.refusalBeforeHandshake(head) {
            _ = machine.answered()
            return reject(refused, request: head, context: context)
        }
        guard let hook = configuration.processRequest else { return accept(context: context) }
        let ctx = logContext
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        configuration.runProcessRequest(hook, head, ctx, on: context.eventLoop).whenComplete { result in
            let handler = bound.value
            guard let context = handler.context else { return }
            switch result {
            case .success(let response?):
                handler.respond(response, context: context)
            case .success(nil):
                handler.accept(context: context)
            case .failure(let error):
                guard case .respond(let head) = handler.machine.answered() else { return }
                handler.log.emit(.internalError(description: "processRequest failed: \(error)"), error: error)
                handler.reject(HandshakeRejection(kind: .refused, status: .internalServerError, reason: "internal server error"),
                               request: head, context: context)
            }
        }
    }

    private func accept(context: ChannelHandlerContext) {
        if server.isStopping, case .respond(let head) = machine.answered() {  // shutdown began while processRequest ran
            return reject(.shuttingDown, request: head, context: context)
        }
        guard case .upgrade(let head, let early) = machine.accepted() else { return }
        engine.isTracing = log.wantsTraces
        switch engine.accept(head, options: server.handshake) {
        case .failure(let rejection):
            machine.upgradeRefused()
            reject(rejection, request: head, context: context, traced: true)
        case .success(var accepted):
            server.configuration.processResponse?(head, &accepted.response)
            openTimer?.cancel()
            var buffer = context.channel.allocator.buffer(capacity: 256)
            buffer.writeHTTPResponseHead(accepted.response)
            context.write(wrapOutboundOut(buffer), promise: nil)
            drainTraces()
            let extensions = (try? ExtensionOffer.parse(accepted.response.headers["Sec-WebSocket-Extensions"])) ?? []
            let opening = WebSocketConnectionHandler.Opening(
                engine: engine, request: head, response: accepted.response, subprotocol: accepted.subprotocol,
                extensions: extensions, log: log, logContext: logContext, startedAt: startedAt, early: early, traces: traces)
            engine = Self.handedOver  // the connection handler's engine is the only one now
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

    /// A plain HTTP answer from `processRequest` (health check, 401, ...).
    private func respond(_ response: HTTPResponse, context: ChannelHandlerContext) {
        guard case .respond(let request) = machine.answered() else { return }
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        headers.replaceOrAdd(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        engine.reject(request: request, response: head)
        drainTraces()
        log.emit(.httpResponseSent(HTTPResponseSentInfo(status: Int(response.status.code), reason: response.status.reasonPhrase,
                                                        path: log.redaction.target(request.uri))))
        writeAndClose(head, body: response.body, context: context)
    }

    private func reject(_ rejection: HandshakeRejection, request: HTTPRequestHead?, context: ChannelHandlerContext,
                        traced: Bool = false) {
        let head = rejection.responseHead(serverHeader: server.configuration.handshake.serverHeader)
        if !traced, let request { engine.reject(request: request, response: head) }
        server.logRejection(rejection, request: request, engine: &engine, traces: &traces, log: log, eventLoop: context.eventLoop)
        writeAndClose(head, body: ByteBuffer(string: rejection.body), context: context)
    }

    private func writeAndClose(_ head: HTTPResponseHead, body: ByteBuffer, context: ChannelHandlerContext) {
        openTimer?.cancel()
        var buffer = context.channel.allocator.buffer(capacity: 256 + body.readableBytes)
        buffer.writeHTTPResponseHead(head)
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

    private func drainTraces() {
        while let trace = engine.nextTrace() {
            if traces.admit(trace) { log.emit(trace: trace) }
        }
    }

    /// Server shutdown: a connection that sent nothing yet is closed; a request that arrives is answered 503.
    func shutdown() {
        guard let context, machine.shutdown() == .close else { return }
        context.close(promise: nil)
    }
}
