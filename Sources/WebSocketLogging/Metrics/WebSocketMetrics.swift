import CoreMetrics
import NIOConcurrencyHelpers
import WebSocketCore

/// The library's numbers, kept through swift-metrics from the same typed events it logs (not by
/// parsing lines): one instance per server or client, shared by its connections.
///
/// Made only when a metrics backend is there (``init(role:factory:)`` returns `nil` for
/// swift-metrics' no-op factory), so with metrics off the event logger skips one `nil` check.
/// Per-message numbers are not counted per message: the connection's own counters are added at
/// each keepalive ping and at close (``addTraffic(_:since:)``). The names are listed in
/// ``WebSocketMetricName``; labels are bounded (role, outcome, close-code class, initiator,
/// rejection kind, status, and `route` — a framework route's pattern — on routed connections),
/// never a connection id or a path.
package final class WebSocketMetrics: Sendable {
    /// `server` or `client`: the `role` label of every metric but the pipeline's.
    package let role: String
    /// The base labels of every series but the pipeline's: the role, and the route when there is one.
    private let base: [(String, String)]
    private let factory: any MetricsFactory
    private let active: Meter
    private let opened: Counter
    private let handshakeDuration: Timer
    private let connectionDuration: Timer
    private let messagesIn: Counter
    private let messagesOut: Counter
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let keepaliveRoundTrip: Timer
    private let keepaliveTimeouts: Counter
    private let tlsFailures: Counter
    private let handlerFailures: Counter
    private let reconnects: Counter
    /// Counters with a label beyond the role, made at first use (their label values are bounded).
    private let labelled = NIOLockedValueBox<[String: Counter]>([:])

    /// Metrics through `factory`, or through `MetricsSystem.factory` when `nil`; `nil` when that
    /// factory is swift-metrics' no-op one (no backend bootstrapped).
    /// `route` (a framework route's pattern) labels every series of a routed upgrader's connections.
    package init?(role: Role, factory: (any MetricsFactory)? = nil, route: String? = nil) {
        let factory = factory ?? MetricsSystem.factory
        if factory is NOOPMetricsHandler { return nil }
        self.role = role.rawValue
        self.factory = factory
        let dims = [("role", role.rawValue)] + (route.map { [("route", $0)] } ?? [])
        self.base = dims
        func counter(_ name: WebSocketMetricName) -> Counter { Counter(label: name.rawValue, dimensions: dims, factory: factory) }
        func timer(_ name: WebSocketMetricName) -> Timer { Timer(label: name.rawValue, dimensions: dims, factory: factory) }
        active = Meter(label: WebSocketMetricName.connectionsActive.rawValue, dimensions: dims, factory: factory)
        opened = counter(.connectionsOpened)
        handshakeDuration = timer(.handshakeDuration)
        connectionDuration = timer(.connectionDuration)
        messagesIn = counter(.messagesReceived)
        messagesOut = counter(.messagesSent)
        bytesIn = counter(.bytesReceived)
        bytesOut = counter(.bytesSent)
        keepaliveRoundTrip = timer(.keepaliveRoundTrip)
        keepaliveTimeouts = counter(.keepaliveTimeouts)
        tlsFailures = counter(.tlsHandshakeFailures)
        handlerFailures = counter(.handlerFailures)
        reconnects = counter(.clientReconnects)
    }

    /// Which side of connections an instance counts.
    package enum Role: String, Sendable {
        case server, client
    }

    /// Counts what `event` says happened.
    package func record(_ event: WebSocketLogEvent) {
        switch event {
        case .connectionOpen(let info):
            opened.increment()
            active.increment()
            if let seconds = info.handshakeDuration { handshakeDuration.recordSeconds(seconds) }
        case .connectionClosed(let info):
            active.decrement()
            connectionDuration.recordSeconds(info.duration)
            let outcome = info.code == 1000 || info.code == 1001 ? "ok" : "error"
            let code = Self.codeClass(info.code)
            labelledCounter(.connectionsClosed, key: "\(outcome) \(code) \(info.initiator.rawValue)",
                            [("outcome", outcome), ("code", code), ("initiator", info.initiator.rawValue)]).increment()
        case .connectionRejected(let info):
            labelledCounter(.connectionsRejected, key: "\(info.rejection) \(info.status)",
                            [("reason", info.rejection), ("status", String(info.status))]).increment()
        case .httpResponseSent(let info):
            labelledCounter(.httpResponses, key: String(info.status), [("status", String(info.status))]).increment()
        case .pongReceived(let roundTrip):
            keepaliveRoundTrip.recordSeconds(roundTrip)
        case .keepaliveTimeout:
            keepaliveTimeouts.increment()
        case .tlsHandshakeFailed:
            tlsFailures.increment()
        case .handlerFailed:
            handlerFailures.increment()
        case .clientReconnecting:
            reconnects.increment()
        case .logRecordsSuppressed(let name, let count, _):
            labelledCounter(.logRecordsSuppressed, key: name, [("event", name)], role: false).increment(by: count)
        default:  // log_records_dropped is the pipeline's: ``LogPipeline`` counts it
            break
        }
    }

    /// Adds what a connection moved since it last added (``WebSocketEventLogger/addTraffic(_:since:)``).
    func addTraffic(messagesIn: Int, messagesOut: Int, bytesIn: Int, bytesOut: Int) {
        if messagesIn > 0 { self.messagesIn.increment(by: messagesIn) }
        if messagesOut > 0 { self.messagesOut.increment(by: messagesOut) }
        if bytesIn > 0 { self.bytesIn.increment(by: bytesIn) }
        if bytesOut > 0 { self.bytesOut.increment(by: bytesOut) }
    }

    /// Registered codes as themselves, the rest by range: a peer picks any 3000–4999 code, and
    /// one series per code it sends would let it grow the scrape without bound.
    package static func codeClass(_ code: Int) -> String {
        switch code {
        case 1000...1015: String(code)
        case 3000...3999: "3xxx"
        case 4000...4999: "4xxx"
        default: "other"
        }
    }

    private func labelledCounter(_ name: WebSocketMetricName, key: String, _ labels: [(String, String)],
                                 role withRole: Bool = true) -> Counter {
        let fullKey = name.rawValue + " " + key
        return labelled.withLockedValue { counters in
            if let counter = counters[fullKey] { return counter }
            let counter = Counter(label: name.rawValue, dimensions: withRole ? base + labels : labels, factory: factory)
            counters[fullKey] = counter
            return counter
        }
    }
}

/// The metrics the library keeps, by name (Prometheus conventions: base units, `_total` counters).
public enum WebSocketMetricName: String, CaseIterable, Sendable {
    case connectionsActive = "websockets_connections_active"
    case connectionsOpened = "websockets_connections_opened_total"
    case connectionsRejected = "websockets_connections_rejected_total"
    case connectionsClosed = "websockets_connections_closed_total"
    case httpResponses = "websockets_http_responses_total"
    case handshakeDuration = "websockets_handshake_duration_seconds"
    case connectionDuration = "websockets_connection_duration_seconds"
    case messagesReceived = "websockets_messages_received_total"
    case messagesSent = "websockets_messages_sent_total"
    case bytesReceived = "websockets_bytes_received_total"
    case bytesSent = "websockets_bytes_sent_total"
    case keepaliveRoundTrip = "websockets_keepalive_round_trip_seconds"
    case keepaliveTimeouts = "websockets_keepalive_timeouts_total"
    case tlsHandshakeFailures = "websockets_tls_handshake_failures_total"
    case handlerFailures = "websockets_handler_failures_total"
    case clientReconnects = "websockets_client_reconnects_total"
    case logRecordsDropped = "websockets_log_records_dropped_total"
    case logRecordsSuppressed = "websockets_log_records_suppressed_total"

    /// The labels its series carry (each with a bounded set of values); every one labelled with
    /// `role` also carries `route` on connections taken by a framework's route.
    public var labels: [String] {
        switch self {
        case .connectionsClosed: ["role", "outcome", "code", "initiator"]
        case .connectionsRejected: ["role", "reason", "status"]
        case .httpResponses: ["role", "status"]
        case .logRecordsDropped: []
        case .logRecordsSuppressed: ["event"]
        default: ["role"]
        }
    }

    /// The swift-metrics type it is recorded as (`Meter`, `Counter`, `Timer`), and so the
    /// Prometheus type (gauge, counter, histogram).
    public var kind: String {
        switch self {
        case .connectionsActive: "gauge"
        case .handshakeDuration, .connectionDuration, .keepaliveRoundTrip: "histogram"
        default: "counter"
        }
    }

    /// One line for the exposition's `# HELP`.
    public var help: String {
        switch self {
        case .connectionsActive: "WebSocket connections open now"
        case .connectionsOpened: "WebSocket connections opened (opening handshake completed)"
        case .connectionsRejected: "Opening handshakes refused, by rejection kind and HTTP status"
        case .connectionsClosed: "WebSocket connections closed, by outcome, close code class and initiator"
        case .httpResponses: "Plain HTTP responses sent instead of an upgrade, by status"
        case .handshakeDuration: "Seconds from accept (or connect) to the end of the opening handshake"
        case .connectionDuration: "Seconds from accept (or connect) to close"
        case .messagesReceived: "Data messages received (added at each keepalive ping and at close)"
        case .messagesSent: "Data messages sent (added at each keepalive ping and at close)"
        case .bytesReceived: "Bytes received on the wire after the handshake (added at each keepalive ping and at close)"
        case .bytesSent: "Bytes sent on the wire after the handshake (added at each keepalive ping and at close)"
        case .keepaliveRoundTrip: "Seconds from a keepalive ping to its pong"
        case .keepaliveTimeouts: "Connections failed because a keepalive pong did not come in time"
        case .tlsHandshakeFailures: "TLS handshakes that failed"
        case .handlerFailures: "Connection handlers that threw"
        case .clientReconnects: "Client reconnection attempts"
        case .logRecordsDropped: "Log records the sink dropped because it could not keep up"
        case .logRecordsSuppressed: "Log records suppressed by a rate limit, by event"
        }
    }
}
