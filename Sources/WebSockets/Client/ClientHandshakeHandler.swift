import NIOCore
import NIOHTTP1
import WebSocketCompression
import WebSocketCore
import WebSocketLogging

/// The client's opening handshake on one channel: writes the request, reads the response head
/// over any number of reads, validates it (and the permessage-deflate answer), then replaces
/// itself with a ``WebSocketConnectionHandler`` and fulfils the connect promise with its
/// ``WebSocket``. Any failure fails the promise with a ``WebSocketError`` and closes.
final class ClientHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handshake: ClientHandshake
    private let compression: PerMessageDeflateConfiguration?
    private let options: ConnectionOptions
    private let promise: EventLoopPromise<WebSocket>
    private var machine: ClientHandshakeStateMachine
    private var engine: WebSocketEngine
    private var log: WebSocketEventLogger
    private let logContext: ConnectionContext
    private var traces: TraceBudget
    private var startedAt = NIODeadline.now()
    private var openTimer: Scheduled<Void>?

    init(handshake: ClientHandshake, compression: PerMessageDeflateConfiguration?, options: ConnectionOptions,
         promise: EventLoopPromise<WebSocket>, logger: WebSocketEventLogger, logContext: ConnectionContext) {
        self.handshake = handshake
        self.compression = compression
        self.options = options
        self.promise = promise
        self.engine = WebSocketEngine(role: .client, configuration: options.engineConfiguration)
        self.logContext = logContext
        self.log = logger.with(connection: logContext)
        self.traces = TraceBudget(limit: options.traceBudget)
        self.machine = ClientHandshakeStateMachine(limits: options.httpLimits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard machine.isIdle else { return }
        startedAt = .now()
        engine.isTracing = log.wantsTraces
        if engine.isTracing, traces.admit(.stateChanged(.connecting)) { log.emit(trace: .stateChanged(.connecting)) }
        if let timeout = options.openTimeout {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            openTimer = context.eventLoop.scheduleTask(in: TimeAmount(clamping: timeout)) {
                bound.value.log.emit(.timedOut(waitingFor: "the opening handshake", timeout: timeout.seconds))
                bound.value.fail(WebSocketError(.timeout, "opening handshake timed out"), context: loopBoundContext.value)
            }
        }
        let head = engine.request(handshake)
        _ = machine.start(request: head)
        var buffer = context.channel.allocator.buffer(capacity: 512)
        buffer.writeHTTPRequestHead(head)  // `connect` validated it before connecting
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        drainTraces()
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch machine.bytesReceived(unwrapInboundIn(data)) {
        case .needMore, .discard:
            break
        case .fail(let error):
            fail(WebSocketError(.invalidResponse, "invalid HTTP response: \(error)"), context: context, decided: true)
        case .response(let request, let head, let early):
            // Frames right behind the 101 (a server may send at once) wait until the negotiated
            // compression is in place: RSV1 means nothing before that.
            opened(request: request, response: head, early: early, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if machine.wantsRead { context.read() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let failure = TLSFailure(error, role: .client) {
            log.emit(.errorHandled(error: "TLS handshake failed: \(failure)", code: nil, reason: "transport error"))
            return fail(WebSocketError(.tlsFailed, "TLS handshake with \(endpoint) failed: \(failure)"), context: context)
        }
        log.emit(.errorHandled(error: "\(error)", code: nil, reason: "transport error"))
        fail(WebSocketError(.connectionClosed, "connection to \(endpoint) failed during the opening handshake: \(error)"), context: context)
    }

    /// `host:port` as logged, for error messages.
    private var endpoint: String {
        let host = logContext.peerAddress ?? "?"
        let shown = host.contains(":") ? "[\(host)]" : host
        return logContext.peerPort.map { "\(shown):\($0)" } ?? shown
    }

    func channelInactive(context: ChannelHandlerContext) {
        openTimer?.cancel()
        if machine.channelInactive() == .fail {
            promise.fail(WebSocketError(.connectionClosed, "\(endpoint) closed the connection during the opening handshake"))
        }
        context.fireChannelInactive()
    }

    private func opened(request: HTTPRequestHead, response: HTTPResponseHead, early: ByteBuffer, context: ChannelHandlerContext) {
        let result: ClientHandshakeResult
        do {
            result = try engine.processResponse(response, for: handshake)
        } catch {
            drainTraces()
            return fail(WebSocketError(.handshakeFailed, error.message, status: error.status), context: context, decided: true)
        }
        if let configuration = compression, let accepted = result.extensions.first {
            // RFC 7692 §7.1: a response the client did not allow fails the connection.
            do {
                guard result.extensions.count == 1 else { throw PerMessageDeflateError(message: "more than one extension accepted") }
                engine.compression = try PerMessageDeflate.clientAccept(response: accepted, configuration: configuration)
            } catch {
                drainTraces()
                return fail(WebSocketError(.handshakeFailed, "invalid permessage-deflate response: \(error)", status: 101),
                            context: context, decided: true)
            }
        }
        openTimer?.cancel()
        drainTraces()
        let promise = self.promise
        let hooks = ConnectionHooks(options: options, callbacks: nil, onOpen: { promise.succeed($0) }, onClose: { _ in })
        let opening = WebSocketConnectionHandler.Opening(
            engine: engine, request: request, response: response, subprotocol: result.subprotocol,
            extensions: result.extensions, log: log, logContext: logContext, startedAt: startedAt, early: early, traces: traces)
        engine = WebSocketEngine(role: .client)  // handed over
        do {
            try context.pipeline.syncOperations.addHandler(WebSocketConnectionHandler(opening: opening, hooks: hooks),
                                                           position: .after(self))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            promise.fail(error)
            context.close(promise: nil)
        }
    }

    /// Fails the connect promise and closes; `decided` when the machine already moved to done
    /// on the response it reported (the handler carries out that decision).
    private func fail(_ error: WebSocketError, context: ChannelHandlerContext, decided: Bool = false) {
        guard decided || machine.failed() == .fail else { return }
        openTimer?.cancel()
        promise.fail(error)
        context.close(promise: nil)
    }

    private func drainTraces() {
        while let trace = engine.nextTrace() {
            if traces.admit(trace) { log.emit(trace: trace) }
        }
    }
}
