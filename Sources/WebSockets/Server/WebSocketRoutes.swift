import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Synchronization
import NIOHTTP1
import WebSocketCompression
import WebSocketCore
import WebSocketLogging

/// What one WebSocket route of a framework's router sets over the server's
/// ``ServerConfiguration``: anything left `nil` (or `.server`) is the server's.
///
/// ```swift
/// router.ws("/rooms/:room", configuration: .init(maxMessageSize: 4096, subprotocols: ["chat"])) { ws, context in … }
/// ```
public struct WebSocketRouteConfiguration: Sendable {
    /// permessage-deflate on this route.
    public enum Compression: Sendable {
        /// The server's ``ServerConfiguration/compression``.
        case server
        /// Not offered on this route.
        case off
        /// Offered with these parameters.
        case on(PerMessageDeflateConfiguration)
    }

    /// Keepalive pings on this route.
    public enum Keepalive: Sendable {
        /// The server's ``ConnectionOptions/pingInterval`` and ``ConnectionOptions/pingTimeout``.
        case server
        /// No keepalive pings.
        case off
        /// A ping every `interval`; no pong within `timeout` fails the connection (1011).
        case every(Duration, timeout: Duration?)
    }

    /// Largest message accepted, bytes (1009 above it), or `nil` for the server's.
    public var maxMessageSize: Int?
    /// permessage-deflate on this route.
    public var compression: Compression
    /// The subprotocols this route speaks, in the server's order of preference, or `nil` for the server's.
    public var subprotocols: [String]?
    /// Keepalive pings on this route.
    public var keepalive: Keepalive
    /// Which `Origin`s this route accepts (403 otherwise), or `nil` for the server's policy.
    public var origins: OriginPolicy?

    /// Creates a route configuration; each parameter sets the property of the same name.
    public init(maxMessageSize: Int? = nil, compression: Compression = .server, subprotocols: [String]? = nil,
                keepalive: Keepalive = .server, origins: OriginPolicy? = nil) {
        precondition((maxMessageSize ?? 1) >= 1, "maxMessageSize must be at least 1")
        self.maxMessageSize = maxMessageSize
        self.compression = compression
        self.subprotocols = subprotocols
        self.keepalive = keepalive
        self.origins = origins
    }

    /// `server` with this route's settings over it.
    public func applied(to server: ServerConfiguration) -> ServerConfiguration {
        var configuration = server
        if let maxMessageSize { configuration.connection.maxMessageSize = maxMessageSize }
        switch compression {
        case .server: break
        case .off: configuration.compression = nil
        case .on(let deflate): configuration.compression = deflate
        }
        if let subprotocols { configuration.handshake.subprotocols = subprotocols }
        switch keepalive {
        case .server: break
        case .off: configuration.connection.pingInterval = nil
        case .every(let interval, let timeout):
            configuration.connection.pingInterval = interval
            configuration.connection.pingTimeout = timeout
        }
        if let origins { configuration.origins = origins }
        return configuration
    }
}

/// Routes: for frameworks whose router picks the route, runs its middleware, then hands the
/// connection its handler together with the request (Hummingbird's `router.ws`, Vapor's
/// `webSocket(_:configuration:)` in `Integrations/`).
extension WebSocketHTTPUpgrader {
    /// The upgrader of one route of a framework's router: `route` (the route's pattern,
    /// `/rooms/:room`) is on every record (`route`, beside `path`) and metric of its
    /// connections, and each connection's handler comes with its request
    /// (``decide(_:remoteAddress:on:handler:)``, ``decide(_:remoteAddress:on:callbacks:)``).
    public convenience init(route: String, configuration: ServerConfiguration = .init()) {
        self.init(configuration: configuration, shouldUpgrade: { _ in true }, handling: Self.routeHandling, route: route)
    }

    /// A route upgrader's server-wide handling: never used, each connection's comes with its request.
    static let routeHandling = WebSocketServer.Handling.task { _ in
        throw WebSocketError(.invalidConfiguration, "a route's connection needs its handler: decide(_:remoteAddress:on:handler:)")
    }

    /// ``decide(_:remoteAddress:on:)``, and an accepted connection runs `handler` (a route's,
    /// holding what its request carried) in its own task.
    public func decide(_ request: HTTPRequestHead, remoteAddress: SocketAddress?, on eventLoop: any EventLoop,
                       handler: @escaping @Sendable (WebSocket) async throws -> Void) async -> Decision {
        await decided(request, eventLoop) { decide(request, peer: remoteAddress, eventLoop: eventLoop, handling: .task(handler)) }
    }

    /// ``decide(_:remoteAddress:on:)``, and an accepted connection is handled by `callbacks` on
    /// its event loop (made for this connection from its request, or shared).
    public func decide(_ request: HTTPRequestHead, remoteAddress: SocketAddress?, on eventLoop: any EventLoop,
                       callbacks: some WebSocketCallbacks) async -> Decision {
        guard !configuration.connection.streamFragments else {
            log.emit(.internalError(description: "streamFragments is not available with callbacks: they receive whole messages"))
            return .answer(HTTPAnswer(.internalError, version: request.version, serverHeader: configuration.handshake.serverHeader))
        }
        return await decided(request, eventLoop) { decide(request, peer: remoteAddress, eventLoop: eventLoop, handling: .callbacks(callbacks)) }
    }

    /// The framework's own answer to an upgrade request (its middleware's 401, a route's 404),
    /// sent instead of a 101: logged as `http_response_sent` with the connection's context
    /// (client address, path, and `route`: the framework route that answered, or this
    /// upgrader's), as a `processRequest` answer is; 500 (and an ERROR record) for a response
    /// that cannot be sent as it is.
    public func answer(_ request: HTTPRequestHead, remoteAddress: SocketAddress?, on eventLoop: any EventLoop,
                       with response: HTTPResponse, route: String? = nil) -> Decision {
        var attempt = attempt(for: request, peer: remoteAddress, route: route)
        guard case .answer(let answer, _) = side.answer(response, request: request, attempt: &attempt, eventLoop: eventLoop) else {
            preconditionFailure("an answer is not an upgrade")
        }
        return .answer(answer)
    }

    /// NIO's typed-pipeline upgrader for a server whose routes decide (Hummingbird's router):
    /// `deciding` returns the decision for each upgrade request (a route upgrader's `decide`,
    /// or its `answer`); answers are written and the connection closed; `result` makes the
    /// pipeline's upgrade result once the connection runs.
    public static func typed<Result: Sendable>(
        deciding: @escaping @Sendable (HTTPRequestHead, any Channel) async -> Decision,
        result: @escaping @Sendable (any Channel) -> EventLoopFuture<Result>
    ) -> TypedWebSocketHTTPUpgrader<Result> {
        TypedWebSocketHTTPUpgrader(pending: PendingUpgrades(), result: result) { request, channel in
            let promise = channel.eventLoop.makePromise(of: Decision.self)
            promise.completeWithTask { await deciding(request, channel) }
            return promise.futureResult
        }
    }

    /// The decision `decide` makes; one that failed (a bug) is answered 500.
    func decided(_ request: HTTPRequestHead, _ eventLoop: any EventLoop,
                         _ decide: () -> EventLoopFuture<Decision>) async -> Decision {
        (try? await decide().get())
            ?? .answer(HTTPAnswer(.internalError, version: request.version, serverHeader: configuration.handshake.serverHeader))
    }
}

/// The upgraders of one server's routes, for a framework integration: one per route pattern,
/// made at its first connection with the route's settings over the server's configuration, and
/// one that logs the router's own answers (which name the route that answered).
public final class WebSocketRouteUpgraders: Sendable {
    /// The server's configuration, each route's settings over it.
    public let configuration: ServerConfiguration
    private let routes = NIOLockedValueBox<[String: WebSocketHTTPUpgrader]>([:])
    private let answers: WebSocketHTTPUpgrader
    /// One `server_stats` series for every route (``ServerConfiguration/statsInterval``).
    private let statsReporter: StatsReporter?
    /// Finished by ``shutdown()``: what ``shutdownOnGracefulShutdown()`` waits on.
    private let stopped = AsyncStream<Void>.makeStream()
    private let watchingShutdown = Atomic<Bool>(false)

    /// No route upgrader yet.
    public init(configuration: ServerConfiguration) {
        self.configuration = configuration
        let statsReporter = StatsReporter(configuration)
        self.statsReporter = statsReporter
        self.answers = WebSocketHTTPUpgrader(configuration: configuration, shouldUpgrade: { _ in false },
                                             handling: .task { _ in }, stats: .shared(statsReporter?.stats))
        statsReporter?.start(log: answers.log)
    }

    /// The upgrader of the route `pattern` (`/rooms/:room`), made at its first call with `route` over the server's configuration.
    public func upgrader(for pattern: String, _ route: WebSocketRouteConfiguration) -> WebSocketHTTPUpgrader {
        routes.withLockedValue { routes in
            if let upgrader = routes[pattern] { return upgrader }
            let upgrader = WebSocketHTTPUpgrader(configuration: route.applied(to: configuration), shouldUpgrade: { _ in true },
                                                 handling: WebSocketHTTPUpgrader.routeHandling, route: pattern,
                                                 stats: .shared(statsReporter?.stats))
            routes[pattern] = upgrader
            return upgrader
        }
    }

    /// Closes every route's connections with 1001 (later upgrades are declined), waits for them
    /// as ``WebSocketHTTPUpgrader/shutdown()`` does, and writes the last `server_stats` window.
    /// The integrations call it when the application shuts down.
    public func shutdown() async {
        let upgraders = routes.withLockedValue { Array($0.values) } + [answers]
        await withTaskGroup(of: Void.self) { group in
            for upgrader in upgraders { group.addTask { await upgrader.shutdown() } }
        }
        statsReporter?.finish()
        stopped.continuation.finish()
    }

    /// Calls ``shutdown()`` when the swift-service-lifecycle service that calls this (from its
    /// `run`, or code it runs) shuts down gracefully: for a server whose builder runs inside its
    /// service (Hummingbird's) and has no shutdown hook of its own. Outside a service group it
    /// only waits for an explicit ``shutdown()``.
    public func shutdownOnGracefulShutdown() {
        guard !watchingShutdown.exchange(true, ordering: .relaxed) else { return }  // one watcher: the stream has one reader
        Task {  // inherits the service's task-locals: its graceful shutdown reaches the handler
            await withGracefulShutdownHandler {
                for await _ in stopped.stream {}
            } onGracefulShutdown: {
                Task { await self.shutdown() }
            }
        }
    }

    /// The router's own answer to an upgrade request, logged with the route that answered
    /// (see ``WebSocketHTTPUpgrader/answer(_:remoteAddress:on:with:route:)``).
    public func answer(_ request: HTTPRequestHead, remoteAddress: SocketAddress?, on eventLoop: any EventLoop,
                       with response: HTTPResponse, route: String?) -> WebSocketHTTPUpgrader.Decision {
        answers.answer(request, remoteAddress: remoteAddress, on: eventLoop, with: response, route: route)
    }
}
