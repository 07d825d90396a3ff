import Instrumentation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import WebSocketCore
import WebSocketLogging

/// A WebSocket server on SwiftNIO.
///
/// ```swift
/// let server = try await WebSocketServer.serve(host: "127.0.0.1", port: 8765) { ws in
///     for try await message in ws.messages { try await ws.send(message) }
/// }
/// try await server.run()   // until shutdown() (e.g. on SIGTERM)
/// ```
///
/// The handler runs once per connection, in its own task, with ``ConnectionContext/current``
/// set so that log calls inside it carry the connection's context. When it returns the
/// connection closes with 1000; when it throws, with 1011 and an ERROR `handler_failed` record
/// (the error is never sent to the peer).
///
/// A server can instead handle its connections with ``WebSocketCallbacks`` on their event
/// loops, with no task per connection: less memory per connection and less CPU per message.
public final class WebSocketServer: Sendable {
    /// The address the server listens on (the real port when 0 was asked for).
    public let localAddress: SocketAddress
    /// The configuration the server was started with.
    public let configuration: ServerConfiguration
    private let channel: any Channel
    private let connections: Connections
    private let log: WebSocketEventLogger
    private let stopped: EventLoopPromise<Void>
    /// The rate limits of `connection_rejected` and `tls_handshake_failed`.
    private let rejectionLogs: [RejectionLogLimiter]
    /// Writes `server_stats` (``ServerConfiguration/statsInterval``).
    private let statsReporter: StatsReporter?

    /// Binds `host:port` (IPv4 or IPv6; port 0 picks a free port) and starts accepting.
    public static func serve(host: String = "127.0.0.1", port: Int = 8765, configuration: ServerConfiguration = .init(),
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             handler: @escaping @Sendable (WebSocket) async throws -> Void) async throws -> WebSocketServer {
        try await serve(address: .host(host, port), configuration: configuration, group: group, handling: .task(handler))
    }

    /// Binds `host:port` and handles every connection with `callbacks`, on the connection's
    /// event loop, with no task per connection (see ``WebSocketCallbacks``).
    /// - Throws: ``WebSocketError`` (`invalid_configuration`) with
    ///   ``ConnectionOptions/streamFragments``, which callbacks do not support; bind errors.
    public static func serve(host: String = "127.0.0.1", port: Int = 8765, configuration: ServerConfiguration = .init(),
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             callbacks: some WebSocketCallbacks) async throws -> WebSocketServer {
        try await serve(address: .host(host, port), configuration: configuration, group: group, handling: .callbacks(callbacks))
    }

    /// Binds a Unix domain socket at `path` (an existing socket file is replaced).
    public static func serve(unixPath path: String, configuration: ServerConfiguration = .init(),
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             handler: @escaping @Sendable (WebSocket) async throws -> Void) async throws -> WebSocketServer {
        try await serve(address: .unix(path), configuration: configuration, group: group, handling: .task(handler))
    }

    /// Binds a Unix domain socket at `path` and handles every connection with `callbacks`
    /// (see ``serve(host:port:configuration:group:callbacks:)``).
    public static func serve(unixPath path: String, configuration: ServerConfiguration = .init(),
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             callbacks: some WebSocketCallbacks) async throws -> WebSocketServer {
        try await serve(address: .unix(path), configuration: configuration, group: group, handling: .callbacks(callbacks))
    }

    /// How a server's connections are handled.
    enum Handling: Sendable {
        /// A handler per connection, in its own task.
        case task(@Sendable (WebSocket) async throws -> Void)
        /// Callbacks on the connection's event loop.
        case callbacks(any WebSocketCallbacks)
    }

    enum BindAddress {
        case host(String, Int)
        case unix(String)
    }

    static func serve(address: BindAddress, configuration: ServerConfiguration, group: any EventLoopGroup,
                      handling: Handling) async throws -> WebSocketServer {
        var callbacks: (any WebSocketCallbacks)?
        if case .callbacks(let c) = handling {
            guard !configuration.connection.streamFragments else {
                throw WebSocketError(.invalidConfiguration, "streamFragments is not available with callbacks: they receive whole messages")
            }
            callbacks = c
        }
        // Created before bind: a connection accepted the instant the socket listens must
        // already find its handler.
        let statsReporter = StatsReporter(configuration)
        let base = configuration.makeEventLogger(stats: statsReporter?.stats)
        let connections = Connections(handling: handling, log: base, handlersOnEventLoop: configuration.runHandlersOnEventLoop,
                                      freedMemory: configuration.freedMemory)
        let sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        let options = configuration.connection
        let rejectionLog = configuration.rejectionLogLimit.map { RejectionLogLimiter(limit: $0) }
        let tlsFailureLog = configuration.rejectionLogLimit.map { RejectionLogLimiter(limit: $0, event: "tls_handshake_failed") }
        let hooks = ConnectionHooks(options: options, callbacks: callbacks, onOpen: { ws in connections.run(ws) },
                                    onClose: { ws in connections.closed(ws) })
        let side = ServerHandshakeHandler.ServerSide(configuration: configuration, log: base, rejectionLog: rejectionLog,
                                                     tlsFailureLog: tlsFailureLog, hooks: hooks,
                                                     connections: connections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // TCP_NODELAY: ServerBootstrap sets it on the listening socket and accepted sockets
            // inherit it, so setting it again per connection would only cost a system call.
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try options.apply(to: channel)  // the same options a mounted connection gets
                    let peer = channel.remoteAddress
                    let context = ConnectionContext(peerAddress: peer?.logHost, peerPort: peer?.port, node: configuration.node)
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ServerHandshakeHandler(server: side, logger: base, logContext: context))
                    connections.track(channel)
                }
            }
        let channel: any Channel
        switch address {
        case .host(let host, let port): channel = try await bootstrap.bind(host: host, port: port).get()
        case .unix(let path): channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        }
        let server = WebSocketServer(channel: channel, configuration: configuration, log: base, connections: connections,
                                     rejectionLogs: side.limiters, statsReporter: statsReporter)
        let local = channel.localAddress
        let shown: String
        switch local {
        case .v6(let a)?: shown = "[\(a.host)]:\(local?.port ?? 0)"
        case let a?: shown = a.pathname ?? "\(a.ipAddress ?? "?"):\(a.port ?? 0)"
        case nil: shown = "?"
        }
        server.log.emit(.serverListening(ServerListeningInfo(address: shown, host: local?.ipAddress, port: local?.port,
                                                             tls: configuration.tls != nil)))
        statsReporter?.start(log: base)
        return server
    }

    private init(channel: any Channel, configuration: ServerConfiguration, log: WebSocketEventLogger, connections: Connections,
                 rejectionLogs: [RejectionLogLimiter], statsReporter: StatsReporter?) {
        self.rejectionLogs = rejectionLogs
        self.statsReporter = statsReporter
        self.channel = channel
        self.configuration = configuration
        self.localAddress = channel.localAddress!
        self.connections = connections
        self.log = log
        self.stopped = channel.eventLoop.makePromise()
    }

    /// A server released without ``shutdown()`` (a forgotten call, an error thrown between
    /// start and shutdown) stops listening instead of leaking its socket; open connections go on
    /// until they close. Its `stopped` promise is completed here, where NIO would otherwise trap
    /// on a leaked promise in debug builds.
    deinit {
        if !connections.stopping.load(ordering: .relaxed) {
            channel.close(promise: nil)
            stopped.succeed()
        }
    }

    /// The bound port.
    public var port: Int { localAddress.port ?? 0 }

    /// The connections open right now (for ``broadcast(_:to:logger:)``).
    public var openConnections: [WebSocket] { connections.sockets.withLockedValue { Array($0.values) } }

    /// Stops accepting, closes every connection with 1001 (handshakes in progress get 503),
    /// waits up to the close timeout for them, then drops what is left. Handler tasks still
    /// running then are cancelled; the last `server_stats` window is written, and
    /// `server_closed` is logged once the last handler returned.
    /// Idempotent.
    public func shutdown() async {
        guard !connections.stopping.exchange(true, ordering: .relaxed) else {
            try? await stopped.futureResult.get()
            return
        }
        log.emit(.serverClosing)
        try? await channel.close()
        await connections.closeAll(closeTimeout: configuration.connection.closeTimeout)
        for limiter in rejectionLogs { limiter.report(to: log) }
        statsReporter?.finish()
        log.emit(.serverClosed)
        stopped.succeed()
    }

    /// Runs until the server is shut down: by ``shutdown()``, by a graceful shutdown of the
    /// `ServiceGroup` it runs in (swift-service-lifecycle, e.g. on SIGTERM), or by cancelling
    /// the calling task — each of which performs the graceful ``shutdown()``.
    public func run() async throws {
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await stopped.futureResult.get()
            } onGracefulShutdown: {
                Task { await self.shutdown() }
            }
        } onCancel: {
            Task { await self.shutdown() }
        }
    }
}

/// A server is a swift-service-lifecycle `Service`:
///
/// ```swift
/// let server = try await WebSocketServer.serve(port: 8765) { ws in ... }
/// let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()   // SIGTERM → connections closed with 1001 → run() returns
/// ```
extension WebSocketServer: Service {}

/// Waits for `future` at most `timeout`; `true` if it completed in time. Never hangs: a
/// future is not cancellable, so a task-group timeout would wait for it anyway.
func waitFor(_ future: EventLoopFuture<Void>, timeout: Duration) async -> Bool {
    final class Once: Sendable {
        let done = Atomic<Bool>(false)
    }
    let once = Once()
    let loop = future.eventLoop
    let promise = loop.makePromise(of: Bool.self)
    let timer = loop.scheduleTask(in: TimeAmount(clamping: timeout)) {
        if !once.done.exchange(true, ordering: .relaxed) { promise.succeed(false) }
    }
    future.whenComplete { _ in
        timer.cancel()
        if !once.done.exchange(true, ordering: .relaxed) { promise.succeed(true) }
    }
    return (try? await promise.futureResult.get()) ?? false
}
