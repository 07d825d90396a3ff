import Logging
import NIOHTTP1
import WebSocketCore

/// Adds or rewrites fields of a record before it is filtered and formatted: the analogue of
/// Python's `LoggerAdapter`. An enricher that throws is skipped for that record (the record is
/// still written) and the fault is counted.
public struct LogEnricher: Sendable {
    let body: @Sendable (inout LogRecord) throws -> Void

    /// An enricher that edits records with `body`.
    public init(_ body: @escaping @Sendable (inout LogRecord) throws -> Void) {
        self.body = body
    }

    /// Copies request header `header` of the record's connection into metadata `key`.
    ///
    /// Safe where Python's documented adapter is not: a missing header adds nothing, a repeated
    /// header is joined with `, ` (never an exception), and the value is cut to `maxLength`.
    public static func requestHeader(_ header: String, as key: String, maxLength: Int = 256) -> LogEnricher {
        LogEnricher { record in
            guard let values = record.connection?.packedHeaders?.values(of: header), !values.isEmpty else { return }
            var value = values.joined(separator: ", ")
            if value.utf8.count > maxLength {
                value = String(decoding: value.utf8.prefix(maxLength), as: UTF8.self)
            }
            record.metadata[key] = .string(value)
        }
    }

    /// Adds fixed metadata to every record (service name, region, version).
    public static func constant(_ metadata: Logger.Metadata) -> LogEnricher {
        LogEnricher { record in
            record.metadata.merge(metadata) { current, _ in current }
        }
    }
}
