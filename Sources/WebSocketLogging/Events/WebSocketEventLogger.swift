import Logging
import W3CTraceContext
import NIOCore
import NIOHTTP1
import WebSocketCore

/// The library's side of logging: turns typed events and protocol traces into swift-log
/// calls on the `Logger` it was given, at the level ``EventLevels`` assigns.
///
/// The typed event travels as metadata (``webSocketEventMetadataKey``) and the connection
/// context as ``ConnectionContext/metadataKey``, set once per connection with
/// ``with(connection:)``. Events are built only when their level is enabled.
package struct WebSocketEventLogger: Sendable {
    /// The swift-log logger records go to. When its handler is one of this package's pipeline
    /// handlers, events go straight to its pipeline (the same record, without swift-log's
    /// metadata dictionary); any other handler gets them through `Logger.log`.
    package var logger: Logger {
        get { storedLogger }
        set {
            storedLogger = newValue
            route = DirectPipelineRoute(newValue)
            // The connection stays; swift-log's route needs it in the new logger's metadata.
            if route == nil, let routeConnection, newValue[metadataKey: ConnectionContext.metadataKey] == nil {
                storedLogger[metadataKey: ConnectionContext.metadataKey] = .stringConvertible(routeConnection)
            }
        }
    }
    @usableFromInline var storedLogger: Logger
    /// The pipeline handler behind ``logger``, if that is what it has (kept in step by the
    /// setter). Shared by every connection's copy: ``with(connection:)`` does not rebuild it.
    var route: DirectPipelineRoute?
    /// The connection ``with(connection:)`` attached, for the direct route (the logger's
    /// metadata has it too, for the swift-log route).
    var routeConnection: ConnectionContext?
    /// The level of each event.
    package var levels: EventLevels
    /// What is hidden in handshake lines and targets.
    package var redaction: Redaction
    /// The longest frame payload preview, in characters (Python websockets uses 75).
    package var previewLength: Int
    /// Where events are also counted, whatever their log level; `nil` with metrics off.
    package var metrics: WebSocketMetrics?
    /// Where a server's events are also counted for its `server_stats` records; `nil` with stats off.
    package var stats: ServerStats?
    /// The server node its records name (``LogRecord/node``); `nil` for none.
    package var node: String?

    /// An event logger over `logger`; see the properties for the other parameters.
    package init(logger: Logger, levels: EventLevels = .default, redaction: Redaction = .default, previewLength: Int = 75,
                 metrics: WebSocketMetrics? = nil, stats: ServerStats? = nil) {
        self.storedLogger = logger
        self.metrics = metrics
        self.stats = stats
        self.route = DirectPipelineRoute(logger)
        self.levels = levels
        self.redaction = redaction
        self.previewLength = max(previewLength, 8)
    }

    /// A copy whose records carry `connection`.
    package func with(connection: ConnectionContext) -> WebSocketEventLogger {
        var copy = self
        copy.routeConnection = connection  // the shared route stays: no object per connection
        // The direct route carries the connection beside the logger; only swift-log's route
        // needs it in the logger's metadata (a copy of the handler and its dictionary).
        if route == nil { copy.storedLogger[metadataKey: ConnectionContext.metadataKey] = .stringConvertible(connection) }
        return copy
    }

    /// Whether protocol traces would be logged: set `engine.isTracing` from this (it follows
    /// runtime changes of the logger's level).
    @inlinable  // read on every socket read: a call across modules would copy the logger
    package var wantsTraces: Bool { storedLogger.logLevel <= levels.traceLevel }

    /// Whether `event` would be logged right now.
    package func isEnabled(_ event: WebSocketLogEvent) -> Bool { logger.logLevel <= levels.level(for: event) }

    /// Logs `event` at its configured level.
    package func emit(_ event: WebSocketLogEvent, error: (any Error)? = nil,
                     file: String = #fileID, function: String = #function, line: UInt = #line) {
        metrics?.record(event)
        stats?.record(event)
        let level = levels.level(for: event)
        guard logger.logLevel <= level else { return }
        if let route {
            route.log(event, level: level, connection: routeConnection, node: node, error: error, file: file, function: function, line: line)
            return
        }
        var metadata: Logger.Metadata = [webSocketEventMetadataKey: .stringConvertible(event)]
        if let node { metadata[nodeMetadataKey] = .string(node) }
        logger.log(level: level, "\(event.message)", error: error, metadata: metadata, file: file, function: function, line: line)
    }

    /// Counts `event` without logging it: a record a rate limit suppressed still happened.
    package func count(_ event: @autoclosure () -> WebSocketLogEvent) {
        guard metrics != nil || stats != nil else { return }
        let event = event()
        metrics?.record(event)
        stats?.record(event)
    }

    /// What a connection's counters stood at when last added: made at the first addition, so a
    /// connection without metrics or stats holds only a `nil` reference.
    package final class TrafficMark {
        var counted = ConnectionStatistics()
    }

    /// Adds what a connection moved since the last call (`mark`, updated) to the metrics and the
    /// stats: called at each keepalive ping and at close, never per message.
    package func addTraffic(_ now: ConnectionStatistics, since mark: inout TrafficMark?) {
        guard metrics != nil || stats != nil else { return }
        let reported = mark?.counted ?? ConnectionStatistics()
        let messagesIn = now.messagesIn - reported.messagesIn, messagesOut = now.messagesOut - reported.messagesOut
        let bytesIn = now.wireBytesIn - reported.wireBytesIn, bytesOut = now.wireBytesOut - reported.wireBytesOut
        metrics?.addTraffic(messagesIn: messagesIn, messagesOut: messagesOut, bytesIn: bytesIn, bytesOut: bytesOut)
        stats?.addTraffic(messagesIn: messagesIn, messagesOut: messagesOut, bytesIn: bytesIn, bytesOut: bytesOut)
        if mark == nil { mark = TrafficMark() }
        mark?.counted = now
    }

    /// Log records the pipeline behind ``logger`` reported dropped so far (`reportingPending`:
    /// after reporting any its sink dropped since its last record); 0 for a handler that is not
    /// this package's.
    package func recordsDropped(reportingPending: Bool = true) -> Int {
        guard let pipeline = route?.pipeline else { return 0 }
        if reportingPending { pipeline.reportPendingDrops(label: route?.label ?? logger.label) }
        return pipeline.droppedTotal
    }

    /// A request header's value as logged: redacted, and a trace context header that was not
    /// valid (so not used) never written raw: it is whatever a client chose to send.
    func loggedRequestHeader(name: String, value: String) -> String {
        let count = name.utf8.count
        if count == 10 || count == 11 {
            switch name.lowercased() {
            case "traceparent" where routeConnection?.traceContext == nil: return Self.ignoredTraceHeader
            case "tracestate" where routeConnection?.traceContext?.state.isEmpty ?? true: return Self.ignoredTraceHeader
            default: break
            }
        }
        return redaction.headerValue(name: name, value: value)
    }

    static let ignoredTraceHeader = "[invalid: ignored]"

    /// Logs a protocol trace from the engine as one or more DEBUG events.
    package func emit(trace: ProtocolTrace) {
        switch trace {
        case .stateChanged(let s):
            emit(.stateChanged(s))
        case .handshakeRequest(let head, let d):
            emit(.handshakeRequest(.requestLine(method: head.method.rawValue, target: redaction.target(head.uri)), d))
            for (name, value) in head.headers {
                emit(.handshakeRequest(.header(name: name, value: loggedRequestHeader(name: name, value: value)), d))
            }
        case .handshakeResponse(let head, let d):
            emit(.handshakeResponse(.statusLine(status: Int(head.status.code), reason: head.status.reasonPhrase), d))
            for (name, value) in head.headers {
                emit(.handshakeResponse(.header(name: name, value: redaction.headerValue(name: name, value: value)), d))
            }
        case .frame(let frame, let d):
            let info = FrameInfo(opcode: frame.opcode, fin: frame.fin, rsv1: frame.rsv1, size: frame.payload.readableBytes,
                                 preview: FramePreview.render(frame, limit: previewLength))
            emit(d == .sent ? .frameSent(info) : .frameReceived(info))
        case .compressedFrame(let frame, let d, let inflated):
            var plain = frame
            plain.payload = inflated
            let info = FrameInfo(opcode: frame.opcode, fin: frame.fin, rsv1: frame.rsv1, size: frame.payload.readableBytes,
                                 preview: FramePreview.render(plain, limit: previewLength), inflatedSize: inflated.readableBytes)
            emit(d == .sent ? .frameSent(info) : .frameReceived(info))
        case .close(let step):
            switch step {
            case .closingTransport: emit(.closeStep(step: "closing TCP connection", code: nil, reason: nil))
            case .eofReceived: emit(.closeStep(step: "EOF received", code: nil, reason: nil))
            case .failing(let code, let reason):
                emit(.closeStep(step: "failing connection with \(code)", code: Int(code.rawValue), reason: reason))
            }
        case .errorHandled(let v):
            emit(.errorHandled(error: "\(v.name): \(v.reason)", code: Int(v.closeCode.rawValue), reason: v.reason))
        }
    }
}

/// Python websockets' frame rendering: text quoted and escaped, binary as hex, close as
/// `code (name) reason`, elided in the middle to a bounded length.
enum FramePreview {
    static func render(_ frame: Frame, limit: Int) -> String {
        var payload = frame.payload
        switch frame.opcode {
        case .close:
            guard let close = try? CloseFrame(parsing: payload) else { return hex(payload, limit: limit) }
            return elide(escape(close.description), limit: limit)
        case .binary:
            return hex(payload, limit: limit)
        default:
            // Text, ping, pong and continuations: quoted text when the bytes are UTF-8.
            let bytes = payload.readBytes(length: payload.readableBytes) ?? []
            if bytes.isEmpty { return "''" }
            guard let text = String(validating: bytes, as: UTF8.self) else { return hex(frame.payload, limit: limit) }
            return "'" + elide(escape(text), limit: limit - 2) + "'"
        }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func hex(_ buffer: ByteBuffer, limit: Int) -> String {
        let n = buffer.readableBytes
        guard n > 0 else { return "" }
        let maxBytes = max(2, (limit + 1) / 3)
        func hexBytes(_ bytes: some Sequence<UInt8>) -> String {
            bytes.map { b in
                let s = String(b, radix: 16)
                return s.count == 1 ? "0" + s : s
            }.joined(separator: " ")
        }
        let view = buffer.readableBytesView
        if n <= maxBytes { return hexBytes(view) }
        let head = maxBytes * 2 / 3, tail = maxBytes - head
        return hexBytes(view.prefix(head)) + " … " + hexBytes(view.suffix(tail))
    }

    /// Keeps the start and the end of `s`, at most `limit` characters in all.
    static func elide(_ s: String, limit: Int) -> String {
        guard s.count > limit else { return s }
        let head = max(1, limit * 2 / 3), tail = max(1, limit - head - 1)
        return String(s.prefix(head)) + "…" + String(s.suffix(tail))
    }
}
