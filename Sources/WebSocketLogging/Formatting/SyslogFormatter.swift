#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import W3CTraceContext

/// RFC 5424 syslog messages:
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [ws@32473 …][meta@32473 …] MSG`
///
/// MSGID is the event name (`connection_closed`, `log` for application records). With the
/// `.structuredData` body, the connection context and the event's fields become the
/// `ws@32473` structured-data element, user metadata the `meta@32473` element (32473 is IANA's
/// enterprise number for documentation: change ``enterpriseNumber`` to your own). Values escape
/// `"`, `\` and `]` (§6.3.3); MSG escapes line breaks so the message stays one line. With the
/// `.json` or `.ecs` body, MSG is the record's JSON line and there is no structured data: a
/// daemon that parses it (rsyslog's `mmjsonparse`) keeps numbers as numbers.
public struct SyslogFormatter: LogFormatter {
    /// What MSG carries.
    public enum Body: Sendable {
        /// The message text, with the fields as RFC 5424 structured data (strings only).
        case structuredData
        /// The record as ``JSONFormatter`` writes it.
        case json
        /// The record as ``ECSFormatter`` writes it.
        case ecs
    }

    /// Syslog facility codes (RFC 5424 §6.2.1).
    public enum Facility: Int, Sendable {
        case user = 1, daemon = 3, local0 = 16, local1 = 17, local2 = 18, local3 = 19
        case local4 = 20, local5 = 21, local6 = 22, local7 = 23
    }

    /// The syslog facility in PRI.
    public var facility: Facility
    /// APP-NAME (printable ASCII, at most 48 characters).
    public var appName: String
    /// HOSTNAME (the system's by default).
    public var hostname: String
    /// The private enterprise number in the SD-IDs (`ws@N`, `meta@N`).
    public var enterpriseNumber: Int
    /// Longest message (rsyslog's default maximum is 8 KiB).
    public var maxMessageLength: Int
    /// What MSG carries.
    public var body: Body

    /// Creates a formatter; each parameter sets the property of the same name.
    public init(facility: Facility = .user, appName: String = "websockets", hostname: String? = nil,
                enterpriseNumber: Int = 32473, maxMessageLength: Int = 8192, body: Body = .structuredData) {
        self.facility = facility
        self.appName = Self.printable(appName, max: 48)
        self.hostname = Self.printable(hostname ?? Self.systemHostname(), max: 255)
        self.enterpriseNumber = enterpriseNumber
        self.maxMessageLength = max(maxMessageLength, 480)
        self.body = body
    }

    static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "-" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// PRINTUSASCII (33...126), cut to `max`; `-` (NILVALUE) when empty.
    static func printable(_ s: String, max: Int) -> String {
        let bytes = s.utf8.filter { $0 >= 33 && $0 <= 126 }.prefix(max)
        return bytes.isEmpty ? "-" : String(decoding: bytes, as: UTF8.self)
    }

    static func severity(_ level: Logger.Level) -> Int {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }

    public func format(_ record: LogRecord, into line: inout LogLine) {
        switch body {
        case .structuredData: break
        case .json, .ecs:
            writeHeader(record, into: &line)
            line.append("- ")
            // The JSON formatter caps its own line: the header is at most ~400 bytes of the limit.
            let room = max(512, maxMessageLength - line.count)
            if case .json = body {
                JSONFormatter(maxLineLength: room).format(record, into: &line)
            } else {
                ECSFormatter(maxLineLength: room).format(record, into: &line)
            }
            return
        }
        line.appendFitting(maxLength: maxMessageLength,
                           { line, limit in render(record, into: &line, limit: limit, structuredData: true) },
                           fallback: { line in render(record, into: &line, limit: 64, structuredData: false) })
    }

    private func writeHeader(_ record: LogRecord, into line: inout LogLine) {
        line.append(UInt8(ascii: "<"))
        line.append(int: facility.rawValue * 8 + Self.severity(record.level))
        line.append(">1 ")
        record.timestamp.write(into: &line)
        line.append(UInt8(ascii: " "))
        line.appendRaw(hostname)
        line.append(UInt8(ascii: " "))
        line.appendRaw(appName)
        line.append(UInt8(ascii: " "))
        line.append(int: Int(getpid()))
        line.append(UInt8(ascii: " "))
        line.appendRaw(Self.printable(record.eventName, max: 32))
        line.append(UInt8(ascii: " "))
    }

    func render(_ record: LogRecord, into line: inout LogLine, limit: Int, structuredData: Bool) {
        writeHeader(record, into: &line)
        var wroteSD = false
        if structuredData, record.connection != nil || record.event != nil || record.node != nil {
            var writer = SDWriter(line: LogLine(capacity: 0), limit: limit)
            swap(&writer.line, &line)
            let mark = writer.line.count
            writer.line.append("[ws@")
            writer.line.append(int: enterpriseNumber)
            let header = writer.line.count
            if let node = record.node { writer.visit("node", string: node) }
            if let c = record.connection {
                writer.visit("connection_id", string: c.id.description)
                writer.visit(optional: "remote_addr", c.clientAddress)
                writer.visit(optional: "peer_addr", c.peerAddress)
                if let port = c.peerPort { writer.visit("peer_port", int: port) }
                if let route = c.route { writer.visit("route", string: route) }
                if let path = c.path, record.event?.hasOwnPath != true { writer.visit("path", string: path) }
                if let trace = c.traceContext {
                    writer.visit("trace_id", string: trace.traceID.description)
                    writer.visit("span_id", string: trace.spanID.description)
                    writer.visit("trace_flags", string: String(decoding: ConnectionContext.hex(trace.flags.rawValue), as: UTF8.self))
                }
            }
            record.event?.visitFields(&writer)
            if writer.line.count == header {
                writer.line.truncate(to: mark)
            } else {
                writer.line.append(UInt8(ascii: "]"))
                wroteSD = true
            }
            swap(&writer.line, &line)
        }
        if structuredData, !record.metadata.isEmpty || record.error != nil {
            line.append("[meta@")
            line.append(int: enterpriseNumber)
            var writer = SDWriter(line: LogLine(capacity: 0), limit: limit)
            swap(&writer.line, &line)
            for key in record.metadata.keys.sorted() {
                writer.param(name: key, value: PlainFormatter.text(record.metadata[key]!))
            }
            if let error = record.error {
                let (type, message) = errorFields(error)
                writer.visit("error_type", string: type)
                writer.visit("error_message", string: message)
            }
            swap(&writer.line, &line)
            line.append(UInt8(ascii: "]"))
            wroteSD = true
        }
        if !wroteSD { line.append(UInt8(ascii: "-")) }
        line.append(UInt8(ascii: " "))
        line.append(plain: record.message, quoteIfNeeded: false, limit: limit)
        line.append(UInt8(ascii: "\n"))
    }
}

/// Writes ` name="value"` SD-PARAMs, escaping `"`, `\` and `]` (RFC 5424 §6.3.3).
struct SDWriter: LogFieldVisitor {
    var line: LogLine
    var limit: Int

    mutating func param(name: String, value: String) {
        line.append(UInt8(ascii: " "))
        // SD-NAME: printable US-ASCII except '=', ' ', ']', '"'; at most 32 characters.
        let safe = name.utf8.filter { $0 >= 33 && $0 <= 126 && $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "]") && $0 != UInt8(ascii: "\"") }
        line.append(contentsOf: safe.prefix(32).isEmpty ? Array("_".utf8) : Array(safe.prefix(32)))
        line.append("=\"")
        var escaped = LogLine(capacity: value.utf8.count)
        escaped.append(plain: value, quoteIfNeeded: false, limit: limit)  // no line breaks or control bytes
        escaped.withUnsafeBytes { escapedBytes in
            line.withWriter { w in
                for byte in escapedBytes {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "]") { w.append(UInt8(ascii: "\\")) }
                    w.append(byte)  // a backslash is already doubled by the plain escaping
                }
            }
        }
        line.append(UInt8(ascii: "\""))
    }

    mutating func visit(optional name: StaticString, _ value: String?) {
        if let value { visit(name, string: value) }
    }

    mutating func visit(_ key: StaticString, string: String) { param(name: key.description, value: string) }
    mutating func visit(_ key: StaticString, int: Int) { param(name: key.description, value: String(int)) }
    mutating func visit(_ key: StaticString, double: Double) {
        var l = LogLine(capacity: 24)
        l.append(jsonDouble: double)
        param(name: key.description, value: String(decoding: l.bytes, as: UTF8.self))
    }
    mutating func visit(_ key: StaticString, bool: Bool) { param(name: key.description, value: bool ? "true" : "false") }
}
