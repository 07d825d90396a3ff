import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import WebSocketCore
import WebSocketLogging

/// One opening handshake's progress on the server, between the request head and the decision.
struct HandshakeAttempt: Sendable {
    var engine: WebSocketEngine
    var traces: TraceBudget
    var log: WebSocketEventLogger
    var logContext: ConnectionContext
    /// When the connection was accepted (standalone) or the request arrived (mounted): the
    /// open timeout, and the handshake's duration, run from here.
    var startedAt: NIODeadline

    mutating func drainTraces() {
        while let trace = engine.nextTrace() { if traces.admit(trace) { log.emit(trace: trace) } }
    }
}

/// The decision, at once (no `processRequest`: the common case, with no future allocated) or
/// once `processRequest` answered.
enum HandshakeDecision {
    case now(HandshakeOutcome)
    case later(EventLoopFuture<HandshakeOutcome>)

    /// As a future, for callers that need one (NIO's upgrader API).
    func future(on eventLoop: any EventLoop) -> EventLoopFuture<HandshakeOutcome> {
        switch self {
        case .now(let outcome): eventLoop.makeSucceededFuture(outcome)
        case .later(let future): future
        }
    }
}

/// What the server decided about one upgrade request.
enum HandshakeOutcome: Sendable {
    /// Answer 101 with `response` and open the connection with `attempt`'s engine (OPEN).
    case upgrade(HandshakeAttempt, response: HTTPResponseHead, subprotocol: String?)
    /// Answer with this instead, already logged (`connection_rejected`, `http_response_sent`).
    case answer(WebSocketHTTPUpgrader.HTTPAnswer, HandshakeAttempt)
}

extension ServerHandshakeHandler.ServerSide {
    /// The connection's context once its request head is known: the client address (trusted
    /// proxies only), the trace context and the request's path, on every later record.
    func context(for request: HTTPRequestHead, base: ConnectionContext, log: WebSocketEventLogger,
                 route: String? = nil) -> ConnectionContext {
        let (address, source) = configuration.clientAddress(peer: base.peerAddress, headers: request.headers)
        return base.with(clientAddress: address, source: source, requestHeaders: request.headers,
                         traceContext: configuration.acceptedTraceContext(peer: base.peerAddress, headers: request.headers),
                         path: log.redaction.target(request.uri), route: route ?? self.route)
    }

    /// The open connection's start, the same on both paths: the attempt's OPEN engine and
    /// logger, the heads, the negotiated subprotocol and extensions.
    func opening(_ attempt: HandshakeAttempt, request: HTTPRequestHead, response: HTTPResponseHead, subprotocol: String?,
                 early: ByteBuffer, mounted: Bool) -> WebSocketConnectionHandler.Opening {
        let extensions = (try? ExtensionOffer.parse(response.headers["Sec-WebSocket-Extensions"])) ?? []
        return WebSocketConnectionHandler.Opening(
            engine: attempt.engine, request: request, response: response, subprotocol: subprotocol, extensions: extensions,
            log: attempt.log, logContext: attempt.logContext, startedAt: attempt.startedAt, early: early, traces: attempt.traces,
            appliesChannelOptions: mounted,
            extractsServiceContext: configuration.extractsServiceContext(peer: attempt.logContext.peerAddress))
    }

    /// The server's decision, the same for the standalone server and every mounted upgrader,
    /// touching no channel: shutdown (503), the origin policy (403), `processRequest` within
    /// the open timeout (408 past it, 500 for an answer that cannot be sent), shutdown again,
    /// the engine's handshake rules, `processResponse`, and a 101 that can be sent as it is.
    func decide(_ request: HTTPRequestHead, attempt: HandshakeAttempt, on eventLoop: any EventLoop) -> HandshakeDecision {
        var attempt = attempt
        if let refused = refusalBeforeHandshake(request) {
            return .now(refuse(refused, request: request, attempt: &attempt, traced: false, eventLoop: eventLoop))
        }
        guard let hook = configuration.processRequest else {
            return .now(handshake(request, attempt: attempt, eventLoop: eventLoop))
        }
        let start = attempt
        let decided = eventLoop.makePromise(of: HandshakeOutcome.self)
        // Whichever comes first decides, the other finds it done. (A lock, not a loop-bound
        // box: a framework's route may call this from off the loop.)
        let done = NIOLockedValueBox(false)
        // The open timeout bounds `processRequest` too: a hook that never answers cannot hold
        // the connection (and what it buffers) for longer.
        let timeout = configuration.connection.openTimeout.map { timeout in
            eventLoop.scheduleTask(deadline: start.startedAt + TimeAmount(clamping: timeout)) {
                guard done.withLockedValue({ d in defer { d = true }; return !d }) else { return }
                var attempt = start
                attempt.log.emit(.timedOut(waitingFor: "processRequest", timeout: timeout.seconds))
                decided.succeed(self.refuse(HandshakeRejection(kind: .timeout, status: .requestTimeout, reason: "opening handshake timed out"),
                                            request: request, attempt: &attempt, traced: false, eventLoop: eventLoop))
            }
        }
        configuration.runProcessRequest(hook, request, start.logContext, on: eventLoop).whenComplete { result in
            guard done.withLockedValue({ d in defer { d = true }; return !d }) else { return }
            timeout?.cancel()
            var attempt = start
            switch result {
            case .success(nil):
                decided.succeed(self.handshake(request, attempt: attempt, eventLoop: eventLoop))
            case .success(let response?):
                decided.succeed(self.answer(response, request: request, attempt: &attempt, eventLoop: eventLoop))
            case .failure(let error):
                attempt.log.emit(.internalError(description: "processRequest failed: \(error)"), error: error)
                decided.succeed(self.refuse(.internalError, request: request, attempt: &attempt, traced: false, eventLoop: eventLoop))
            }
        }
        return .later(decided.futureResult)
    }

    /// `processRequest`'s plain HTTP answer (health check, 401), or a framework route's, logged
    /// as `http_response_sent`; 500 for one that cannot be sent.
    func answer(_ response: HTTPResponse, request: HTTPRequestHead, attempt: inout HandshakeAttempt,
                        eventLoop: any EventLoop) -> HandshakeOutcome {
        let answer = WebSocketHTTPUpgrader.HTTPAnswer(
            head: HTTPResponseHead(version: request.version, status: response.status, headers: response.headers), body: response.body)
        do {
            try HTTPHeadValidation.validate(answer.head)
        } catch {
            attempt.log.emit(.internalError(description: "processRequest answered with a response that cannot be sent: \(error)"), error: error)
            return refuse(.internalError, request: request, attempt: &attempt, traced: false, eventLoop: eventLoop)
        }
        attempt.engine.reject(request: request, response: answer.head)
        logLimited(.httpResponseSent(HTTPResponseSentInfo(status: Int(response.status.code), reason: response.status.reasonPhrase,
                                                          path: attempt.log.redaction.target(request.uri))),
                   limiter: answerLog, engine: &attempt.engine, traces: &attempt.traces, log: attempt.log, eventLoop: eventLoop)
        return .answer(answer, attempt)
    }

    /// The engine's handshake rules and `processResponse`, after a last look at shutdown.
    private func handshake(_ request: HTTPRequestHead, attempt: HandshakeAttempt, eventLoop: any EventLoop) -> HandshakeOutcome {
        var attempt = attempt
        if isStopping {  // shutdown began while processRequest ran
            return refuse(.shuttingDown, request: request, attempt: &attempt, traced: false, eventLoop: eventLoop)
        }
        switch attempt.engine.accept(request, options: handshake) {
        case .failure(let rejection):
            return refuse(rejection, request: request, attempt: &attempt, traced: true, eventLoop: eventLoop)
        case .success(var accepted):
            configuration.processResponse?(request, &accepted.response)
            do {
                // What the engine builds from the parsed request is sendable as it is; what the
                // application adds (processResponse, a selector, configured headers) is checked.
                if responseNeedsCheck { try HTTPHeadValidation.validate(accepted.response) }
            } catch {
                // The engine is OPEN already: this attempt's engine is dropped with the answer.
                attempt.log.emit(.internalError(description: "the 101 response cannot be sent: \(error)"), error: error)
                return refuse(.internalError, request: request, attempt: &attempt, traced: true, eventLoop: eventLoop)
            }
            return .upgrade(attempt, response: accepted.response, subprotocol: accepted.subprotocol)
        }
    }

    /// The refusal as an answer, logged as `connection_rejected` with the handshake's traces.
    func refuse(_ rejection: HandshakeRejection, request: HTTPRequestHead?, attempt: inout HandshakeAttempt, traced: Bool,
                eventLoop: any EventLoop) -> HandshakeOutcome {
        let serverHeader = configuration.handshake.serverHeader
        var answer = WebSocketHTTPUpgrader.HTTPAnswer(rejection, version: request?.version ?? .http1_1, serverHeader: serverHeader)
        if (try? HTTPHeadValidation.validate(answer.head)) == nil {  // a Server header that cannot be sent
            answer = WebSocketHTTPUpgrader.HTTPAnswer(rejection, version: request?.version ?? .http1_1, serverHeader: nil)
        }
        if !traced, let request { attempt.engine.reject(request: request, response: answer.head) }
        logRejection(rejection, request: request, engine: &attempt.engine, traces: &attempt.traces, log: attempt.log,
                     eventLoop: eventLoop)
        return .answer(answer, attempt)
    }
}

extension HandshakeRejection {
    /// A hook failed or answered something that cannot be sent (500; the ERROR record says which).
    static let internalError = HandshakeRejection(kind: .refused, status: .internalServerError, reason: "internal server error")
}
