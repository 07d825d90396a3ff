/// Fields of `server_stats`: one window of a server's activity (``WebSocketLogEvent/serverStats(_:)``).
///
/// Counts are of the window just ended, but `connectionsActive` (at its end). Closes are split
/// by outcome, a small fixed set (``CloseOutcome``), so that a peer choosing close codes cannot
/// grow the record. Message and byte counts are added at each keepalive ping and at close (as
/// the metrics are): a busy connection without keepalive shows its traffic in the window it closes.
public struct ServerStatsInfo: Sendable, Hashable {
    /// The window's length in seconds (the last one, written at shutdown, is shorter).
    public var window: Double
    /// Connections open at the end of the window.
    public var connectionsActive: Int
    /// Opening handshakes completed in the window.
    public var connectionsOpened: Int
    /// Connections closed in the window, by outcome; their sum is the window's closes.
    public var closed: [CloseOutcome: Int]
    /// Opening handshakes refused (`connection_rejected`, counted even when the record was suppressed).
    public var handshakesRejected: Int
    /// Plain HTTP answers to upgrade requests (`http_response_sent`).
    public var httpResponses: Int
    /// Data messages received.
    public var messagesIn: Int
    /// Data messages sent.
    public var messagesOut: Int
    /// Bytes received on the wire after the handshake.
    public var bytesIn: Int
    /// Bytes sent on the wire after the handshake.
    public var bytesOut: Int
    /// Median and 99th percentile of the window's opening handshakes, in seconds; `nil` without one.
    public var handshakeDuration: Percentiles?
    /// Median and 99th percentile of the durations of the connections closed in the window, in seconds.
    public var connectionDuration: Percentiles?
    /// Records a rate limit suppressed in the window (the `log_records_suppressed` reports' counts).
    public var recordsSuppressed: Int
    /// Records the log pipeline's sink dropped in the window (the `log_records_dropped` reports' counts).
    public var recordsDropped: Int

    /// Connections closed in the window.
    public var connectionsClosed: Int { closed.values.reduce(0, +) }

    /// A median and a 99th percentile, read from a bounded histogram (within its bucket's 10%).
    public struct Percentiles: Sendable, Hashable {
        /// The median.
        public var p50: Double
        /// The 99th percentile.
        public var p99: Double

        /// Creates the pair; each parameter sets the property of the same name.
        public init(p50: Double, p99: Double) {
            self.p50 = p50
            self.p99 = p99
        }
    }

    /// How a connection ended, by its close code (``ConnectionClosedInfo/code``).
    public enum CloseOutcome: String, Sendable, Hashable, CaseIterable {
        /// 1000 normal, 1001 going away, 1005 a close frame without a code: a clean close.
        case normal
        /// 1006: no closing handshake (the TCP connection was lost or dropped).
        case abnormal
        /// 1002, 1003, 1007, 1008, 1009, 1010: the peer broke a rule (protocol, data, policy, size, extension).
        case protocolError = "protocol_error"
        /// 1011–1015: this side failed (handler error, keepalive timeout, restart, try again later, TLS).
        case serverError = "server_error"
        /// 3000–4999: an application's own code.
        case application
        /// Any other code.
        case other

        /// The outcome of close code `code`.
        public init(code: Int) {
            switch code {
            case 1000, 1001, 1005: self = .normal
            case 1006: self = .abnormal
            case 1002, 1003, 1007, 1008, 1009, 1010: self = .protocolError
            case 1011...1015: self = .serverError
            case 3000...4999: self = .application
            default: self = .other
            }
        }
    }

    /// Creates the payload; each parameter sets the property of the same name.
    public init(window: Double, connectionsActive: Int = 0, connectionsOpened: Int = 0, closed: [CloseOutcome: Int] = [:],
                handshakesRejected: Int = 0, httpResponses: Int = 0, messagesIn: Int = 0, messagesOut: Int = 0,
                bytesIn: Int = 0, bytesOut: Int = 0, handshakeDuration: Percentiles? = nil, connectionDuration: Percentiles? = nil,
                recordsSuppressed: Int = 0, recordsDropped: Int = 0) {
        self.window = window
        self.connectionsActive = connectionsActive
        self.connectionsOpened = connectionsOpened
        self.closed = closed
        self.handshakesRejected = handshakesRejected
        self.httpResponses = httpResponses
        self.messagesIn = messagesIn
        self.messagesOut = messagesOut
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.handshakeDuration = handshakeDuration
        self.connectionDuration = connectionDuration
        self.recordsSuppressed = recordsSuppressed
        self.recordsDropped = recordsDropped
    }

    /// The fields in the schema's order: every count always (a zero is an answer), percentiles when there were samples.
    func visitFields(_ v: inout some LogFieldVisitor) {
        v.visit("window", double: window)
        v.visit("connections_active", int: connectionsActive)
        v.visit("connections_opened", int: connectionsOpened)
        v.visit("connections_closed", int: connectionsClosed)
        v.visit("closed_normal", int: closed[.normal] ?? 0)
        v.visit("closed_abnormal", int: closed[.abnormal] ?? 0)
        v.visit("closed_protocol_error", int: closed[.protocolError] ?? 0)
        v.visit("closed_server_error", int: closed[.serverError] ?? 0)
        v.visit("closed_application", int: closed[.application] ?? 0)
        v.visit("closed_other", int: closed[.other] ?? 0)
        v.visit("handshakes_rejected", int: handshakesRejected)
        v.visit("http_responses", int: httpResponses)
        v.visit("messages_in", int: messagesIn)
        v.visit("messages_out", int: messagesOut)
        v.visit("bytes_in", int: bytesIn)
        v.visit("bytes_out", int: bytesOut)
        v.visit("handshake_duration_p50", optional: handshakeDuration?.p50)
        v.visit("handshake_duration_p99", optional: handshakeDuration?.p99)
        v.visit("connection_duration_p50", optional: connectionDuration?.p50)
        v.visit("connection_duration_p99", optional: connectionDuration?.p99)
        v.visit("records_suppressed", int: recordsSuppressed)
        v.visit("records_dropped", int: recordsDropped)
    }
}
