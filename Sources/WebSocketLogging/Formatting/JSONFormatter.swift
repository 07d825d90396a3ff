import Logging

/// One JSON object per line, keys in a fixed order:
///
/// `timestamp` (RFC 3339 UTC, 6 fraction digits, `Z`), `level`, `logger`, `message`, `event`,
/// `event_data` (present iff the record has a connection: `connection_id`, `node`, `remote_addr`,
/// `peer_addr`, `peer_port`, then the event's fields), `fields` (`node`, then the event's fields
/// when there is no connection), `metadata` (user metadata, sorted, numbers and booleans typed), `error`
/// (`type`, `message`).
///
/// Strings are escaped for every control character, DEL and U+2028/2029, so a line never
/// spans lines. Lines longer than ``maxLineLength`` are rendered again with shorter string
/// values (cut on a scalar boundary, marked `…`); as a last resort only the fixed keys and
/// `"truncated":true` remain. The structure is never cut.
public struct JSONFormatter: LogFormatter {
    /// The longest line, newline included. Default 8 KiB, rsyslog's default message size.
    public var maxLineLength: Int

    /// A formatter whose lines, newline included, never exceed `maxLineLength` bytes (at least
    /// 512, room for the fixed keys).
    public init(maxLineLength: Int = 8192) {
        precondition(maxLineLength >= 512, "maxLineLength must leave room for the fixed keys")
        self.maxLineLength = maxLineLength
    }

    public func format(_ record: LogRecord, into line: inout LogLine) {
        // Each attempt is one writer session: one uniqueness check per record, not per append.
        line.appendFitting(maxLength: maxLineLength, { line, limit in line.withWriter { render(record, into: &$0, limit: limit) } },
                           fallback: { line in line.withWriter { renderMinimal(record, into: &$0) } })
    }

    func renderHead(_ record: LogRecord, into line: inout LogLine.Writer, limit: Int) {
        line.append("{\"timestamp\":\"")
        record.timestamp.write(into: &line)
        line.append("\",\"level\":\"")
        line.append(record.level.staticName)
        line.append("\",\"logger\":")
        line.append(jsonString: record.label, limit: min(limit, 128))
        line.append(",\"message\":")
        line.append(jsonString: record.message, limit: limit)
        line.append(",\"event\":")
        if let event = record.event {
            line.append(UInt8(ascii: "\""))
            line.appendRaw(event.name)
            line.append(UInt8(ascii: "\""))
        } else {
            line.append("\"log\"")
        }
    }

    func render(_ record: LogRecord, into line: inout LogLine.Writer, limit: Int) {
        renderHead(record, into: &line, limit: limit)
        if let connection = record.connection {
            line.append(",\"event_data\":{")
            // The connection's path unless the event writes its own.
            let end = record.event?.hasOwnPath == true ? connection.jsonPathStart : connection.jsonFields.count
            connection.jsonFields.withUnsafeBytes { line.append(UnsafeRawBufferPointer(rebasing: $0[..<end])) }
            if let event = record.event {
                var writer = JSONFieldWriter(line: line, limit: limit, first: false)
                event.visitFields(&writer)
                line = writer.line
            }
            line.append(UInt8(ascii: "}"))
        } else if record.event != nil || record.node != nil {
            let mark = line.count
            line.append(",\"fields\":{")
            var writer = JSONFieldWriter(line: line, limit: limit, first: true)
            if let node = record.node { writer.visit("node", string: node) }
            record.event?.visitFields(&writer)
            line = writer.line
            if writer.first {
                line.truncate(to: mark)  // no fields: no object
            } else {
                line.append(UInt8(ascii: "}"))
            }
        }
        if !record.metadata.isEmpty {
            line.append(",\"metadata\":")
            Self.write(metadata: record.metadata, into: &line, limit: limit, depth: 0)
        }
        if let error = record.error { Self.write(error: error, into: &line, limit: limit) }
        line.append("}\n")
    }

    func renderMinimal(_ record: LogRecord, into line: inout LogLine) {
        line.withWriter { renderMinimal(record, into: &$0) }
    }

    func renderMinimal(_ record: LogRecord, into line: inout LogLine.Writer) {
        renderHead(record, into: &line, limit: 64)
        if let connection = record.connection {
            line.append(",\"event_data\":{\"connection_id\":\"")
            connection.id.write(into: &line)
            line.append("\"}")
        }
        line.append(",\"truncated\":true}\n")
    }

    /// `,"error":{"type":…,"message":…}`: the JSON line's and the ECS line's error object.
    static func write(error: any Error, into line: inout LogLine.Writer, limit: Int) {
        let (type, message) = errorFields(error)
        line.append(",\"error\":{\"type\":")
        line.append(jsonString: type, limit: limit)
        line.append(",\"message\":")
        line.append(jsonString: message, limit: limit)
        line.append(UInt8(ascii: "}"))
    }

    static func write(metadata: Logger.Metadata, into line: inout LogLine.Writer, limit: Int, depth: Int) {
        line.append(UInt8(ascii: "{"))
        var first = true
        for key in metadata.keys.sorted() {
            if !first { line.append(UInt8(ascii: ",")) }
            first = false
            line.append(jsonString: key, limit: min(limit, 256))
            line.append(UInt8(ascii: ":"))
            write(value: metadata[key]!, into: &line, limit: limit, depth: depth + 1)
        }
        line.append(UInt8(ascii: "}"))
    }

    static func write(value: Logger.MetadataValue, into line: inout LogLine.Writer, limit: Int, depth: Int) {
        guard depth < 16 else { line.append("null"); return }
        switch value {
        case .string(let s):
            line.append(jsonString: s, limit: limit)
        case .stringConvertible(let c):
            switch MetadataScalar(c) {
            case .int(let i): line.append(int: i)
            case .double(let d): line.append(jsonDouble: d)
            case .bool(let b): line.append(b ? "true" : "false")
            case nil: line.append(jsonString: c.description, limit: limit)
            }
        case .dictionary(let d):
            write(metadata: d, into: &line, limit: limit, depth: depth)
        case .array(let a):
            line.append(UInt8(ascii: "["))
            for (i, element) in a.enumerated() {
                if i > 0 { line.append(UInt8(ascii: ",")) }
                write(value: element, into: &line, limit: limit, depth: depth + 1)
            }
            line.append(UInt8(ascii: "]"))
        }
    }
}

/// Writes event fields as `,"key":value` JSON members.
struct JSONFieldWriter: LogFieldVisitor {
    var line: LogLine.Writer
    var limit: Int
    var first: Bool

    /// `,"k":` (no comma before the first), in one reservation.
    mutating func key(_ k: StaticString) {
        let comma = first ? 0 : 1
        first = false
        let n = k.utf8CodeUnitCount
        let out = line.reserve(n &+ 3 &+ comma)
        out.pointee = UInt8(ascii: ",")
        out[comma] = UInt8(ascii: "\"")
        LogLine.copyBytes(from: k.utf8Start, to: out + comma + 1, count: n)
        out[comma &+ n &+ 1] = UInt8(ascii: "\"")
        out[comma &+ n &+ 2] = UInt8(ascii: ":")
        line.count &+= n &+ 3 &+ comma
    }

    mutating func visit(_ k: StaticString, string: String) {
        key(k)
        line.append(jsonString: string, limit: limit)
    }

    mutating func visit(_ k: StaticString, int: Int) {
        key(k)
        line.append(int: int)
    }

    mutating func visit(_ k: StaticString, double: Double) {
        key(k)
        line.append(jsonDouble: double)
    }

    mutating func visit(_ k: StaticString, bool: Bool) {
        key(k)
        line.append(bool ? "true" : "false")
    }
}

extension Logger.Level {
    /// The swift-log level name, lowercase, without allocating.
    var staticName: StaticString {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }

    var upperName: StaticString {
        switch self {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info: "INFO"
        case .notice: "NOTICE"
        case .warning: "WARNING"
        case .error: "ERROR"
        case .critical: "CRITICAL"
        }
    }
}
