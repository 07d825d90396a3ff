import Logging
import WebSocketLogging

/// A swift-log handler that hands every record to an ``OTLPLogExporter``: the library's typed
/// event and connection are read back from the metadata, as ``StructuredLogHandler`` does, so
/// the OTLP record has the same fields as the JSON line, typed.
///
/// ```swift
/// let exporter = try OTLPLogExporter(configuration: .fromEnvironment())
/// LoggingSystem.bootstrap { label in
///     MultiplexLogHandler([StructuredLogHandler.json(label: label), OTLPLogHandler(label: label, exporter: exporter)])
/// }
/// ```
public struct OTLPLogHandler: LogHandler {
    /// The logger label: the OTLP instrumentation scope's name.
    public let label: String
    /// Where records go.
    public let exporter: OTLPLogExporter
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// A handler for `label` exporting through `exporter`.
    public init(label: String, exporter: OTLPLogExporter, logLevel: Logger.Level = .info,
                metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.exporter = exporter
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        exporter.export(LogRecord(label: label, event: event, handlerMetadata: metadata, metadataProvider: metadataProvider))
    }
}
