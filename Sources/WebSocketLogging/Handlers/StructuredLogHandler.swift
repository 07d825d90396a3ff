import Logging

/// The metadata key under which the library attaches its typed ``WebSocketLogEvent``.
/// Other handlers see it as ordinary metadata (`event_name key=value…`).
public let webSocketEventMetadataKey = "ws.event"

/// The metadata key under which the library names the server node of its records
/// (``LogRecord/node``) when they go through swift-log to a handler of another type.
public let nodeMetadataKey = "ws.node"

/// The swift-log handler of this library: feeds a ``LogPipeline`` (enrichers, filters, a
/// formatter, a sink). One type for every format, made by its factories:
///
/// ```swift
/// LoggingSystem.bootstrap { StructuredLogHandler.json(label: $0) }          // stdout
/// LoggingSystem.bootstrap { StructuredLogHandler.ecs(label: $0, sink: file) }
/// LoggingSystem.bootstrap { StructuredLogHandler.syslog(label: $0, sink: SyslogSink(transport: .relp(host: "127.0.0.1", port: 2514))) }
/// ```
///
/// It reads the library's typed event and connection context back from metadata by type
/// (no string parsing), falls back to ``ConnectionContext/current`` for application log calls
/// made inside a connection handler, and passes every other metadata value through with its
/// type (numbers stay numbers in JSON).
public struct StructuredLogHandler: LogHandler {
    /// The logger label.
    public let label: String
    /// The pipeline records go through (share one between many loggers with
    /// ``init(label:pipeline:logLevel:metadataProvider:)``).
    public let pipeline: LogPipeline
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// A handler over an existing (possibly shared) pipeline, of any formatter.
    public init(label: String, pipeline: LogPipeline, logLevel: Logger.Level = .info,
                metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.pipeline = pipeline
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    /// One JSON object per line (see ``JSONFormatter``), to `sink` (stdout by default).
    public static func json(label: String, sink: any LogSink = StreamSink.standardOutput, logLevel: Logger.Level = .info,
                            enrichers: [LogEnricher] = [], filters: [LogFilter] = [], maxLineLength: Int = 8192,
                            metadataProvider: Logger.MetadataProvider? = nil) -> Self {
        Self(label, JSONFormatter(maxLineLength: maxLineLength), sink, enrichers, filters, logLevel, metadataProvider)
    }

    /// One Elastic Common Schema object per line (see ``ECSFormatter``).
    public static func ecs(label: String, sink: any LogSink = StreamSink.standardOutput, logLevel: Logger.Level = .info,
                           enrichers: [LogEnricher] = [], filters: [LogFilter] = [], maxLineLength: Int = 8192,
                           metadataProvider: Logger.MetadataProvider? = nil) -> Self {
        Self(label, ECSFormatter(maxLineLength: maxLineLength), sink, enrichers, filters, logLevel, metadataProvider)
    }

    /// `TIMESTAMP LEVEL logger [connection_id remote_addr] message key=value…` lines (see
    /// ``PlainFormatter``).
    public static func plain(label: String, sink: any LogSink = StreamSink.standardOutput, logLevel: Logger.Level = .info,
                             enrichers: [LogEnricher] = [], filters: [LogFilter] = [], maxLineLength: Int = 8192,
                             metadataProvider: Logger.MetadataProvider? = nil) -> Self {
        Self(label, PlainFormatter(maxLineLength: maxLineLength), sink, enrichers, filters, logLevel, metadataProvider)
    }

    /// RFC 5424 messages to a syslog daemon (see ``SyslogFormatter`` for the facility, app name
    /// and body, ``SyslogSink`` for the transports and what each guarantees).
    public static func syslog(label: String, sink: SyslogSink, formatter: SyslogFormatter = SyslogFormatter(),
                              logLevel: Logger.Level = .info, enrichers: [LogEnricher] = [], filters: [LogFilter] = [],
                              metadataProvider: Logger.MetadataProvider? = nil) -> Self {
        Self(label, formatter, sink, enrichers, filters, logLevel, metadataProvider)
    }

    /// A handler with a pipeline of its own: what each factory makes.
    private init(_ label: String, _ formatter: any LogFormatter, _ sink: any LogSink, _ enrichers: [LogEnricher],
                 _ filters: [LogFilter], _ logLevel: Logger.Level, _ metadataProvider: Logger.MetadataProvider?) {
        self.init(label: label, pipeline: LogPipeline(formatter: formatter, sink: sink, enrichers: enrichers, filters: filters),
                  logLevel: logLevel, metadataProvider: metadataProvider)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        pipeline.log(LogRecord(label: label, event: event, handlerMetadata: metadata, metadataProvider: metadataProvider))
    }
}

extension LogRecord {
    /// The record a swift-log call makes, for a handler of your own (an exporter, a test
    /// double): the library's typed event and connection are read back from the metadata by
    /// type, the connection of the calling handler task (``ConnectionContext/current``) is used
    /// when none is named, and every other metadata value passes through with its type.
    public init(label: String, event: LogEvent, handlerMetadata: Logger.Metadata, metadataProvider: Logger.MetadataProvider?) {
        var parts = MetadataParts()
        if !handlerMetadata.isEmpty { parts.absorb(handlerMetadata) }
        if let provided = metadataProvider?.get(), !provided.isEmpty { parts.absorb(provided, ambient: true) }
        if let callMetadata = event.metadata, !callMetadata.isEmpty { parts.absorb(callMetadata) }
        self.init(level: event.level, label: label, message: event.message.description, event: parts.typed,
                  connection: parts.recordConnection, node: parts.node, metadata: parts.user, error: event.error,
                  source: event.source, file: event.file, function: event.function, line: event.line)
    }
}

/// Metadata split into what the library reads back by type (its event, the connection) and
/// the user's own keys, which pass through with their types.
struct MetadataParts: Sendable {
    var user: Logger.Metadata = [:]
    var typed: WebSocketLogEvent?
    var connection: ConnectionContext?
    /// The node of a server record (``nodeMetadataKey``).
    var node: String?
    var ambientConnection: ConnectionContext?

    /// Adds `m`; later keys win. A connection from a metadata provider is `ambient`.
    mutating func absorb(_ m: Logger.Metadata, ambient: Bool = false) {
        for (key, value) in m {
            if key == nodeMetadataKey, case .string(let name) = value { node = name; continue }
            if case .stringConvertible(let c) = value {
                if key == webSocketEventMetadataKey, let e = c as? WebSocketLogEvent { typed = e; continue }
                if key == ConnectionContext.metadataKey, let ctx = c as? ConnectionContext {
                    if ambient { ambientConnection = ctx } else { connection = ctx }
                    continue
                }
            }
            user[key] = value
        }
    }

    /// The record's connection. The one a logger or call names wins over the ambient one of the
    /// task that logs: a broadcast from connection A that skips connection B is a record about B.
    var recordConnection: ConnectionContext? { connection ?? ambientConnection ?? ConnectionContext.current }

    /// swift-log's `source` for a call from `fileID`: the module, the part before the `/`.
    static func module(fileID: String) -> String {
        let utf8 = fileID.utf8
        guard let slash = utf8.firstIndex(of: UInt8(ascii: "/")) else { return "n/a" }
        return String(fileID[..<slash])
    }
}

/// What ``WebSocketEventLogger`` keeps of a logger whose handler is a ``StructuredLogHandler``:
/// its pipeline, label and metadata provider, and its metadata split once. Events then go
/// straight into the pipeline as the record ``StructuredLogHandler/log(event:)`` would make from
/// swift-log's call, without the metadata dictionary, the boxed event and the casts back. A
/// class shared by every connection's copy of the event logger (which carries its connection
/// beside it). The handler's metadata is read when the logger is set (as a `Logger` copies its
/// value-type handler); a class handler that changes its metadata behind the logger's back would
/// need the event logger's `logger` set again.
final class DirectPipelineRoute: Sendable {
    let pipeline: LogPipeline
    let label: String
    let metadataProvider: Logger.MetadataProvider?
    /// The handler's own metadata without the connection.
    let user: Logger.Metadata
    /// The connection in the handler's metadata.
    let connection: ConnectionContext?

    init?(_ logger: Logger) {
        guard let handler = logger.handler as? StructuredLogHandler else { return nil }
        pipeline = handler.pipeline
        label = handler.label
        metadataProvider = handler.metadataProvider
        var own = MetadataParts()
        if !handler.metadata.isEmpty { own.absorb(handler.metadata) }
        user = own.user
        connection = own.connection
    }

    /// Writes `event` at `level`, as the handler would with `connection` (if any) and `node` in its metadata.
    func log(_ event: WebSocketLogEvent, level: Logger.Level, connection: ConnectionContext?, node: String?, error: (any Error)?,
             file: String, function: String, line: UInt) {
        var parts = MetadataParts(user: user, connection: connection ?? self.connection)
        if let provided = metadataProvider?.get(), !provided.isEmpty { parts.absorb(provided, ambient: true) }
        pipeline.log(LogRecord(level: level, label: label, message: event.message, event: event,
                               connection: parts.recordConnection, node: node, metadata: parts.user, error: error,
                               source: MetadataParts.module(fileID: file), file: file, function: function, line: line))
    }
}
