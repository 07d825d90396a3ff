import Logging

/// The level each event is logged at: the Python websockets defaults
/// (``WebSocketLogEvent/defaultLevel``) unless overridden by name.
///
/// ```swift
/// var levels = EventLevels.default
/// levels[.connectionOpen] = .debug      // swift-log's guidance for libraries
/// levels[.connectionClosed] = .debug
/// let fromFile = try EventLevels(parsing: ["connection_open": "debug"])   // names and levels as text
/// ```
public struct EventLevels: Sendable, Hashable {
    /// Overrides by event name.
    public var overrides: [WebSocketLogEvent.Name: Logger.Level]

    /// Default levels, changed for the event names in `overrides`.
    public init(overrides: [WebSocketLogEvent.Name: Logger.Level] = [:]) {
        self.overrides = overrides
    }

    /// Overrides as a configuration file writes them: event names and level names as text.
    /// - Throws: ``UnknownEventName`` for a name that is not an event's, ``UnknownLevelName``
    ///   for a level that is not swift-log's: a typo fails loudly instead of being ignored.
    public init(parsing texts: [String: String]) throws {
        var overrides: [WebSocketLogEvent.Name: Logger.Level] = [:]
        for (name, level) in texts {
            guard let parsed = Logger.Level(rawValue: level) else { throw UnknownLevelName(text: level) }
            overrides[try WebSocketLogEvent.Name(parsing: name)] = parsed
        }
        self.overrides = overrides
    }

    /// The Python websockets levels.
    public static let `default` = EventLevels()

    /// Connection open, close and rejection at DEBUG, as swift-log recommends for libraries
    /// that run inside an application.
    public static let lifecycleAtDebug = EventLevels(overrides: [
        .connectionOpen: .debug, .connectionClosed: .debug, .connectionRejected: .debug, .httpResponseSent: .debug,
    ])

    /// The override for an event name, if any; set it to change that event's level.
    public subscript(name: WebSocketLogEvent.Name) -> Logger.Level? {
        get { overrides[name] }
        set { overrides[name] = newValue }
    }

    /// The level `event` is logged at: its override, else its ``WebSocketLogEvent/defaultLevel``.
    @inlinable
    public func level(for event: WebSocketLogEvent) -> Logger.Level {
        overrides.isEmpty ? event.defaultLevel : (overrides[event.kind] ?? event.defaultLevel)
    }

    /// The lowest level any protocol-trace (DEBUG by default) event is configured at: traces
    /// are produced only when the logger lets that level through.
    public var traceLevel: Logger.Level {
        // Read on every socket read (`wantsTraces`): no allocation, nothing to do without overrides.
        guard !overrides.isEmpty else { return .debug }
        var level = Logger.Level.debug
        for name in Self.traceEventNames {
            if let l = overrides[name], l > level { level = l }
        }
        return level
    }

    /// The events a protocol trace becomes (see ``WebSocketEventLogger/emit(trace:)``).
    static let traceEventNames: [WebSocketLogEvent.Name] = [.stateChanged, .handshakeRequest, .handshakeResponse, .frameSent,
                                                            .frameReceived, .closeStep, .errorHandled]
}

/// A level name in a configuration file that is not one of swift-log's.
public struct UnknownLevelName: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text given.
    public var text: String

    public var description: String {
        "unknown level '\(text)'; the levels are: " + Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
    }
}
