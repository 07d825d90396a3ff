import Logging
import WebSocketCore

/// Everything the library logs, as typed values with a stable snake_case ``name``.
///
/// Levels follow the Python websockets logging design (``defaultLevel``) and can be changed
/// per event with ``EventLevels``. DEBUG events carry the one-character ``prefix`` of Python's
/// debug lines: `>` sent, `<` received, `=` state, `x` shutdown, `%` ping/pong, `!` errors, `-` timeouts.
public enum WebSocketLogEvent: Sendable, Hashable {
    // INFO
    /// The server bound a socket; see ``ServerListeningInfo``.
    case serverListening(ServerListeningInfo)
    /// The server stopped accepting and is closing connections.
    case serverClosing
    /// The server closed every connection.
    case serverClosed
    /// The opening handshake succeeded.
    case connectionOpen(ConnectionOpenInfo)
    /// The opening handshake was refused with an HTTP response.
    case connectionRejected(ConnectionRejectedInfo)
    /// The application answered the upgrade request with a plain HTTP response (`processRequest`:
    /// a health check's 200, a 401): an answer, not a rejection, as in Python websockets 17.
    case httpResponseSent(HTTPResponseSentInfo)
    /// The connection ended; see ``ConnectionClosedInfo``.
    case connectionClosed(ConnectionClosedInfo)
    /// A client will retry after a failure.
    case clientReconnecting(ClientReconnectingInfo)
    /// A TLS handshake on the server failed (untrusted certificate, plain HTTP on a TLS port):
    /// `reason` in words, without BoringSSL's codes and build paths.
    case tlsHandshakeFailed(reason: String)
    /// A server's activity in the window just ended, written every
    /// `ServerConfiguration.statsInterval` and once at shutdown; see ``ServerStatsInfo``.
    case serverStats(ServerStatsInfo)
    /// The rooms' broadcast backend works again after being down: for how long, and how many
    /// of this node's broadcasts could not be published meanwhile (other nodes' members missed them).
    case broadcastBackendRecovered(backend: String, downFor: Double, notPublished: Int)
    // WARNING
    /// `broadcast` skipped a connection (not open, or its write buffer above the high mark).
    case broadcastSkipped(reason: String)
    /// `broadcast` could not write to a connection.
    case broadcastFailed(error: String)
    /// The log sink dropped records because its buffer was full (policy `.drop`).
    case logRecordsDropped(count: Int)
    /// Records of event `event` were not written because more than the allowed number came in
    /// `interval` seconds (a flood of rejected handshakes); `count` says how many.
    case logRecordsSuppressed(event: String, count: Int, interval: Double)
    /// The rooms' broadcast backend is down (`reason`): broadcasts reach this node's members
    /// only, and each one that could not be published is counted until it recovers.
    case broadcastBackendDown(backend: String, reason: String)
    /// Broadcasts of node `fromNode` that never arrived (a gap in its sequence numbers), so this
    /// node's members did not get them.
    case broadcastMessagesMissed(backend: String, fromNode: String, missed: Int)
    // ERROR
    /// The connection handler threw; the connection was closed with 1011.
    case handlerFailed(errorType: String, description: String)
    /// A bug in the library, caught by a safety net.
    case internalError(description: String)
    // DEBUG
    /// `=` The connection state changed.
    case stateChanged(ConnectionState)
    /// `<`/`>` A line of the opening handshake request.
    case handshakeRequest(HandshakeLine, Direction)
    /// `<`/`>` A line of the opening handshake response.
    case handshakeResponse(HandshakeLine, Direction)
    /// `>` A frame was sent.
    case frameSent(FrameInfo)
    /// `<` A frame was received.
    case frameReceived(FrameInfo)
    /// `x` A closing step (`closing TCP connection`, `EOF received`, `failing connection`).
    case closeStep(step: String, code: Int?, reason: String?)
    /// `%` A keepalive ping was sent.
    case pingSent
    /// `%` A keepalive pong arrived, with the round trip in seconds.
    case pongReceived(roundTrip: Double)
    /// `-` No pong before the ping timeout; the connection is failed with 1011.
    case keepaliveTimeout(timeout: Double)
    /// `-` A timer ran out: the opening handshake (open timeout) or the closing handshake
    /// (close timeout). `waitingFor` says for what, `timeout` is the configured seconds.
    case timedOut(waitingFor: String, timeout: Double)
    /// `!` An error handled without bothering the application (protocol violation, write error).
    case errorHandled(error: String, code: Int?, reason: String)

    /// An event's name, typed: what level overrides, filters and sampling take, so that a
    /// misspelt name does not compile. `rawValue` is the stable snake_case form (the JSON
    /// `event` field, the syslog MSGID, configuration files: ``init(parsing:)``).
    public enum Name: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
        case serverListening = "server_listening"
        case serverClosing = "server_closing"
        case serverClosed = "server_closed"
        case connectionOpen = "connection_open"
        case connectionRejected = "connection_rejected"
        case httpResponseSent = "http_response_sent"
        case connectionClosed = "connection_closed"
        case clientReconnecting = "client_reconnecting"
        case tlsHandshakeFailed = "tls_handshake_failed"
        case serverStats = "server_stats"
        case broadcastBackendRecovered = "broadcast_backend_recovered"
        case broadcastSkipped = "broadcast_skipped"
        case broadcastFailed = "broadcast_failed"
        case logRecordsDropped = "log_records_dropped"
        case logRecordsSuppressed = "log_records_suppressed"
        case broadcastBackendDown = "broadcast_backend_down"
        case broadcastMessagesMissed = "broadcast_messages_missed"
        case handlerFailed = "handler_failed"
        case internalError = "internal_error"
        case stateChanged = "state_changed"
        case handshakeRequest = "handshake_request"
        case handshakeResponse = "handshake_response"
        case frameSent = "frame_sent"
        case frameReceived = "frame_received"
        case closeStep = "close_step"
        case pingSent = "ping_sent"
        case pongReceived = "pong_received"
        case keepaliveTimeout = "keepalive_timeout"
        case timeout = "timeout"
        case errorHandled = "error_handled"
        /// An application's own record (not a library event).
        case log = "log"

        /// The name of a configuration file or flag.
        /// - Throws: ``UnknownEventName`` naming the text and the valid names.
        public init(parsing text: String) throws(UnknownEventName) {
            guard let name = Name(rawValue: text) else { throw UnknownEventName(text: text) }
            self = name
        }

        public var description: String { rawValue }
    }

    /// This event's typed name.
    public var kind: Name {
        switch self {
        case .serverListening: .serverListening
        case .serverClosing: .serverClosing
        case .serverClosed: .serverClosed
        case .connectionOpen: .connectionOpen
        case .connectionRejected: .connectionRejected
        case .httpResponseSent: .httpResponseSent
        case .connectionClosed: .connectionClosed
        case .clientReconnecting: .clientReconnecting
        case .tlsHandshakeFailed: .tlsHandshakeFailed
        case .serverStats: .serverStats
        case .broadcastBackendRecovered: .broadcastBackendRecovered
        case .broadcastBackendDown: .broadcastBackendDown
        case .broadcastMessagesMissed: .broadcastMessagesMissed
        case .broadcastSkipped: .broadcastSkipped
        case .broadcastFailed: .broadcastFailed
        case .logRecordsDropped: .logRecordsDropped
        case .logRecordsSuppressed: .logRecordsSuppressed
        case .handlerFailed: .handlerFailed
        case .internalError: .internalError
        case .stateChanged: .stateChanged
        case .handshakeRequest: .handshakeRequest
        case .handshakeResponse: .handshakeResponse
        case .frameSent: .frameSent
        case .frameReceived: .frameReceived
        case .closeStep: .closeStep
        case .pingSent: .pingSent
        case .pongReceived: .pongReceived
        case .keepaliveTimeout: .keepaliveTimeout
        case .timedOut: .timeout
        case .errorHandled: .errorHandled
        }
    }

    /// The stable snake_case name: the JSON `event` field and the syslog MSGID. A switch of
    /// its own rather than `kind.rawValue`: the formatters read it for every record (a test
    /// checks that both agree for every event).
    public var name: String {
        switch self {
        case .serverListening: "server_listening"
        case .serverClosing: "server_closing"
        case .serverClosed: "server_closed"
        case .connectionOpen: "connection_open"
        case .connectionRejected: "connection_rejected"
        case .httpResponseSent: "http_response_sent"
        case .connectionClosed: "connection_closed"
        case .clientReconnecting: "client_reconnecting"
        case .tlsHandshakeFailed: "tls_handshake_failed"
        case .serverStats: "server_stats"
        case .broadcastBackendRecovered: "broadcast_backend_recovered"
        case .broadcastBackendDown: "broadcast_backend_down"
        case .broadcastMessagesMissed: "broadcast_messages_missed"
        case .broadcastSkipped: "broadcast_skipped"
        case .broadcastFailed: "broadcast_failed"
        case .logRecordsDropped: "log_records_dropped"
        case .logRecordsSuppressed: "log_records_suppressed"
        case .handlerFailed: "handler_failed"
        case .internalError: "internal_error"
        case .stateChanged: "state_changed"
        case .handshakeRequest: "handshake_request"
        case .handshakeResponse: "handshake_response"
        case .frameSent: "frame_sent"
        case .frameReceived: "frame_received"
        case .closeStep: "close_step"
        case .pingSent: "ping_sent"
        case .pongReceived: "pong_received"
        case .keepaliveTimeout: "keepalive_timeout"
        case .timedOut: "timeout"
        case .errorHandled: "error_handled"
        }
    }

    /// Every library event name, for documentation, schema checks and level tables.
    public static let allNames: [String] = Name.allCases.filter { $0 != .log }.map(\.rawValue)

    /// The level of the Python websockets design: INFO for lifecycle, WARNING for broadcast
    /// trouble, ERROR for handler exceptions and bugs, DEBUG for protocol detail.
    public var defaultLevel: Logger.Level {
        switch self {
        case .serverListening, .serverClosing, .serverClosed, .connectionOpen, .connectionRejected, .httpResponseSent,
            .connectionClosed, .clientReconnecting, .tlsHandshakeFailed, .serverStats, .broadcastBackendRecovered:
            .info
        case .broadcastSkipped, .broadcastFailed, .logRecordsDropped, .logRecordsSuppressed, .broadcastBackendDown,
            .broadcastMessagesMissed:
            .warning
        case .handlerFailed, .internalError:
            .error
        case .stateChanged, .handshakeRequest, .handshakeResponse, .frameSent, .frameReceived, .closeStep,
            .pingSent, .pongReceived, .keepaliveTimeout, .timedOut, .errorHandled:
            .debug
        }
    }

    /// The DEBUG prefix character, or `nil` for lifecycle events.
    public var prefix: Character? {
        switch self {
        case .stateChanged: "="
        case .handshakeRequest(_, let d), .handshakeResponse(_, let d): d.prefix
        case .frameSent: ">"
        case .frameReceived: "<"
        case .closeStep: "x"
        case .pingSent, .pongReceived: "%"
        case .keepaliveTimeout, .timedOut: "-"
        case .errorHandled: "!"
        default: nil
        }
    }

    /// The human message, with the prefix for DEBUG events, as Python websockets words it.
    public var message: String {
        let text: String
        switch self {
        case .serverListening(let l): text = "server listening on \(l.address)"
        case .serverClosing: text = "server closing"
        case .serverClosed: text = "server closed"
        case .connectionOpen: text = "connection open"
        case .connectionRejected(let r): text = "connection rejected (\(r.status) \(r.reason))"
        case .httpResponseSent(let r): text = "HTTP response sent (\(r.status) \(r.reason))"
        case .connectionClosed(let c): text = "connection closed (\(c.code) \(CloseCode(UInt16(clamping: c.code)).name))"
        case .clientReconnecting(let r):
            text = "connect failed; reconnecting in \(Self.format(r.delay)) seconds: \(r.cause)"
        case .tlsHandshakeFailed(let r): text = "TLS handshake failed: \(r)"
        case .serverStats(let s):
            text = "server stats: \(s.connectionsActive) open, \(s.connectionsOpened) opened, \(s.connectionsClosed) closed in \(Self.format(s.window)) seconds"
        case .broadcastSkipped(let r): text = "skipped broadcast: \(r)"
        case .broadcastBackendRecovered(let b, let d, let n):
            text = "broadcast backend \(b) recovered after \(Self.format(d)) seconds; \(n) broadcasts could not be published"
        case .broadcastBackendDown(let b, let r): text = "broadcast backend \(b) down: \(r)"
        case .broadcastMessagesMissed(_, let node, let n): text = "missed \(n) broadcasts from node \(node)"
        case .broadcastFailed(let e): text = "skipped broadcast: failed to write message: \(e)"
        case .logRecordsDropped(let n): text = "log sink full: dropped \(n) records"
        case .logRecordsSuppressed(let e, let n, let i): text = "suppressed \(n) \(e) records in \(Self.format(i)) seconds"
        case .handlerFailed: text = "connection handler failed"
        case .internalError: text = "unexpected internal error"
        case .stateChanged(let s): text = "connection is \(s)"
        case .handshakeRequest(let line, _), .handshakeResponse(let line, _):
            switch line {
            case .requestLine(let m, let t): text = "\(m) \(t) HTTP/1.1"
            case .statusLine(let s, let r): text = "HTTP/1.1 \(s) \(r)"
            case .header(let n, let v): text = "\(n): \(v)"
            }
        case .frameSent(let f), .frameReceived(let f): text = Self.describe(f)
        case .closeStep(let step, _, _): text = step
        case .pingSent: text = "sent keepalive ping"
        case .pongReceived(let rtt): text = "received keepalive pong (\(Self.format(rtt * 1000)) ms)"
        case .keepaliveTimeout: text = "timed out waiting for keepalive pong"
        case .timedOut(let what, let t): text = "timed out waiting for \(what) (\(Self.format(t)) seconds)"
        case .errorHandled(let e, _, _): text = e
        }
        if let prefix { return "\(prefix) \(text)" }
        return text
    }

    /// `TEXT 'hi' [2 bytes]`, `BINARY 00 ff [2 bytes, continued]` (Python websockets' frame format).
    static func describe(_ f: FrameInfo) -> String {
        var flags = [f.rsv1 ? "\(f.size) bytes compressed" : "\(f.size) bytes"]
        if let inflated = f.inflatedSize { flags.append("\(inflated) inflated") }
        if !f.fin { flags.append("continued") }
        let preview = f.preview.isEmpty ? "" : " \(f.preview)"
        return "\(f.opcode)\(preview) [\(flags.joined(separator: ", "))]"
    }

    static func format(_ v: Double) -> String {
        let tenths = (v * 10).rounded()
        return "\(Int(tenths) / 10).\(abs(Int(tenths)) % 10)"
    }

    /// Whether the event writes a `path` field of its own; other records of a connection take
    /// theirs from its ``ConnectionContext/path``.
    public var hasOwnPath: Bool {
        switch self {
        case .connectionOpen, .httpResponseSent: true
        case .connectionRejected(let r): r.path != nil
        case .handshakeRequest(.requestLine, _): true
        default: false
        }
    }

    /// Visits the event-specific fields in a fixed order (the schema's order).
    public func visitFields(_ v: inout some LogFieldVisitor) {
        switch self {
        case .serverListening(let l):
            v.visit("address", string: l.address)
            v.visit("host", optional: l.host)
            v.visit("port", optional: l.port)
            v.visit("tls", bool: l.tls)
        case .serverClosing, .serverClosed, .pingSent: break
        case .connectionOpen(let o):
            v.visit("path", string: o.path)
            v.visit("subprotocol", optional: o.subprotocol)
            v.visit("subprotocols_offered", optional: o.subprotocolsOffered)
            v.visit("extensions", optional: o.extensions)
            v.visit("handshake_duration", optional: o.handshakeDuration)
        case .connectionRejected(let r):
            v.visit("status", int: r.status)
            v.visit("reason", string: r.reason)
            v.visit("rejection", string: r.rejection)
            v.visit("path", optional: r.path)
            v.visit("subprotocols_offered", optional: r.subprotocolsOffered)
        case .httpResponseSent(let r):
            v.visit("status", int: r.status)
            v.visit("reason", string: r.reason)
            v.visit("path", string: r.path)
        case .connectionClosed(let c):
            v.visit("close_code", int: c.code)
            v.visit("close_code_sent", optional: c.codeSent)
            v.visit("close_reason_sent", optional: c.reasonSent)
            v.visit("close_code_received", optional: c.codeReceived)
            v.visit("close_reason_received", optional: c.reasonReceived)
            v.visit("initiator", string: c.initiator.rawValue)
            v.visit("duration", double: c.duration)
            v.visit("messages_in", int: c.messagesIn)
            v.visit("messages_out", int: c.messagesOut)
            v.visit("bytes_in", int: c.bytesIn)
            v.visit("bytes_out", int: c.bytesOut)
            v.visit("payload_bytes_in", int: c.payloadBytesIn)
            v.visit("payload_bytes_out", int: c.payloadBytesOut)
            v.visit("latency", optional: c.latency)
        case .clientReconnecting(let r):
            v.visit("attempt", int: r.attempt)
            v.visit("delay", double: r.delay)
            v.visit("cause", string: r.cause)
            v.visit("url", string: r.url)
        case .tlsHandshakeFailed(let r): v.visit("reason", string: r)
        case .serverStats(let s): s.visitFields(&v)
        case .broadcastBackendRecovered(let b, let d, let n):
            v.visit("backend", string: b)
            v.visit("down_for", double: d)
            v.visit("not_published", int: n)
        case .broadcastBackendDown(let b, let r):
            v.visit("backend", string: b)
            v.visit("reason", string: r)
        case .broadcastMessagesMissed(let b, let node, let n):
            v.visit("backend", string: b)
            v.visit("from_node", string: node)
            v.visit("missed", int: n)
        case .broadcastSkipped(let r): v.visit("reason", string: r)
        case .broadcastFailed(let e): v.visit("error_message", string: e)
        case .logRecordsDropped(let n): v.visit("dropped", int: n)
        case .logRecordsSuppressed(let e, let n, let i):
            v.visit("suppressed_event", string: e)
            v.visit("suppressed", int: n)
            v.visit("interval", double: i)
        case .handlerFailed(let t, let d):
            v.visit("error_type", string: t)
            v.visit("error_message", string: d)
        case .internalError(let d): v.visit("error_message", string: d)
        case .stateChanged(let s): v.visit("state", string: s.description)
        case .handshakeRequest(let line, let d), .handshakeResponse(let line, let d):
            v.visit("direction", string: d.rawValue)
            switch line {
            case .requestLine(let m, let t):
                v.visit("method", string: m)
                v.visit("path", string: t)
            case .statusLine(let s, let r):
                v.visit("status", int: s)
                v.visit("reason", string: r)
            case .header(let n, let value):
                v.visit("header", string: n)
                v.visit("value", string: value)
            }
        case .frameSent(let f), .frameReceived(let f):
            v.visit("opcode", string: f.opcode.description)
            v.visit("fin", bool: f.fin)
            v.visit("rsv1", bool: f.rsv1)
            v.visit("size", int: f.size)
            v.visit("inflated_size", optional: f.inflatedSize)
            v.visit("preview", string: f.preview)
        case .closeStep(let step, let code, let reason):
            v.visit("step", string: step)
            v.visit("close_code", optional: code)
            v.visit("close_reason", optional: reason)
        case .pongReceived(let rtt): v.visit("round_trip", double: rtt)
        case .keepaliveTimeout(let t): v.visit("timeout", double: t)
        case .timedOut(let what, let t):
            v.visit("waiting_for", string: what)
            v.visit("timeout", double: t)
        case .errorHandled(let e, let code, let reason):
            v.visit("error", string: e)
            v.visit("close_code", optional: code)
            v.visit("close_reason", string: reason)
        }
    }
}

extension WebSocketLogEvent: CustomStringConvertible {
    /// The event name followed by its fields as `key=value`: how handlers that do not know this
    /// type (e.g. swift-log's `StreamLogHandler`) print the `ws.event` metadata value.
    public var description: String {
        let fields = PlainFieldWriter.text { visitFields(&$0) }
        return fields.isEmpty ? name : "\(name) \(fields)"
    }
}

/// An event name in a configuration file or flag that is not one (a typo must not be ignored).
public struct UnknownEventName: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text given.
    public var text: String

    public var description: String {
        "unknown event name '\(text)'; the names are: " + WebSocketLogEvent.Name.allCases.map(\.rawValue).joined(separator: ", ")
    }
}
