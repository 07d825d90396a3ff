import Logging
import W3CTraceContext
import WebSocketLogging

/// One of this library's records as an OTLP `LogRecord` (opentelemetry/proto/logs/v1/logs.proto),
/// already serialized: encoding happens on the logging thread, so the exporter only concatenates.
///
/// Attributes keep their types (a port or a close code is an `int_value`, a duration a
/// `double_value`). Names follow the OpenTelemetry semantic conventions where one exists
/// (`service.instance.id` for the server node, `client.address`, `network.peer.address`/`.port`, `network.protocol.name`, `http.route`, `url.path`,
/// `url.query`, `http.request.method`, `http.response.status_code`, `server.address`/`.port`,
/// `exception.type`/`.message`, `code.*`); the rest are in this library's namespace, `websockets.`
/// followed by the JSON field name (`websockets.close_code`, `websockets.connection.id`).
enum OTLPLogRecordEncoding {
    static func encode(_ record: LogRecord) -> [UInt8] {
        var w = ProtobufWriter(capacity: 512)
        let nanos = UInt64(record.timestamp.seconds) * 1_000_000_000 + UInt64(record.timestamp.microseconds) * 1_000
        w.fixed64(1, nanos)  // time_unix_nano
        w.uint64(2, severityNumber(record.level))
        w.string(3, severityText(record.level))
        w.message(5) { $0.string(1, record.message) }  // body: AnyValue.string_value

        if let node = record.node { attribute(&w, "service.instance.id") { $0.string(1, node) } }
        if let connection = record.connection {
            attribute(&w, "websockets.connection.id") { $0.string(1, connection.id.description) }
            if let client = connection.clientAddress { attribute(&w, "client.address") { $0.string(1, client) } }
            if connection.clientAddressSource != "peer" {
                attribute(&w, "websockets.client_address_source") { $0.string(1, connection.clientAddressSource) }
            }
            if let peer = connection.peerAddress { attribute(&w, "network.peer.address") { $0.string(1, peer) } }
            if let port = connection.peerPort { attribute(&w, "network.peer.port") { $0.int64(3, Int64(port)) } }
            attribute(&w, "network.protocol.name") { $0.string(1, "websocket") }
            if let route = connection.route { attribute(&w, "http.route") { $0.string(1, route) } }
        }
        var fields = AttributeWriter(writer: w)
        if let path = record.connection?.path, record.event?.hasOwnPath != true {
            fields.visit("path", string: path)  // the connection's request target, on every record
        }
        record.event?.visitFields(&fields)
        w = fields.writer
        for (key, value) in record.metadata.sorted(by: { $0.key < $1.key }) {
            attribute(&w, key) { metadataValue(&$0, value) }
        }
        if let error = record.error {
            attribute(&w, "exception.type") { $0.string(1, String(reflecting: type(of: error))) }
            attribute(&w, "exception.message") { $0.string(1, String(describing: error)) }
        }
        attribute(&w, "code.file.path") { $0.string(1, record.file) }
        attribute(&w, "code.function.name") { $0.string(1, record.function) }
        attribute(&w, "code.line.number") { $0.int64(3, Int64(record.line)) }

        if let trace = record.connection?.traceContext {
            w.fixed32(8, UInt32(trace.flags.rawValue))  // flags: the W3C trace flags byte
            withUnsafeBytes(of: trace.traceID.bytes) { w.data(9, $0) }
            withUnsafeBytes(of: trace.spanID.bytes) { w.data(10, $0) }
        }
        w.fixed64(11, nanos)  // observed_time_unix_nano
        if let event = record.event { w.string(12, event.name) }  // event_name
        return w.bytes
    }

    /// A `KeyValue` in `field` (6, `LogRecord.attributes`; 1, `Resource.attributes`), its
    /// `AnyValue` written by `value`.
    static func attribute(_ w: inout ProtobufWriter, _ key: String, field: UInt32 = 6, _ value: (inout ProtobufWriter) -> Void) {
        w.message(field) { kv in
            kv.string(1, key)
            kv.message(2, value)
        }
    }

    /// swift-log metadata as an `AnyValue`, numbers and booleans typed.
    static func metadataValue(_ w: inout ProtobufWriter, _ value: Logger.MetadataValue) {
        switch value {
        case .string(let s): w.string(1, s)
        case .stringConvertible(let c):
            switch c {
            case let v as Bool: w.bool(2, v)
            case let v as Int: w.int64(3, Int64(v))
            case let v as Int64: w.int64(3, v)
            case let v as Int32: w.int64(3, Int64(v))
            case let v as UInt16: w.int64(3, Int64(v))
            case let v as UInt32: w.int64(3, Int64(v))
            case let v as Double: w.double(4, v)
            case let v as Float: w.double(4, Double(v))
            default: w.string(1, c.description)
            }
        case .array(let values):
            w.message(5) { array in
                for v in values { array.message(1) { metadataValue(&$0, v) } }
            }
        case .dictionary(let dict):
            w.message(6) { list in
                for (k, v) in dict.sorted(by: { $0.key < $1.key }) {
                    list.message(1) { kv in
                        kv.string(1, k)
                        kv.message(2) { metadataValue(&$0, v) }
                    }
                }
            }
        }
    }

    /// OpenTelemetry's SeverityNumber for each swift-log level (notice is INFO2, critical ERROR2,
    /// as swift-otel maps them).
    static func severityNumber(_ level: Logger.Level) -> UInt64 {
        switch level {
        case .trace: 1
        case .debug: 5
        case .info: 9
        case .notice: 10
        case .warning: 13
        case .error: 17
        case .critical: 18
        }
    }

    static func severityText(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info: "INFO"
        case .notice: "NOTICE"
        case .warning: "WARN"
        case .error: "ERROR"
        case .critical: "CRITICAL"
        }
    }

    /// An event's fields as attributes: semantic-convention names where they exist, else
    /// `websockets.<field>`; a request target split into `url.path` and `url.query`.
    struct AttributeWriter: LogFieldVisitor {
        var writer: ProtobufWriter

        static func name(_ key: StaticString) -> String {
            switch key.description {
            case "status": "http.response.status_code"
            case "method": "http.request.method"
            case "host": "server.address"
            case "port": "server.port"
            case "error_type": "exception.type"
            case "error_message": "exception.message"
            case let other: "websockets." + other
            }
        }

        mutating func visit(_ key: StaticString, string: String) {
            if key.description == "path" {
                let parts = string.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
                attribute(&writer, "url.path") { $0.string(1, String(parts[0])) }
                if parts.count == 2 { attribute(&writer, "url.query") { $0.string(1, String(parts[1])) } }
                return
            }
            attribute(&writer, Self.name(key)) { $0.string(1, string) }
        }

        mutating func visit(_ key: StaticString, int: Int) {
            attribute(&writer, Self.name(key)) { $0.int64(3, Int64(int)) }
        }

        mutating func visit(_ key: StaticString, double: Double) {
            attribute(&writer, Self.name(key)) { $0.double(4, double) }
        }

        mutating func visit(_ key: StaticString, bool: Bool) {
            attribute(&writer, Self.name(key)) { $0.bool(2, bool) }
        }
    }
}
