import NIOCore
import NIOHTTP1
import Synchronization
import WebSocketCore
import WebSocketLogging

extension ServerHandshakeHandler {
    /// What every connection of one server shares, made once per server: a handler holds a
    /// reference, not a copy of the configuration. The standalone server's handshake handler
    /// and ``WebSocketHTTPUpgrader`` decide and log through the same methods.
    final class ServerSide: Sendable {
        let configuration: ServerConfiguration
        /// The server's event logger (no connection attached), with its metrics.
        let log: WebSocketEventLogger
        /// ``ServerConfiguration/effectiveHandshake``, computed once.
        let handshake: ServerHandshakeOptions
        let rejectionLog: RejectionLogLimiter?
        let tlsFailureLog: RejectionLogLimiter?
        /// `processRequest`'s answers (`http_response_sent`: health checks, `/metrics`, 401s)
        /// under the same limit as rejections: any client can send them at request rate.
        let answerLog: RejectionLogLimiter?
        /// Every limiter, for the report at shutdown.
        var limiters: [RejectionLogLimiter] { [rejectionLog, tlsFailureLog, answerLog].compactMap { $0 } }
        let hooks: ConnectionHooks
        private let connections: WebSocketServer.Connections
        /// The framework route (its pattern) whose connections these are, on their records; `nil`
        /// for the standalone server and a plain mount.
        let route: String?
        /// Whether a 101 can carry what the application chose (`processResponse`, a subprotocol
        /// selector, configured headers that are not sendable): then each one is checked.
        let responseNeedsCheck: Bool

        init(configuration: ServerConfiguration, log: WebSocketEventLogger, rejectionLog: RejectionLogLimiter?, tlsFailureLog: RejectionLogLimiter?,
             hooks: ConnectionHooks, connections: WebSocketServer.Connections, route: String? = nil) {
            self.configuration = configuration
            self.route = route
            self.log = log
            self.handshake = configuration.effectiveHandshake
            self.rejectionLog = rejectionLog
            self.tlsFailureLog = tlsFailureLog
            self.answerLog = configuration.rejectionLogLimit.map { RejectionLogLimiter(limit: $0, event: "http_response_sent") }
            self.hooks = hooks
            self.connections = connections
            var configured = configuration.handshake.extraHeaders
            if let server = configuration.handshake.serverHeader { configured.add(name: "Server", value: server) }
            for subprotocol in configuration.handshake.subprotocols { configured.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
            self.responseNeedsCheck = configuration.processResponse != nil || configuration.handshake.selectSubprotocol != nil
                || (try? HTTPHeadValidation.validate(configured)) == nil
        }

        /// Hooks for one connection whose handler comes with its request (a framework route's
        /// handler, given the request and what middleware found): the server's options and
        /// bookkeeping, that handler instead of the server's.
        func hooks(for handling: WebSocketServer.Handling) -> ConnectionHooks {
            let connections = self.connections
            switch handling {
            case .task(let handler):
                return ConnectionHooks(options: hooks.options, callbacks: nil, onOpen: { ws in connections.run(ws, handler: handler) },
                                       onClose: hooks.onClose)
            case .callbacks(let callbacks):
                return ConnectionHooks(options: hooks.options, callbacks: callbacks, onOpen: { ws in connections.run(ws, handler: nil) },
                                       onClose: hooks.onClose)
            }
        }

        /// Whether the server started shutting down: requests still arriving are answered 503.
        var isStopping: Bool { connections.stopping.load(ordering: .relaxed) }

        /// The refusals that come before the engine's handshake rules: shutdown (503) and the
        /// origin policy (403).
        func refusalBeforeHandshake(_ request: HTTPRequestHead) -> HandshakeRejection? {
            if isStopping { return .shuttingDown }
            if let origins = configuration.origins, !origins.allows(request.headers["Origin"].first) {
                return HandshakeRejection(kind: .refused, status: .forbidden, reason: "origin not allowed")
            }
            return nil
        }

        /// `connection_rejected` and the handshake's DEBUG traces, within the server's
        /// ``ServerConfiguration/rejectionLogLimit``: a flood of bad handshakes is counted, not written.
        func logRejection(_ rejection: HandshakeRejection, request: HTTPRequestHead?, engine: inout WebSocketEngine,
                          traces: inout TraceBudget, log: WebSocketEventLogger, eventLoop: any EventLoop) {
            logLimited(.connectionRejected(ConnectionRejectedInfo(
                status: Int(rejection.status.code), reason: rejection.reason, rejection: rejection.kind.rawValue,
                path: request.map { log.redaction.target($0.uri) }, subprotocolsOffered: request?.headers.offeredSubprotocols)),
                limiter: rejectionLog, engine: &engine, traces: &traces, log: log, eventLoop: eventLoop)
        }

        /// `event` and the handshake's DEBUG traces when `limiter` admits it; otherwise counted
        /// (metrics, and the `log_records_suppressed` report at the interval's end), traces dropped with it.
        func logLimited(_ event: WebSocketLogEvent, limiter: RejectionLogLimiter?, engine: inout WebSocketEngine,
                        traces: inout TraceBudget, log: WebSocketEventLogger, eventLoop: any EventLoop) {
            switch limiter.map({ $0.admit() }) ?? .log {
            case .log:
                while let trace = engine.nextTrace() { if traces.admit(trace) { log.emit(trace: trace) } }
                log.emit(event)
            case .suppress(let reportIn):
                while engine.nextTrace() != nil {}  // the suppressed record's traces go with it
                log.count(event)
                if let reportIn, let limiter {
                    let base = self.log
                    eventLoop.scheduleTask(in: reportIn) { limiter.report(to: base) }
                }
            }
        }
    }
}

extension HandshakeRejection {
    static let shuttingDown = HandshakeRejection(kind: .shuttingDown, status: .serviceUnavailable, reason: "server shutting down")
}
