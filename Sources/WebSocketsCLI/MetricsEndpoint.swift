import CoreMetrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import WebSocketCore
import WebSocketLogging
import WebSockets

/// `serve --metrics`: swift-metrics bootstrapped with a Prometheus registry, whose text
/// exposition is the answer to `GET /metrics` on the server's own port (a `processRequest`
/// response, logged as `http_response_sent` like any other).
struct MetricsEndpoint: Sendable {
    static let path = "/metrics"
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // swift-prometheus' default buckets (5 ms … 10 s) suit request latencies; a loopback
        // round trip is well under them and a connection lives far beyond them.
        factory.durationHistogramBuckets = [
            WebSocketMetricName.handshakeDuration.rawValue:
                [.microseconds(250), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
                 .milliseconds(500), .seconds(1), .seconds(5)],
            WebSocketMetricName.keepaliveRoundTrip.rawValue:
                [.microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(25),
                 .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10)],
            WebSocketMetricName.connectionDuration.rawValue:
                [.milliseconds(10), .milliseconds(100), .seconds(1), .seconds(10), .seconds(60), .seconds(600),
                 .seconds(3600), .seconds(21600), .seconds(86400)],
        ]
        self.factory = factory
    }

    /// Makes the registry swift-metrics' backend: the server's metrics and the log pipeline's
    /// drop count (which reads `MetricsSystem.factory`) both land in it.
    func bootstrap() {
        MetricsSystem.bootstrap(factory)
    }

    /// The answer to `GET /metrics`; `nil` for any other request (it goes on to the handshake).
    func response(to request: HTTPRequestHead) -> HTTPResponse? {
        guard request.method == .GET, Self.isMetricsPath(request.uri) else { return nil }
        return HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                            body: Self.withHelp(registry.emitToString()))
    }

    static func isMetricsPath(_ uri: String) -> Bool {
        uri == path || uri.hasPrefix(path + "?")
    }

    /// The exposition with a `# HELP` line before each of our metrics' `# TYPE` line
    /// (swift-metrics has no help text to pass on).
    static func withHelp(_ exposition: String) -> String {
        var out = ""
        out.reserveCapacity(exposition.utf8.count + 2048)
        for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.dropFirst(7).split(separator: " ").first,
               let metric = WebSocketMetricName(rawValue: String(name)) {
                out += "# HELP \(metric.rawValue) \(metric.help)\n"
            }
            out += line
            out += "\n"
        }
        if out.hasSuffix("\n\n") { out.removeLast() }
        return out
    }
}

/// `serve --metrics-listen HOST:PORT`: `/metrics` on an address of its own (a port the
/// operator's network can restrict), not on the public WebSocket port. A plain HTTP/1.1 server:
/// `GET /metrics` 200 with the exposition, another path 404, another method 405.
final class MetricsListener: Sendable {
    let channel: any Channel
    /// `HOST:PORT` as bound (the port picked when 0 was asked).
    let address: String

    private init(channel: any Channel, address: String) {
        self.channel = channel
        self.address = address
    }

    /// `HOST:PORT` or `[V6]:PORT` into its parts; nil when it is not one.
    static func parse(_ text: String) -> (host: String, port: Int)? {
        guard case .success(let parts) = HostPort.split(text[...]),
              parts.bracketed || !parts.host.contains(":"),  // an IPv6 address goes in brackets
              !parts.host.isEmpty, let port = Int(parts.port), (0...65535).contains(port) else { return nil }
        return (String(parts.host), port)
    }

    static func start(_ endpoint: MetricsEndpoint, host: String, port: Int, group: any EventLoopGroup) async throws -> MetricsListener {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Handler(endpoint: endpoint))
                }
            }
            .bind(host: host, port: port).get()
        let bound = channel.localAddress?.port ?? port
        return MetricsListener(channel: channel, address: host.contains(":") ? "[\(host)]:\(bound)" : "\(host):\(bound)")
    }

    func close() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let endpoint: MetricsEndpoint
        private var head: HTTPRequestHead?

        init(endpoint: MetricsEndpoint) { self.endpoint = endpoint }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                self.head = nil
                let response: HTTPResponse
                if !MetricsEndpoint.isMetricsPath(head.uri) {
                    response = HTTPResponse(status: .notFound, body: "not found: metrics are at /metrics\n")
                } else if head.method != .GET {
                    response = HTTPResponse(status: .methodNotAllowed, headers: ["Allow": "GET"], body: "use GET\n")
                } else {
                    response = endpoint.response(to: head) ?? HTTPResponse(status: .notFound)
                }
                var headers = response.headers
                headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
                if !head.isKeepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))),
                              promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
                let keepAlive = head.isKeepAlive
                let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                    if !keepAlive { loopContext.value.close(promise: nil) }
                }
            }
        }
    }
}
