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
/// The framework's routes answer plain HTTP, and an upgrade request ``shouldUpgrade`` declines.
/// A request the upgrader refuses (logged as `connection_rejected`) or that
/// ``ServerConfiguration/processRequest`` answers (logged as `http_response_sent`) is answered
/// as the standalone server answers it in the typed pipeline and through ``decide(_:remoteAddress:on:)``;
/// NIO's untyped pipeline passes it on to the HTTP handlers instead, and cannot run
/// `processRequest` (see ``buildUpgradeResponse(channel:upgradeRequest:initialResponseHeaders:)``).
public final class WebSocketHTTPUpgrader: Sendable {
    /// The handshake, connection and logging configuration.
    public let configuration: ServerConfiguration
    private let shouldUpgrade: @Sendable (HTTPRequestHead) -> Bool
    let side: ServerHandshakeHandler.ServerSide
    private let connections: WebSocketServer.Connections
    let log: WebSocketEventLogger
    /// Writes `server_stats` for a plain mount; `nil` with stats off and for a set of routes' upgrader.
    private let statsReporter: StatsReporter?
    /// Whether the untyped pipeline's refusal to run `processRequest` was logged.
    private let reportedUntypedProcessRequest = Atomic<Bool>(false)
    /// What `buildUpgradeResponse` accepted, until `upgrade` installs it (per channel).
    let pending = PendingUpgrades()
    /// The framework route (its pattern) whose connections these are: `route` on their records
    /// and metrics; `nil` for a plain mount.
    public var route: String? { side.route }

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

    /// Where the `server_stats` of an upgrader's connections are counted.
    enum Stats {
        /// Its own (``ServerConfiguration/statsInterval``), written by this upgrader.
        case own
        /// A set of routes' (``WebSocketRouteUpgraders``), written by their owner; `nil` with stats off.
        case shared(ServerStats?)
    }

    init(configuration: ServerConfiguration, shouldUpgrade: @escaping @Sendable (HTTPRequestHead) -> Bool,
         handling: WebSocketServer.Handling, route: String? = nil, stats: Stats = .own) {
        var callbacks: (any WebSocketCallbacks)?
        if case .callbacks(let c) = handling { callbacks = c }
        let counted: ServerStats?
        switch stats {
        case .own:
            statsReporter = StatsReporter(configuration)
            counted = statsReporter?.stats
        case .shared(let shared):
            statsReporter = nil
            counted = shared
        }
        let log = configuration.makeEventLogger(route: route, stats: counted)
        let connections = WebSocketServer.Connections(handling: handling, log: log,
                                                      handlersOnEventLoop: configuration.runHandlersOnEventLoop,
                                                      freedMemory: configuration.freedMemory)
        let hooks = ConnectionHooks(options: configuration.connection, callbacks: callbacks,
                                    onOpen: { ws in connections.run(ws) }, onClose: { ws in connections.closed(ws) })
        self.configuration = configuration
        self.shouldUpgrade = shouldUpgrade
        self.connections = connections
        self.log = log
        self.side = ServerHandshakeHandler.ServerSide(
            configuration: configuration, log: log, rejectionLog: configuration.rejectionLogLimit.map { RejectionLogLimiter(limit: $0) },
            tlsFailureLog: nil, hooks: hooks, connections: connections, route: route)
        statsReporter?.start(log: log)
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
    /// handler tasks; later upgrades are declined; the last `server_stats` window is written.
    /// Call it when the HTTP server shuts down.
    public func shutdown() async {
        guard !connections.stopping.exchange(true, ordering: .relaxed) else { return }
        await connections.closeAll(closeTimeout: configuration.connection.closeTimeout)
        for limiter in side.limiters { limiter.report(to: log) }
        statsReporter?.finish()
    }

    /// Why an upgrade did not happen (the request then goes to the HTTP handlers).
    struct Declined: Error, CustomStringConvertible {
        let description: String
    }

    /// The 101's headers for `request`, or a failed future: ``Declined``, or the ``HTTPAnswer``
    /// sent instead (logged); `channel`'s connection is then ready for `install(on:after:)`.
    func accept(channel: any Channel, request: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        guard shouldUpgrade(request) else {
            return channel.eventLoop.makeFailedFuture(Declined(description: "not a WebSocket route"))
        }
        return pending.accept(channel: channel, initialResponseHeaders: initialResponseHeaders) {
            self.decide(request, peer: channel.remoteAddress, eventLoop: channel.eventLoop)
        }
    }

    /// After the 101 went out: `channel`'s accepted handshake (``accept(channel:request:initialResponseHeaders:)``)
    /// becomes its connection.
    func install(on channel: any Channel, after upgradeHandler: (any ChannelHandler)? = nil) -> EventLoopFuture<Void> {
        pending.install(on: channel, after: upgradeHandler)
    }

    /// The open connection's handler, installed on `channel` (right after `upgradeHandler` when
    /// known, so that the bytes reach it before any HTTP handler the application has yet to remove).
    func install(_ opening: WebSocketConnectionHandler.Opening, hooks: ConnectionHooks, on channel: any Channel,
                 after upgradeHandler: (any ChannelHandler)?) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            connections.track(channel)
            let handler = WebSocketConnectionHandler(opening: opening, hooks: hooks)
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
        let serverHeader = configuration.handshake.serverHeader
        return TypedWebSocketHTTPUpgrader(pending: pending, result: result) { request, channel in
            guard self.shouldUpgrade(request) else {
                return channel.eventLoop.makeSucceededFuture(.answer(HTTPAnswer(
                    HandshakeRejection(kind: .refused, status: .notFound, reason: "no WebSocket endpoint at this path"),
                    version: request.version, serverHeader: serverHeader)))
            }
            return self.decide(request, peer: channel.remoteAddress, eventLoop: channel.eventLoop)
        }
    }
}

extension WebSocketHTTPUpgrader: HTTPServerProtocolUpgrader {
    /// `websocket`.
    public var supportedProtocol: String { "websocket" }
    /// None: the handshake rules check the headers, with errors of their own.
    public var requiredUpgradeHeaders: [String] { [] }

    /// The 101's headers (`Sec-WebSocket-Accept`, subprotocol, extensions), or a failed future
    /// for a request declined or refused (refusals are logged as `connection_rejected`): NIO
    /// then passes the request on to the HTTP handlers, which answer it.
    ///
    /// NIO's untyped pipeline gives an upgrader no way to answer a request itself, so
    /// ``ServerConfiguration/processRequest`` cannot run here: with one configured, every upgrade
    /// is refused (fail closed, one ERROR record says why). Check such requests in your HTTP
    /// handlers, or use ``typed(_:)``.
    public func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                                     initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        guard configuration.processRequest == nil else {
            if !reportedUntypedProcessRequest.exchange(true, ordering: .relaxed) {
                log.emit(.internalError(description: "processRequest cannot run in NIO's untyped upgrade pipeline: upgrades are refused; check requests in the HTTP handlers or use typed(_:)"))
            }
            return channel.eventLoop.makeFailedFuture(Declined(description: "processRequest in the untyped pipeline"))
        }
        return accept(channel: channel, request: upgradeRequest, initialResponseHeaders: initialResponseHeaders)
    }

    /// Installs the open connection's handler after the upgrade handler (NIO removes that
    /// handler only once this returns).
    public func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        install(on: context.channel, after: context.handler)
    }
}

/// A ``WebSocketHTTPUpgrader`` in NIO's typed upgrade pipeline (see ``WebSocketHTTPUpgrader/typed(_:)``
/// and ``WebSocketHTTPUpgrader/typed(deciding:result:)``).
public struct TypedWebSocketHTTPUpgrader<UpgradeResult: Sendable>: NIOTypedHTTPServerProtocolUpgrader {
    let pending: PendingUpgrades
    let result: @Sendable (any Channel) -> EventLoopFuture<UpgradeResult>
    let decide: @Sendable (HTTPRequestHead, any Channel) -> EventLoopFuture<WebSocketHTTPUpgrader.Decision>

    /// `websocket`.
    public var supportedProtocol: String { "websocket" }
    /// None: the handshake rules check the headers.
    public var requiredUpgradeHeaders: [String] { [] }

    /// NIO's typed upgrade handler does not pass a request it failed to upgrade on to the HTTP
    /// handlers (it has consumed the head), so the answer is written here: the handshake's
    /// rejection (as the standalone server sends it), the route's answer, or 404 for a path
    /// this upgrader declines.
    public func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                                     initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        pending.accept(channel: channel, initialResponseHeaders: initialResponseHeaders) { decide(upgradeRequest, channel) }
            .flatMapError { error in
                if let answer = error as? WebSocketHTTPUpgrader.HTTPAnswer { answer.writeAndClose(on: channel) } else { channel.close(promise: nil) }
                return channel.eventLoop.makeFailedFuture(error)
            }
    }

    /// Installs the open connection's handler, then makes the pipeline's result.
    public func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        pending.install(on: channel, after: nil).flatMap { result(channel) }
    }
}

/// Handshakes accepted by `buildUpgradeResponse`, until `upgrade` installs them (per channel).
final class PendingUpgrades: Sendable {
    private let accepted = NIOLockedValueBox<[ObjectIdentifier: WebSocketHTTPUpgrader.AcceptedUpgrade]>([:])

    /// The 101's headers once `decide` accepts (the handshake then waits here for `install`), or
    /// a failed future: the ``WebSocketHTTPUpgrader/HTTPAnswer`` to send instead.
    func accept(channel: any Channel, initialResponseHeaders: HTTPHeaders,
                decide: () -> EventLoopFuture<WebSocketHTTPUpgrader.Decision>) -> EventLoopFuture<HTTPHeaders> {
        // Input waits while the server decides (`processRequest`, a route's middleware): nothing
        // piles up behind the request meanwhile. A request that is not upgraded gives the
        // channel back as it was.
        let autoRead = (try? channel.syncOptions?.getOption(.autoRead)) ?? true
        try? channel.syncOptions?.setOption(.autoRead, value: false)
        return decide().always { result in
            if case .success(.answer) = result, autoRead { try? channel.syncOptions?.setOption(.autoRead, value: true) }
        }.flatMapThrowing { decision in
            switch decision {
            case .answer(let answer):
                throw answer
            case .upgrade(let upgrade):
                let key = ObjectIdentifier(channel)
                self.accepted.withLockedValue { $0[key] = upgrade }
                // An accepted handshake whose upgrade never happens (the channel closed first)
                // must not stay behind, nor be found by a later channel at the same address.
                channel.closeFuture.whenComplete { _ in self.accepted.withLockedValue { _ = $0.removeValue(forKey: key) } }
                return upgrade.responseHeaders(initial: initialResponseHeaders)
            }
        }
    }

    /// After the 101 went out: `channel`'s accepted handshake becomes its connection.
    func install(on channel: any Channel, after upgradeHandler: (any ChannelHandler)?) -> EventLoopFuture<Void> {
        guard let upgrade = accepted.withLockedValue({ $0.removeValue(forKey: ObjectIdentifier(channel)) }) else {
            return channel.eventLoop.makeFailedFuture(WebSocketHTTPUpgrader.Declined(description: "no accepted handshake on this channel"))
        }
        return upgrade.upgrader.install(upgrade.opening, hooks: upgrade.hooks, on: channel, after: upgradeHandler)
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
