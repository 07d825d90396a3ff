import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import WebSocketCore
import WebSocketLogging

/// This library's WebSocket connections inside an HTTP/1 server you already run on SwiftNIO
/// (Hummingbird, Vapor, your own pipeline): one port for HTTP and WebSocket.
///
/// It is an `HTTPServerProtocolUpgrader` (NIO's `configureHTTPServerPipeline(withServerUpgrade:)`,
/// what Vapor uses) and, through ``typed(_:)``, a `NIOTypedHTTPServerProtocolUpgrader` (what
/// Hummingbird's pipeline uses). It runs the standalone server's handshake rules (key, version,
/// origin policy, subprotocol selection, permessage-deflate), then installs the same connection
/// handler, already open: the same connection context (id, peer, trusted-proxy client address,
/// trace context), the same records and the same two handler styles.
///
/// ```swift
/// let upgrader = WebSocketHTTPUpgrader(configuration: configuration, shouldUpgrade: { $0.uri == "/ws" }) { ws in
///     for try await message in ws.messages { try await ws.send(message) }
/// }
/// try channel.pipeline.syncOperations.configureHTTPServerPipeline(
///     withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
/// ```
///
/// `processRequest` does not apply: the framework's routes and middleware answer plain HTTP.
/// A request this upgrader declines (``shouldUpgrade`` false, or a handshake it refuses, which
/// is logged as `connection_rejected`) goes on to the server's HTTP handlers.
public final class WebSocketHTTPUpgrader: Sendable {
    /// The handshake, connection and logging configuration (`processRequest` aside).
    public let configuration: ServerConfiguration
    private let shouldUpgrade: @Sendable (HTTPRequestHead) -> Bool
    private let side: ServerHandshakeHandler.ServerSide
    private let connections: WebSocketServer.Connections
    private let log: WebSocketEventLogger
    /// What `buildUpgradeResponse` accepted, until `upgrade` installs it (per channel).
    private let pending = NIOLockedValueBox<[ObjectIdentifier: WebSocketConnectionHandler.Opening]>([:])

    /// Upgrades the requests `shouldUpgrade` picks; each connection runs `handler` in its own
    /// task, like ``WebSocketServer/serve(host:port:configuration:group:handler:)``.
    public convenience init(configuration: ServerConfiguration = .init(),
                            shouldUpgrade: @escaping @Sendable (HTTPRequestHead) -> Bool = { _ in true },
                            handler: @escaping @Sendable (WebSocket) async throws -> Void) {
        self.init(configuration: configuration, shouldUpgrade: shouldUpgrade, handling: .task(handler))
    }

    /// Upgrades the requests `shouldUpgrade` picks and handles them with `callbacks` on their
    /// event loops (see ``WebSocketCallbacks``).
    /// - Throws: ``WebSocketError`` (`invalid_configuration`) with ``ConnectionOptions/streamFragments``.
    public convenience init(configuration: ServerConfiguration = .init(),
                            shouldUpgrade: @escaping @Sendable (HTTPRequestHead) -> Bool = { _ in true },
                            callbacks: some WebSocketCallbacks) throws {
        guard !configuration.connection.streamFragments else {
            throw WebSocketError(.invalidConfiguration, "streamFragments is not available with callbacks: they receive whole messages")
        }
        self.init(configuration: configuration, shouldUpgrade: shouldUpgrade, handling: .callbacks(callbacks))
    }

    init(configuration: ServerConfiguration, shouldUpgrade: @escaping @Sendable (HTTPRequestHead) -> Bool,
         handling: WebSocketServer.Handling) {
        var callbacks: (any WebSocketCallbacks)?
        if case .callbacks(let c) = handling { callbacks = c }
        let connections = WebSocketServer.Connections(handling: handling, log: configuration.eventLogger,
                                                      handlersOnEventLoop: configuration.runHandlersOnEventLoop)
        let hooks = ConnectionHooks(options: configuration.connection, callbacks: callbacks,
                                    onOpen: { ws in connections.run(ws) }, onClose: { ws in connections.closed(ws) })
        self.configuration = configuration
        self.shouldUpgrade = shouldUpgrade
        self.connections = connections
        self.log = configuration.eventLogger
        self.side = ServerHandshakeHandler.ServerSide(
            configuration: configuration, rejectionLog: configuration.rejectionLogLimit.map { RejectionLogLimiter(limit: $0) },
            tlsFailureLog: nil, hooks: hooks, connections: connections)
    }

    /// A `shouldUpgrade` that picks requests for one of `paths` (the request target before any
    /// `?query`): `WebSocketHTTPUpgrader(shouldUpgrade: WebSocketHTTPUpgrader.paths("/ws")) { … }`.
    public static func paths(_ paths: String...) -> @Sendable (HTTPRequestHead) -> Bool {
        let paths = Set(paths)
        return { request in paths.contains(String(request.uri.prefix { $0 != "?" })) }
    }

    /// The connections open right now (for ``broadcast(_:to:logger:)``).
    public var openConnections: [WebSocket] { connections.sockets.withLockedValue { Array($0.values) } }

    /// Closes every connection with 1001 and waits (up to the close timeout) for them and their
    /// handler tasks; later upgrades are declined. Call it when the HTTP server shuts down.
    public func shutdown() async {
        guard !connections.stopping.exchange(true, ordering: .relaxed) else { return }
        await connections.closeAll(closeTimeout: configuration.connection.closeTimeout)
        side.rejectionLog?.report(to: log)
    }

    /// Why an upgrade did not happen (the request then goes to the HTTP handlers).
    struct Declined: Error, CustomStringConvertible {
        let description: String
    }

    /// The 101's headers for `request`, or a failed future (logged when the handshake was
    /// refused); `channel`'s connection is then ready for ``install(on:)``.
    func accept(channel: any Channel, request: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let loop = channel.eventLoop
        guard shouldUpgrade(request) else { return loop.makeFailedFuture(Declined(description: "not a WebSocket route")) }
        switch decide(request, peer: channel.remoteAddress, allocator: channel.allocator, eventLoop: loop) {
        case .failure(let refused):
            return loop.makeFailedFuture(refused)
        case .success(let opening):
            var headers = initialResponseHeaders
            // NIO's upgrade handlers pass Upgrade and Connection in; Vapor's passes none.
            let nioHeaders = headers.contains(name: "Upgrade")
            for (name, value) in opening.response.headers {
                let lower = name.lowercased()
                if nioHeaders && (lower == "upgrade" || lower == "connection") { continue }
                headers.add(name: name, value: value)
            }
            let key = ObjectIdentifier(channel)
            pending.withLockedValue { $0[key] = opening }
            // An accepted handshake whose upgrade never happens (the channel closed first)
            // must not stay behind, nor be found by a later channel at the same address.
            let pending = self.pending
            channel.closeFuture.whenComplete { _ in pending.withLockedValue { _ = $0.removeValue(forKey: key) } }
            return loop.makeSucceededFuture(headers)
        }
    }

    /// The standalone server's rules for `request`: the connection's opening, or the refusal
    /// (logged as `connection_rejected`, with its DEBUG traces).
    private func decide(_ request: HTTPRequestHead, peer: SocketAddress?, allocator: ByteBufferAllocator,
                        eventLoop: any EventLoop) -> Result<WebSocketConnectionHandler.Opening, HandshakeRejection> {
        let startedAt = NIODeadline.now()
        let (address, source) = configuration.clientAddress(peer: peer?.logHost, headers: request.headers)
        let logContext = ConnectionContext(peerAddress: peer?.logHost, peerPort: peer?.port)
            .with(clientAddress: address, source: source, requestHeaders: request.headers,
                  traceContext: TracePropagation.traceContext(in: request.headers))
        let log = self.log.with(connection: logContext)
        var engine = WebSocketEngine(role: .server, configuration: configuration.connection.engineConfiguration)
        engine.isTracing = log.wantsTraces
        var traces = TraceBudget(limit: configuration.connection.traceBudget)
        var refused: HandshakeRejection
        if let early = side.refusalBeforeHandshake(request) {
            refused = early
            engine.reject(request: request, response: refused.responseHead(serverHeader: configuration.handshake.serverHeader))
        } else {
            switch engine.accept(request, options: side.handshake) {
            case .failure(let rejection):
                refused = rejection
            case .success(var accepted):
                configuration.processResponse?(request, &accepted.response)
                let extensions = (try? ExtensionOffer.parse(accepted.response.headers["Sec-WebSocket-Extensions"])) ?? []
                return .success(WebSocketConnectionHandler.Opening(
                    engine: engine, request: request, response: accepted.response, subprotocol: accepted.subprotocol,
                    extensions: extensions, log: log, logContext: logContext, startedAt: startedAt,
                    early: allocator.buffer(capacity: 0), traces: traces))
            }
        }
        side.logRejection(refused, request: request, engine: &engine, traces: &traces, log: log, eventLoop: eventLoop)
        return .failure(refused)
    }

    /// An HTTP answer to an upgrade request this library refuses.
    public struct Refusal: Sendable {
        /// The status line and headers (`Content-Length` and `Connection: close` included).
        public let head: HTTPResponseHead
        /// The reason, in words (`missing Sec-WebSocket-Key header`).
        public let body: String
    }

    /// For frameworks whose routes answer the upgrade request themselves (Vapor's
    /// `Response(status: .switchingProtocols)`): the handshake rules applied to `request` from
    /// `remoteAddress` before the route commits to a 101. `nil` when the upgrade may go ahead
    /// (the handshake is then made again, for the channel, when the framework upgrades);
    /// otherwise the response to send instead, already logged as `connection_rejected`.
    public func refusal(for request: HTTPRequestHead, remoteAddress: SocketAddress?, on eventLoop: any EventLoop) -> Refusal? {
        guard case .failure(let refused) = decide(request, peer: remoteAddress, allocator: ByteBufferAllocator(), eventLoop: eventLoop) else {
            return nil
        }
        return Self.refusal(refused, version: request.version, serverHeader: configuration.handshake.serverHeader)
    }

    static func refusal(_ rejection: HandshakeRejection, version: HTTPVersion, serverHeader: String?) -> Refusal {
        var head = rejection.responseHead(serverHeader: serverHeader)
        head.version = version
        head.headers.replaceOrAdd(name: "Content-Length", value: String(rejection.body.utf8.count))
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        return Refusal(head: head, body: rejection.body)
    }

    /// After the 101 went out: the open connection's handler, installed on `channel` (right
    /// after `upgradeHandler` when known, so that the bytes reach it before any HTTP handler
    /// the application has yet to remove).
    func install(on channel: any Channel, after upgradeHandler: (any ChannelHandler)? = nil) -> EventLoopFuture<Void> {
        guard let opening = pending.withLockedValue({ $0.removeValue(forKey: ObjectIdentifier(channel)) }) else {
            return channel.eventLoop.makeFailedFuture(Declined(description: "no accepted handshake on this channel"))
        }
        return channel.eventLoop.makeCompletedFuture {
            var opening = opening
            var traces = opening.traces
            while let trace = opening.engine.nextTrace() { if traces.admit(trace) { opening.log.emit(trace: trace) } }
            opening.traces = traces
            connections.track(channel)
            // The connection reads as it can process (it asks for reads), as in the standalone server.
            try channel.syncOptions?.setOption(.autoRead, value: false)
            let handler = WebSocketConnectionHandler(opening: opening, hooks: side.hooks)
            if let upgradeHandler {
                try channel.pipeline.syncOperations.addHandler(handler, position: .after(upgradeHandler))
            } else {
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
    }

    /// The same upgrader for NIO's typed pipeline (`configureUpgradableHTTPServerPipeline`,
    /// Hummingbird): `result` makes the pipeline's upgrade result once the connection runs.
    public func typed<Result: Sendable>(
        _ result: @escaping @Sendable (any Channel) -> EventLoopFuture<Result>
    ) -> TypedWebSocketHTTPUpgrader<Result> {
        TypedWebSocketHTTPUpgrader(upgrader: self, result: result)
    }
}

extension WebSocketHTTPUpgrader: HTTPServerProtocolUpgrader {
    /// `websocket`.
    public var supportedProtocol: String { "websocket" }
    /// None: the handshake rules check the headers, with errors of their own.
    public var requiredUpgradeHeaders: [String] { [] }

    /// The 101's headers (`Sec-WebSocket-Accept`, subprotocol, extensions), or a failed future
    /// for a request declined or refused (refusals are logged as `connection_rejected`).
    public func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                                     initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        accept(channel: channel, request: upgradeRequest, initialResponseHeaders: initialResponseHeaders)
    }

    /// Installs the open connection's handler after the upgrade handler, or last in the
    /// pipeline when the upgrade handler has already removed itself (Vapor's does).
    public func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        let present = (try? context.pipeline.syncOperations.context(handler: context.handler)) != nil
        return install(on: context.channel, after: present ? context.handler : nil)
    }
}

/// A ``WebSocketHTTPUpgrader`` in NIO's typed upgrade pipeline (see ``WebSocketHTTPUpgrader/typed(_:)``).
public struct TypedWebSocketHTTPUpgrader<UpgradeResult: Sendable>: NIOTypedHTTPServerProtocolUpgrader {
    let upgrader: WebSocketHTTPUpgrader
    let result: @Sendable (any Channel) -> EventLoopFuture<UpgradeResult>

    /// `websocket`.
    public var supportedProtocol: String { "websocket" }
    /// None: the handshake rules check the headers.
    public var requiredUpgradeHeaders: [String] { [] }

    /// NIO's typed upgrade handler does not pass a request it failed to upgrade on to the HTTP
    /// handlers (it has consumed the head), so the answer is written here: the handshake's
    /// rejection (as the standalone server sends it), or 404 for a path this upgrader declines.
    public func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                                     initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let serverHeader = upgrader.configuration.handshake.serverHeader
        return upgrader.accept(channel: channel, request: upgradeRequest, initialResponseHeaders: initialResponseHeaders)
            .flatMapError { error in
                let rejection = error as? HandshakeRejection
                    ?? HandshakeRejection(kind: .refused, status: .notFound, reason: "no WebSocket endpoint at this path")
                let refusal = WebSocketHTTPUpgrader.refusal(rejection, version: upgradeRequest.version, serverHeader: serverHeader)
                channel.write(HTTPServerResponsePart.head(refusal.head), promise: nil)
                channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: refusal.body))), promise: nil)
                channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
                return channel.eventLoop.makeFailedFuture(error)
            }
    }

    /// Installs the open connection's handler, then makes the pipeline's result.
    public func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        upgrader.install(on: channel).flatMap { result(channel) }
    }
}

/// An upgrader is a swift-service-lifecycle `Service`: run it beside the HTTP server (e.g.
/// Hummingbird's `Application(services:)`) and a graceful shutdown closes its connections with 1001.
extension WebSocketHTTPUpgrader: Service {
    /// Waits for the graceful shutdown (or cancellation) of the service group, then ``shutdown()``.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}
