import NIOCore
import NIOHTTP1
import WebSocketCore
import WebSocketLogging

extension WebSocketHTTPUpgrader {
    /// What the upgrader makes of one upgrade request: the standalone server's rules, in its order.
    public enum Decision: Sendable {
        /// The handshake is valid: answer 101 and let ``AcceptedUpgrade`` install the connection.
        case upgrade(AcceptedUpgrade)
        /// Answer with this instead (a refused handshake or a `processRequest` response), already logged.
        case answer(HTTPAnswer)
    }

    /// An HTTP answer to an upgrade request that is not upgraded.
    public struct HTTPAnswer: Error, Sendable {
        /// The status line and headers (`Content-Length` and `Connection: close` included).
        public let head: HTTPResponseHead
        /// The body: a refusal's reason in words (`missing Sec-WebSocket-Key header`), or
        /// `processRequest`'s body.
        public let body: ByteBuffer

        init(head: HTTPResponseHead, body: ByteBuffer) {
            var head = head
            head.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            self.head = head
            self.body = body
        }

        init(_ rejection: HandshakeRejection, version: HTTPVersion, serverHeader: String?) {
            var head = rejection.responseHead(serverHeader: serverHeader)
            head.version = version
            self.init(head: head, body: ByteBuffer(string: rejection.body))
        }

        /// Writes the answer through the channel's HTTP encoder, then closes the connection.
        func writeAndClose(on channel: any Channel) {
            channel.write(HTTPServerResponsePart.head(head), promise: nil)
            channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// A valid handshake, ready to become a connection: for a framework whose route writes the
    /// 101 itself (Vapor), the `HTTPServerProtocolUpgrader` its upgrade handler runs.
    public struct AcceptedUpgrade: HTTPServerProtocolUpgrader, Sendable {
        let upgrader: WebSocketHTTPUpgrader
        let opening: WebSocketConnectionHandler.Opening

        /// `websocket`.
        public var supportedProtocol: String { "websocket" }
        /// None: the handshake was checked already.
        public var requiredUpgradeHeaders: [String] { [] }

        /// The 101's headers: `Upgrade`, `Connection`, `Sec-WebSocket-Accept`, the subprotocol and extensions.
        public func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                                         initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
            channel.eventLoop.makeSucceededFuture(responseHeaders(initial: initialResponseHeaders))
        }

        /// Installs the open connection's handler (last in the pipeline when the upgrade handler
        /// has already removed itself, as Vapor's does).
        public func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
            let present = (try? context.pipeline.syncOperations.context(handler: context.handler)) != nil
            return upgrader.install(opening, on: context.channel, after: present ? context.handler : nil)
        }

        /// `initial` (NIO's upgrade handlers pass Upgrade and Connection in; Vapor's passes
        /// nothing) and the handshake's response headers.
        func responseHeaders(initial: HTTPHeaders) -> HTTPHeaders {
            var headers = initial
            let nioHeaders = headers.contains(name: "Upgrade")
            for (name, value) in opening.response.headers {
                let lower = name.lowercased()
                if nioHeaders && (lower == "upgrade" || lower == "connection") { continue }
                headers.add(name: name, value: value)
            }
            return headers
        }
    }

    /// For frameworks whose routes answer the upgrade request themselves (Vapor's
    /// `Response(status: .switchingProtocols)`): the standalone server's rules applied to
    /// `request` from `remoteAddress` — shutdown, origin policy, ``ServerConfiguration/processRequest``,
    /// then the handshake — before the route commits to a 101.
    public func decide(_ request: HTTPRequestHead, remoteAddress: SocketAddress?, on eventLoop: any EventLoop) async -> Decision {
        // `decide` fails only with a Decision's answer; anything else would be a bug, answered 500.
        (try? await decide(request, peer: remoteAddress, eventLoop: eventLoop).get())
            ?? .answer(HTTPAnswer(HandshakeRejection(kind: .refused, status: .internalServerError, reason: "internal server error"),
                                  version: request.version, serverHeader: configuration.handshake.serverHeader))
    }

    /// One request's handshake until it opens or is answered.
    private struct Attempt: Sendable {
        var engine: WebSocketEngine
        var traces: TraceBudget
        let log: WebSocketEventLogger
        let logContext: ConnectionContext
        let startedAt: NIODeadline
    }

    func decide(_ request: HTTPRequestHead, peer: SocketAddress?, eventLoop: any EventLoop) -> EventLoopFuture<Decision> {
        let startedAt = NIODeadline.now()
        let (address, source) = configuration.clientAddress(peer: peer?.logHost, headers: request.headers)
        let logContext = ConnectionContext(peerAddress: peer?.logHost, peerPort: peer?.port)
            .with(clientAddress: address, source: source, requestHeaders: request.headers,
                  traceContext: TracePropagation.traceContext(in: request.headers))
        let log = self.log.with(connection: logContext)
        var engine = WebSocketEngine(role: .server, configuration: configuration.connection.engineConfiguration)
        engine.isTracing = log.wantsTraces
        var attempt = Attempt(engine: engine, traces: TraceBudget(limit: configuration.connection.traceBudget),
                              log: log, logContext: logContext, startedAt: startedAt)
        if let refused = side.refusalBeforeHandshake(request) {
            return eventLoop.makeSucceededFuture(refuse(refused, request: request, attempt: &attempt, traced: false, eventLoop: eventLoop))
        }
        guard let hook = configuration.processRequest else {
            return eventLoop.makeSucceededFuture(handshake(request, attempt: attempt, eventLoop: eventLoop))
        }
        let start = attempt
        return configuration.runProcessRequest(hook, request, logContext, on: eventLoop).map { response in
            var attempt = start
            guard let response else { return self.handshake(request, attempt: attempt, eventLoop: eventLoop) }
            let answer = HTTPAnswer(head: HTTPResponseHead(version: request.version, status: response.status, headers: response.headers),
                                    body: response.body)
            attempt.engine.reject(request: request, response: answer.head)
            while let trace = attempt.engine.nextTrace() { if attempt.traces.admit(trace) { attempt.log.emit(trace: trace) } }
            attempt.log.emit(.httpResponseSent(HTTPResponseSentInfo(status: Int(response.status.code), reason: response.status.reasonPhrase,
                                                                    path: attempt.log.redaction.target(request.uri))))
            return .answer(answer)
        }.flatMapErrorThrowing { error in
            var attempt = start
            attempt.log.emit(.internalError(description: "processRequest failed: \(error)"), error: error)
            return self.refuse(HandshakeRejection(kind: .refused, status: .internalServerError, reason: "internal server error"),
                               request: request, attempt: &attempt, traced: false, eventLoop: eventLoop)
        }
    }

    /// The engine's handshake rules and `processResponse`.
    private func handshake(_ request: HTTPRequestHead, attempt: Attempt, eventLoop: any EventLoop) -> Decision {
        var attempt = attempt
        switch attempt.engine.accept(request, options: side.handshake) {
        case .failure(let rejection):
            return refuse(rejection, request: request, attempt: &attempt, traced: true, eventLoop: eventLoop)
        case .success(var accepted):
            configuration.processResponse?(request, &accepted.response)
            let extensions = (try? ExtensionOffer.parse(accepted.response.headers["Sec-WebSocket-Extensions"])) ?? []
            return .upgrade(AcceptedUpgrade(upgrader: self, opening: WebSocketConnectionHandler.Opening(
                engine: attempt.engine, request: request, response: accepted.response, subprotocol: accepted.subprotocol,
                extensions: extensions, log: attempt.log, logContext: attempt.logContext, startedAt: attempt.startedAt,
                early: ByteBuffer(), traces: attempt.traces)))
        }
    }

    /// The refusal as an answer, logged as `connection_rejected` with the handshake's traces.
    private func refuse(_ rejection: HandshakeRejection, request: HTTPRequestHead, attempt: inout Attempt, traced: Bool,
                        eventLoop: any EventLoop) -> Decision {
        let serverHeader = configuration.handshake.serverHeader
        if !traced { attempt.engine.reject(request: request, response: rejection.responseHead(serverHeader: serverHeader)) }
        side.logRejection(rejection, request: request, engine: &attempt.engine, traces: &attempt.traces, log: attempt.log,
                          eventLoop: eventLoop)
        return .answer(HTTPAnswer(rejection, version: request.version, serverHeader: serverHeader))
    }
}
