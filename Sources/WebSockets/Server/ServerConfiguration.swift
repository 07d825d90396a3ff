import CoreMetrics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOHTTP1
import W3CTraceContext
import NIOSSL
import WebSocketCompression
import WebSocketCore
import WebSocketLogging

/// A plain HTTP response a `processRequest` hook returns instead of upgrading (health
/// checks, 401/403, redirects).
public struct HTTPResponse: Sendable {
    /// The response status.
    public var status: HTTPResponseStatus
    /// The response headers (`Content-Length` is added).
    public var headers: HTTPHeaders
    /// The response body.
    public var body: ByteBuffer

    /// A response; a non-empty body gets `Content-Type: text/plain; charset=utf-8` unless a type is given.
    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: String = "") {
        self.status = status
        self.headers = headers
        self.body = ByteBuffer(string: body)
        if !body.isEmpty && !headers.contains(name: "Content-Type") {
            self.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        }
    }
}

/// Which `Origin` values may open a connection (cross-site WebSocket hijacking defence).
public struct OriginPolicy: Sendable {
    let check: @Sendable (String?) -> Bool

    /// Only these exact origins (e.g. `https://example.com`); `allowMissing` admits clients
    /// that send no `Origin` (non-browser clients).
    public static func allowed(_ origins: Set<String>, allowMissing: Bool = false) -> OriginPolicy {
        OriginPolicy { origin in origin.map { origins.contains($0) } ?? allowMissing }
    }

    /// Any origin the predicate accepts (`nil` when the header is absent).
    public static func predicate(_ check: @escaping @Sendable (String?) -> Bool) -> OriginPolicy {
        OriginPolicy(check: check)
    }

    func allows(_ origin: String?) -> Bool { check(origin) }
}

/// Everything a server needs beyond the handler. Every field has a safe default.
public struct ServerConfiguration: Sendable {
    /// Subprotocols, the subprotocol selector, the `Server` header and extra 101 headers.
    public var handshake: ServerHandshakeOptions
    /// Allowed origins; `nil` (default) checks nothing.
    public var origins: OriginPolicy?
    /// Runs on each upgrade request before the handshake; returning a response answers with
    /// it instead of upgrading. Reads from the socket pause while it runs. It runs on the
    /// connection's event loop with ``runHandlersOnEventLoop`` (the default): do not block in it.
    public var processRequest: (@Sendable (HTTPRequestHead, ConnectionContext) async -> HTTPResponse?)?
    /// May edit the 101 response before it is sent.
    public var processResponse: (@Sendable (HTTPRequestHead, inout HTTPResponseHead) -> Void)?
    /// permessage-deflate (RFC 7692), on by default like Python websockets; `nil` turns it off.
    public var compression: PerMessageDeflateConfiguration?
    /// Limits and timeouts of each connection.
    public var connection: ConnectionOptions
    /// TLS (`wss://`); `nil` for plain TCP.
    public var tls: TLSConfiguration?
    /// The logger the library logs through (label `websockets.server`, like Python websockets).
    public var logger: Logger
    /// Where the connections' metrics go (``WebSocketMetricName`` lists them). `nil`, the default:
    /// swift-metrics' `MetricsSystem.factory`, so metrics are on exactly when the application
    /// bootstrapped a backend; set a factory to count into one of your own instead.
    public var metricsFactory: (any MetricsFactory)? = nil
    /// The level of each event.
    public var eventLevels: EventLevels
    /// What handshake records never contain.
    public var redaction: Redaction
    /// The proxies allowed to tell the client's address (`X-Forwarded-For` or RFC 7239
    /// `Forwarded`); none by default, so the client address is the socket peer. See
    /// ``TrustedProxies/resolve(peer:headers:)`` for the rule.
    public var trustedProxies: TrustedProxies
    /// Replaces ``trustedProxies`` with your own rule: returns the client address and its
    /// source (`peer`, `x-forwarded-for`, `forwarded`, or yours).
    public var clientAddressResolver: (@Sendable (_ peer: String?, _ headers: HTTPHeaders) -> (String?, String))?
    /// Whose W3C trace context (`traceparent`, `tracestate`) the server believes. Default
    /// ``TraceContextPolicy/accept``, the W3C default: anyone's.
    public var traceContext: TraceContextPolicy = .accept
    /// Listen backlog.
    public var backlog: Int32
    /// At most this many `connection_rejected` records per second; the rest are counted and
    /// reported once a second by a WARNING `log_records_suppressed` record, so a flood of bad
    /// handshakes cannot flood the log. `nil` logs every rejection. Default 20.
    public var rejectionLogLimit: Int?
    /// Run each connection's handler, and ``processRequest``, on its channel's event loop (a task
    /// executor preference) instead of the cooperative thread pool: no thread hop per message, a
    /// third less CPU per echoed message. Code in a handler must then not block (offload
    /// CPU-heavy or blocking work to another task or thread), as in any NIO channel handler.
    /// Default `true`.
    public var runHandlersOnEventLoop: Bool = true
    /// What happens to the memory closed connections freed: by default, returned to the system
    /// once more than 8 MiB lie free in the allocator (checked a second after connections
    /// close); `.keep` leaves it to the allocator. See ``FreedMemoryPolicy``.
    public var freedMemory: FreedMemoryPolicy = .default
    /// Every this long, an INFO `server_stats` record of the window just ended (connections
    /// open, opened and closed by outcome, rejections, traffic, duration percentiles, records
    /// suppressed and dropped), and one more at shutdown for the last, partial window. `nil`
    /// (the default) writes none and counts nothing. See ``WebSocketLogEvent/serverStats(_:)``.
    public var statsInterval: Duration? = nil
    /// This server's name among several (a cluster behind a load balancer, rooms across nodes):
    /// on every record it writes (JSON `node`, ECS `service.node.name`, OTLP `service.instance.id`)
    /// and on the broadcasts of its rooms. Default: the host name and the process id, `web-1:4242`.
    public var node: String = ServerConfiguration.defaultNode

    /// `HOSTNAME:PID` of this process.
    public static let defaultNode: String = {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        return "\(host.isEmpty ? "localhost" : host):\(getpid())"
    }()

    /// Creates a configuration; each parameter sets the property of the same name.
    public init(handshake: ServerHandshakeOptions = .init(), origins: OriginPolicy? = nil,
                processRequest: (@Sendable (HTTPRequestHead, ConnectionContext) async -> HTTPResponse?)? = nil,
                processResponse: (@Sendable (HTTPRequestHead, inout HTTPResponseHead) -> Void)? = nil,
                compression: PerMessageDeflateConfiguration? = .init(),
                connection: ConnectionOptions = .init(), tls: TLSConfiguration? = nil,
                logger: Logger = Logger(label: "websockets.server"), eventLevels: EventLevels = .default,
                redaction: Redaction = .default, trustedProxies: TrustedProxies = .none, backlog: Int32 = 256,
                rejectionLogLimit: Int? = 20) {
        self.handshake = handshake
        self.origins = origins
        self.processRequest = processRequest
        self.processResponse = processResponse
        self.compression = compression
        self.connection = connection
        self.tls = tls
        self.logger = logger
        self.eventLevels = eventLevels
        self.redaction = redaction
        self.trustedProxies = trustedProxies
        self.backlog = backlog
        self.rejectionLogLimit = rejectionLogLimit
    }

    /// The request's trace context if ``traceContext`` believes the socket peer `peer`.
    func acceptedTraceContext(peer: String?, headers: HTTPHeaders) -> TraceContext? {
        switch traceContext {
        case .accept: TracePropagation.traceContext(in: headers)
        case .proxies: trustedProxies.trustsPeer(peer) ? TracePropagation.traceContext(in: headers) : nil
        case .ignore: nil
        }
    }

    /// Whether the instrument may extract its context from this request (the same trust).
    func extractsServiceContext(peer: String?) -> Bool {
        switch traceContext {
        case .accept: true
        case .proxies: trustedProxies.trustsPeer(peer)
        case .ignore: false
        }
    }

    /// The handshake options with the compression negotiator applied.
    var effectiveHandshake: ServerHandshakeOptions {
        var options = handshake
        if options.extensions == nil, let compression { options.extensions = PerMessageDeflateNegotiator(configuration: compression) }
        return options
    }

    func clientAddress(peer: String?, headers: HTTPHeaders) -> (String?, String) {
        clientAddressResolver?(peer, headers) ?? trustedProxies.resolve(peer: peer, headers: headers)
    }

    /// Runs `processRequest` on `request`: on `eventLoop` when handlers run there (no hop to the
    /// cooperative pool and back for every handshake), else as a task on the pool.
    func runProcessRequest(_ hook: @escaping @Sendable (HTTPRequestHead, ConnectionContext) async -> HTTPResponse?,
                           _ request: HTTPRequestHead, _ context: ConnectionContext,
                           on eventLoop: any EventLoop) -> EventLoopFuture<HTTPResponse?> {
        let answer = eventLoop.makePromise(of: HTTPResponse?.self)
        let executor = runHandlersOnEventLoop ? EventLoopTaskExecutor(eventLoop) : nil
        Task(executorPreference: executor) { answer.succeed(await hook(request, context)) }
        return answer.futureResult
    }

    /// The server's event logger, with its metrics (labelled with `route` for a routed
    /// upgrader) and its stats: made once per server or route, shared by its connections.
    func makeEventLogger(route: String? = nil, stats: ServerStats? = nil) -> WebSocketEventLogger {
        var log = WebSocketEventLogger(logger: logger, levels: eventLevels, redaction: redaction,
                                       metrics: WebSocketMetrics(role: .server, factory: metricsFactory, route: route), stats: stats)
        log.node = node
        return log
    }
}

extension SocketAddress {
    /// The IP (or Unix path) without the port, as logged in `peer_addr`.
    var logHost: String? {
        switch self {
        case .v4, .v6: ipAddress
        case .unixDomainSocket: pathname ?? "unix"
        }
    }
}

/// Whose trace context a server believes. A `traceparent` puts its trace id on every record of
/// the connection, on OTLP records and into the handler's `ServiceContext` (the sampled flag
/// included): a client that sets it chooses which trace your logs join and whether it is sampled.
public enum TraceContextPolicy: String, Sendable, Hashable, CaseIterable {
    /// Anyone's (the W3C default): right when clients are your own services, or no client can
    /// harm you by choosing a trace.
    case accept
    /// Only from a socket peer in ``ServerConfiguration/trustedProxies`` (a gateway that sets
    /// or sanitises `traceparent`); other clients' headers are ignored.
    case proxies
    /// Nobody's: records carry no trace context from requests, and no instrument extracts one.
    case ignore
}
