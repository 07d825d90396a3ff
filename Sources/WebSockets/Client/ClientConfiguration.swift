import CoreMetrics
import Logging
import NIOHTTP1
import NIOSSL
import WebSocketCompression
import WebSocketCore
import WebSocketLogging

/// Exponential backoff with jitter for automatic reconnection (Python websockets' defaults:
/// first delay random in 0…5 s, then 3.1 s × 1.618ⁿ, capped at 90 s).
public struct ReconnectPolicy: Sendable, Hashable {
    /// The first retry waits a random time in 0…`initialDelay` seconds (jitter spreads reconnecting clients).
    public var initialDelay: Double
    /// The second retry waits this many seconds; each later one `factor` times longer.
    public var minDelay: Double
    /// Growth of the delay between retries.
    public var factor: Double
    /// The longest delay between retries, in seconds.
    public var maxDelay: Double
    /// Stop after this many consecutive failures; `nil` retries forever.
    public var maxAttempts: Int?

    /// Creates a policy; each parameter sets the property of the same name.
    public init(initialDelay: Double = 5, minDelay: Double = 3.1, factor: Double = 1.618, maxDelay: Double = 90, maxAttempts: Int? = nil) {
        self.initialDelay = initialDelay
        self.minDelay = minDelay
        self.factor = factor
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
    }

    /// The delay before retry number `attempt` (1-based), with jitter on the first.
    public func delay(attempt: Int, using rng: inout some RandomNumberGenerator) -> Double {
        if attempt <= 1 { return Double.random(in: 0...initialDelay, using: &rng) }
        return min(maxDelay, minDelay * pow(factor, Double(attempt - 2)))
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= base }
        return result
    }
}

/// Options for ``WebSocketClient/connect(to:configuration:group:)``.
public struct ClientConfiguration: Sendable {
    /// The `Origin` header to send, if any.
    public var origin: String?
    /// Subprotocols to offer, in preference order.
    public var subprotocols: [String]
    /// Extra request headers (e.g. `Authorization`; redacted in logs).
    public var additionalHeaders: HTTPHeaders
    /// The `User-Agent` header; `nil` sends none.
    public var userAgent: String?
    /// permessage-deflate offered by default; `nil` offers nothing.
    public var compression: PerMessageDeflateConfiguration?
    /// Limits and timeouts of the connection.
    public var connection: ConnectionOptions
    /// TLS settings for `wss://` (e.g. a custom trust root for tests); default: system trust.
    public var tls: TLSConfiguration
    /// The logger the library logs through (label `websockets.client`).
    public var logger: Logger
    /// Where the connections' metrics go (``WebSocketMetricName`` lists them). `nil`, the default:
    /// swift-metrics' `MetricsSystem.factory`, so metrics are on exactly when the application
    /// bootstrapped a backend; set a factory to count into one of your own instead.
    public var metricsFactory: (any MetricsFactory)? = nil
    /// The level of each log event.
    public var eventLevels: EventLevels
    /// What is hidden in logged handshake lines and URLs.
    public var redaction: Redaction
    /// Backoff of ``WebSocketClient/connections(to:configuration:group:)``.
    public var reconnect: ReconnectPolicy

    /// Creates a configuration; each parameter sets the property of the same name.
    public init(origin: String? = nil, subprotocols: [String] = [], additionalHeaders: HTTPHeaders = [:],
                userAgent: String? = "swift-websockets", compression: PerMessageDeflateConfiguration? = .init(),
                connection: ConnectionOptions = .init(),
                tls: TLSConfiguration = .makeClientConfiguration(), logger: Logger = Logger(label: "websockets.client"),
                eventLevels: EventLevels = .default, redaction: Redaction = .default, reconnect: ReconnectPolicy = .init()) {
        self.origin = origin
        self.subprotocols = subprotocols
        self.additionalHeaders = additionalHeaders
        self.userAgent = userAgent
        self.compression = compression
        self.connection = connection
        self.tls = tls
        self.logger = logger
        self.eventLevels = eventLevels
        self.redaction = redaction
        self.reconnect = reconnect
    }

    /// A connection's event logger, with the client's metrics.
    func makeEventLogger() -> WebSocketEventLogger {
        WebSocketEventLogger(logger: logger, levels: eventLevels, redaction: redaction,
                             metrics: WebSocketMetrics(role: .client, factory: metricsFactory))
    }
}
