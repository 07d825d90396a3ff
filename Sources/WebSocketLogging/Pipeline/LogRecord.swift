import Logging

/// One record on its way through the chain: enrichers may rewrite it, filters judge it,
/// the formatter renders it.
public struct LogRecord: Sendable {
    /// When the record was made.
    public var timestamp: LogTimestamp
    /// The record's level.
    public var level: Logger.Level
    /// The logger label (`websockets.server`, `websockets.client`, or the application's).
    public var label: String
    /// The human-readable message.
    public var message: String
    /// The typed library event, or `nil` for the application's own log calls.
    public var event: WebSocketLogEvent?
    /// The connection the record belongs to, if any.
    public var connection: ConnectionContext?
    /// The server node that wrote it: the connection's, else the one the library's server
    /// records are written for (``ConnectionContext/node``).
    public var node: String?
    /// User metadata (handler, provider and call metadata merged; the library's keys removed).
    /// `.stringConvertible` integers, doubles and booleans are rendered as JSON numbers/booleans.
    public var metadata: Logger.Metadata
    /// An error attached to the record.
    public var error: (any Error)?
    /// swift-log's source (the module that logged).
    public var source: String
    /// The file of the log call.
    public var file: String
    /// The function of the log call.
    public var function: String
    /// The line of the log call.
    public var line: UInt

    /// Creates a record; each parameter sets the property of the same name.
    public init(timestamp: LogTimestamp = .now(), level: Logger.Level, label: String, message: String,
                event: WebSocketLogEvent? = nil, connection: ConnectionContext? = nil, node: String? = nil,
                metadata: Logger.Metadata = [:], error: (any Error)? = nil, source: String = "", file: String = #fileID,
                function: String = #function, line: UInt = #line) {
        self.timestamp = timestamp
        self.level = level
        self.label = label
        self.message = message
        self.event = event
        self.connection = connection
        self.node = node ?? connection?.node
        self.metadata = metadata
        self.error = error
        self.source = source
        self.file = file
        self.function = function
        self.line = line
    }

    /// The event name: the typed event's, or `log` for application records.
    public var eventName: String { event?.name ?? "log" }
}
