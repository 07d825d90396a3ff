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
        /// The upgrader's, or this connection's own when its handler came with the request.
        let hooks: ConnectionHooks

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
            return upgrader.install(opening, hooks: hooks, on: context.channel, after: present ? context.handler : nil)
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
        await decided(request, eventLoop) { decide(request, peer: remoteAddress, eventLoop: eventLoop) }
    }

    /// The server's decision (``ServerHandshakeHandler/ServerSide/decide(_:attempt:on:)``, the
    /// standalone server's too) for a request from `peer`; an accepted connection runs
    /// `handling` when given (a route's handler with its request), else the upgrader's.
    func decide(_ request: HTTPRequestHead, peer: SocketAddress?, eventLoop: any EventLoop,
                handling: WebSocketServer.Handling? = nil) -> EventLoopFuture<Decision> {
        var attempt = attempt(for: request, peer: peer)
        // The framework parsed the head with its own limits: ours apply too (414, 431), as in
        // the standalone server.
        if let error = configuration.connection.httpLimits.check(request) {
            guard case .answer(let answer, _) = side.refuse(error.rejection, request: request, attempt: &attempt, traced: false,
                                                            eventLoop: eventLoop) else { preconditionFailure("a refusal answers") }
            return eventLoop.makeSucceededFuture(.answer(answer))
        }
        let hooks = handling.map { side.hooks(for: $0) } ?? side.hooks
        return side.decide(request, attempt: attempt, on: eventLoop).future(on: eventLoop).map { outcome in
            switch outcome {
            case .answer(let answer, _):
                return .answer(answer)
            case .upgrade(var attempt, let response, let subprotocol):
                attempt.drainTraces()  // the handshake's lines, before the connection's records
                return .upgrade(AcceptedUpgrade(upgrader: self, opening: self.side.opening(
                    attempt, request: request, response: response, subprotocol: subprotocol, early: ByteBuffer(), mounted: true),
                    hooks: hooks))
            }
        }
    }

    /// A new attempt at `request` from `peer`: its connection context (client address, trace,
    /// path, and `route` or the upgrader's), logger and engine.
    func attempt(for request: HTTPRequestHead, peer: SocketAddress?, route: String? = nil) -> HandshakeAttempt {
        let base = ConnectionContext(peerAddress: peer?.logHost, peerPort: peer?.port, node: configuration.node)
        let logContext = side.context(for: request, base: base, log: log, route: route)
        let log = self.log.with(connection: logContext)
        var engine = WebSocketEngine(role: .server, configuration: configuration.connection.engineConfiguration)
        engine.isTracing = log.wantsTraces
        return HandshakeAttempt(engine: engine, traces: TraceBudget(limit: configuration.connection.traceBudget),
                                log: log, logContext: logContext, startedAt: .now())
    }
}
