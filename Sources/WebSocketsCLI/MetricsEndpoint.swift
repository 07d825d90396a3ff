import CoreMetrics
import NIOHTTP1
import Prometheus
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
