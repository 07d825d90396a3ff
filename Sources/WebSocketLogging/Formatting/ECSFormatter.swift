import Logging

/// One Elastic Common Schema (ECS) JSON object per line, for Elasticsearch and Kibana without
/// a mapping step. `JSONFormatter`'s sibling with the same guarantees: one line, at most
/// ``maxLineLength`` bytes (values shortened, then only the fixed keys and `"truncated":true`),
/// never throws, no allocation per record for the library's events.
///
/// Keys, in this order (the ecs-logging spec's rule: `@timestamp`, `log.level`, `message`
/// first; `log.level` dotted, the rest nested):
///
/// | key | from |
/// |---|---|
/// | `@timestamp`, `log.level`, `message` | the record (RFC 3339 UTC; swift-log's level name) |
/// | `ecs.version` | ``ecsVersion`` |
/// | `log.logger` | the logger label |
/// | `event.action`, `event.dataset`, `event.kind`, `event.duration` | the event name (`log` for application records), the logger label, `event`, nanoseconds of a connection's duration or handshake |
/// | `service.node.name` | the server node (``LogRecord/node``) |
/// | `client.ip`, `client.address` | the resolved client (trusted proxies only) |
/// | `source.ip`, `source.port` | the socket peer |
/// | `trace.id`, `span.id` | the W3C trace context of the opening handshake (`traceparent`) |
/// | `url.path`, `url.query` | the request target, redacted as in the JSON line |
/// | `http.response.status_code` | the status of `connection_rejected` and `http_response_sent` |
/// | `websocket.*` | the connection id, the route (a framework's pattern, `/rooms/:room`) and every field of the event, typed as in the JSON line's `event_data`; `server_stats`' counts under `websocket.stats` |
/// | `labels` | the record's metadata: ECS labels are keywords, so values are strings and `.` in keys becomes `_` |
/// | `error.type`, `error.message` | the record's error |
///
/// The WebSocket fields are a custom field set (`websocket`), not `labels`: labels are
/// keyword-only, and close codes, sizes and durations must stay numbers for aggregations.
public struct ECSFormatter: LogFormatter {
    /// The ECS version the lines conform to (`ecs.version`).
    public static let ecsVersion: StaticString = "8.11.0"

    /// The longest line, newline included. Default 8 KiB.
    public var maxLineLength: Int

    /// A formatter whose lines, newline included, never exceed `maxLineLength` bytes (at least 512).
    public init(maxLineLength: Int = 8192) {
        precondition(maxLineLength >= 512, "maxLineLength must leave room for the fixed keys")
        self.maxLineLength = maxLineLength
    }

    public func format(_ record: LogRecord, into line: inout LogLine) {
        line.appendFitting(maxLength: maxLineLength, { line, limit in line.withWriter { render(record, into: &$0, limit: limit) } },
                           fallback: { line in line.withWriter { renderMinimal(record, into: &$0) } })
    }

    private func renderHead(_ record: LogRecord, _ mapped: Mapped, into line: inout LogLine.Writer, limit: Int) {
        line.append("{\"@timestamp\":\"")
        record.timestamp.write(into: &line)
        line.append("\",\"log.level\":\"")
        line.append(record.level.staticName)
        line.append("\",\"message\":")
        line.append(jsonString: record.message, limit: limit)
        line.append(",\"ecs\":{\"version\":\"")
        line.append(Self.ecsVersion)
        line.append("\"},\"log\":{\"logger\":")
        line.append(jsonString: record.label, limit: min(limit, 128))
        line.append("},\"event\":{\"action\":\"")
        if let event = record.event { line.appendRaw(event.name) } else { line.append("log") }
        line.append("\",\"dataset\":")
        line.append(jsonString: record.label, limit: min(limit, 128))
        line.append(",\"kind\":\"event\"")
        if let nanoseconds = mapped.durationNanoseconds {
            line.append(",\"duration\":")
            line.append(int: nanoseconds)
        }
        line.append(UInt8(ascii: "}"))
        if let node = record.node {
            line.append(",\"service\":{\"node\":{\"name\":")
            line.append(jsonString: node, limit: 128)
            line.append("}}")
        }
    }

    private func render(_ record: LogRecord, into line: inout LogLine.Writer, limit: Int) {
        let mapped = Mapped(record.event)
        renderHead(record, mapped, into: &line, limit: limit)
        if let connection = record.connection {
            // `client.ip` and `source.ip` are of ECS type ip: a Unix socket's path goes to
            // `client.address` only (Elasticsearch rejects a document whose ip field is not one).
            if let client = connection.clientAddress {
                line.append(",\"client\":{")
                if !client.hasPrefix("/") {
                    line.append("\"ip\":")
                    line.append(jsonString: client, limit: 64)
                    line.append(UInt8(ascii: ","))
                }
                line.append("\"address\":")
                line.append(jsonString: client, limit: 64)
                line.append(UInt8(ascii: "}"))
            }
            if let peer = connection.peerAddress, !peer.hasPrefix("/") {
                line.append(",\"source\":{\"ip\":")
                line.append(jsonString: peer, limit: 64)
                if let port = connection.peerPort {
                    line.append(",\"port\":")
                    line.append(int: port)
                }
                line.append(UInt8(ascii: "}"))
            }
            if !connection.ecsTraceFields.isEmpty { connection.ecsTraceFields.withUnsafeBytes { line.append($0) } }
        }
        if var target = mapped.target ?? record.connection?.path {
            target.withUTF8 { bytes in  // split in place: no new strings
                let query = bytes.firstIndex(of: UInt8(ascii: "?"))
                line.append(",\"url\":{\"path\":")
                line.appendQuotedJSON(UnsafeBufferPointer(rebasing: bytes[..<(query ?? bytes.count)]), limit: limit)
                if let query {
                    line.append(",\"query\":")
                    line.appendQuotedJSON(UnsafeBufferPointer(rebasing: bytes[(query + 1)...]), limit: limit)
                }
            }
            line.append(UInt8(ascii: "}"))
        }
        if let status = mapped.status {
            line.append(",\"http\":{\"response\":{\"status_code\":")
            line.append(int: status)
            line.append("}}")
        }
        if record.connection != nil || record.event != nil {
            let mark = line.count
            line.append(",\"websocket\":{")
            var writer = JSONFieldWriter(line: line, limit: limit, first: true)
            if let connection = record.connection {
                writer.key("connection_id")
                writer.line.append(UInt8(ascii: "\""))
                connection.id.write(into: &writer.line)
                writer.line.append(UInt8(ascii: "\""))
                if let route = connection.route { writer.visit("route", string: route) }
            }
            if case .serverStats(let stats)? = record.event {  // a window's counts, apart from a connection's fields
                writer.key("stats")
                writer.line.append(UInt8(ascii: "{"))
                var nested = JSONFieldWriter(line: writer.line, limit: limit, first: true)
                stats.visitFields(&nested)
                writer.line = nested.line
                writer.line.append(UInt8(ascii: "}"))
            } else {
                record.event?.visitFields(&writer)
            }
            line = writer.line
            if writer.first { line.truncate(to: mark) } else { line.append(UInt8(ascii: "}")) }
        }
        if !record.metadata.isEmpty {
            line.append(",\"labels\":{")
            var first = true
            Self.writeLabels(record.metadata, prefix: "", into: &line, limit: limit, first: &first)
            line.append(UInt8(ascii: "}"))
        }
        if let error = record.error { JSONFormatter.write(error: error, into: &line, limit: limit) }  // the same object in ECS
        line.append("}\n")
    }

    private func renderMinimal(_ record: LogRecord, into line: inout LogLine.Writer) {
        renderHead(record, Mapped(record.event), into: &line, limit: 40)  // the logger label is written twice here
        if let connection = record.connection {
            line.append(",\"websocket\":{\"connection_id\":\"")
            connection.id.write(into: &line)
            line.append("\"}")
        }
        line.append(",\"truncated\":true}\n")
    }

    /// What an event gives the ECS fields, found in one switch.
    struct Mapped {
        /// `event.duration`: a connection's lifetime, or its opening handshake's.
        var durationNanoseconds: Int?
        /// `url.*`: the request target (already redacted).
        var target: String?
        /// `http.response.status_code`: a refused handshake's or a plain HTTP answer's.
        var status: Int?

        init(_ event: WebSocketLogEvent?) {
            switch event {
            case .connectionClosed(let c)?: durationNanoseconds = Self.nanoseconds(c.duration)
            case .connectionOpen(let o)?:
                durationNanoseconds = o.handshakeDuration.flatMap(Self.nanoseconds)
                target = o.path
            case .connectionRejected(let r)?:
                target = r.path
                status = r.status
            case .httpResponseSent(let r)?:
                target = r.path
                status = r.status
            default: break
            }
        }

        static func nanoseconds(_ seconds: Double) -> Int? {
            guard seconds.isFinite, seconds >= 0, seconds < 9e9 else { return nil }
            return Int((seconds * 1e9).rounded())
        }
    }

    /// Metadata flattened into keyword labels: nested keys joined with `_`, `.`, `*` and `\`
    /// in keys replaced by `_` (the ecs-logging spec's sanitization), every value a string.
    static func writeLabels(_ metadata: Logger.Metadata, prefix: String, into line: inout LogLine.Writer, limit: Int,
                            first: inout Bool) {
        for key in metadata.keys.sorted() {
            let name = prefix + String(key.map { $0 == "." || $0 == "*" || $0 == "\\" ? "_" : $0 })
            if case .dictionary(let nested) = metadata[key]! {
                writeLabels(nested, prefix: name + "_", into: &line, limit: limit, first: &first)
                continue
            }
            if !first { line.append(UInt8(ascii: ",")) }
            first = false
            line.append(jsonString: name, limit: min(limit, 256))
            line.append(UInt8(ascii: ":"))
            line.append(jsonString: PlainFormatter.text(metadata[key]!), limit: limit)
        }
    }
}
