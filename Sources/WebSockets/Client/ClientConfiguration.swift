import Logging
import NIOHTTP1
import NIOSSL
import WebSocketCompression
import WebSocketCore
import WebSocketLogging

/// Exponential backoff with jitter for automatic reconnection (Python websockets' defaults:
/// first delay random in 0…5 s, then 3.1 s × 1.618ⁿ, capped at 90 s).
public struct ReconnectPolicy: Sendable, Hashable {
    public var initialDelay: Double
    public var minDelay: Double
    public var factor: Double
    public var maxDelay: Double
    /// Stop after this many consecutive failures; `nil` retries forever.
    public var maxAttempts: Int?

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
    public var origin: String?
    public var subprotocols: [String]
    /// Extra request headers (e.g. `Authorization`; redacted in logs).
    public var additionalHeaders: HTTPHeaders
    public var userAgent: String?
    /// permessage-deflate offered by default; `nil` offers nothing.
    public var compression: PerMessageDeflateConfiguration?
    public var connection: ConnectionOptions
    /// TLS settings for `wss://` (e.g. a custom trust root for tests); default: system trust.
    public var tls: TLSConfiguration
    /// The logger the library logs through (label `websockets.client`).
    public var logger: Logger
    public var eventLevels: EventLevels
    public var redaction: Redaction
    public var reconnect: ReconnectPolicy

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

    var eventLogger: WebSocketEventLogger {
        WebSocketEventLogger(logger: logger, levels: eventLevels, redaction: redaction)
    }
}
