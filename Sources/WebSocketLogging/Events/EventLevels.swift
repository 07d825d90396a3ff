import Logging

/// The level each event is logged at: the Python websockets defaults
/// (``WebSocketLogEvent/defaultLevel``) unless overridden by name.
///
/// ```swift
/// var levels = EventLevels.default
/// levels["connection_open"] = .debug      // swift-log's guidance for libraries
/// levels["connection_closed"] = .debug
/// ```
public struct EventLevels: Sendable, Hashable {
    /// Overrides by event name (``WebSocketLogEvent/name``).
    public var overrides: [String: Logger.Level]

    /// Default levels, changed for the event names in `overrides`.
    public init(overrides: [String: Logger.Level] = [:]) {
        self.overrides = overrides
    }

    /// The Python websockets levels.
    public static let `default` = EventLevels()

    /// Connection open, close and rejection at DEBUG, as swift-log recommends for libraries
    /// that run inside an application.
    public static let lifecycleAtDebug = EventLevels(overrides: [
        "connection_open": .debug, "connection_closed": .debug, "connection_rejected": .debug,
    ])

    /// The override for an event name, if any; set it to change that event's level.
    public subscript(name: String) -> Logger.Level? {
        get { overrides[name] }
        set { overrides[name] = newValue }
    }

    /// The level `event` is logged at: its override, else its ``WebSocketLogEvent/defaultLevel``.
    @inlinable
    public func level(for event: WebSocketLogEvent) -> Logger.Level {
        overrides.isEmpty ? event.defaultLevel : (overrides[event.name] ?? event.defaultLevel)
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
    static let traceEventNames = ["state_changed", "handshake_request", "handshake_response", "frame_sent", "frame_received",
                                  "close_step", "error_handled"]
}
