import Logging
import Synchronization

/// Decides whether a record is written. Filters run after enrichers, before formatting; a
/// filter that throws lets the record through and counts a fault.
public struct LogFilter: Sendable {
    let decide: @Sendable (LogRecord) throws -> Bool

    /// A filter from a predicate: `true` keeps the record.
    public init(_ decide: @escaping @Sendable (LogRecord) throws -> Bool) {
        self.decide = decide
    }

    /// Keeps records at `level` or above.
    public static func minimumLevel(_ level: Logger.Level) -> LogFilter {
        LogFilter { $0.level >= level }
    }

    /// Keeps records whose logger label is one of `labels` or starts with one followed by `.`.
    public static func labels(_ labels: Set<String>) -> LogFilter {
        LogFilter { record in
            labels.contains(record.label) || labels.contains { record.label.hasPrefix($0 + ".") }
        }
    }

    /// Drops records whose event is in `names` (`.frameSent`, `.log` for application records).
    public static func excludingEvents(_ names: Set<WebSocketLogEvent.Name>) -> LogFilter {
        LogFilter { !names.contains($0.event?.kind ?? .log) }
    }

    /// Keeps only records whose event is in `names`.
    public static func onlyEvents(_ names: Set<WebSocketLogEvent.Name>) -> LogFilter {
        LogFilter { names.contains($0.event?.kind ?? .log) }
    }

    /// DEBUG sampling: keeps the first `count` frame records (`frame_sent`, `frame_received`)
    /// of each connection and drops the rest; every other record passes.
    public static func firstFrames(perConnection count: Int) -> LogFilter {
        LogFilter { record in
            guard let event = record.event, let connection = record.connection else { return true }
            switch event {
            case .frameSent, .frameReceived:
                return connection.counters.frameRecords.add(1, ordering: .relaxed).newValue <= count
            default:
                return true
            }
        }
    }

    /// DEBUG sampling: keeps one frame record in `n` across all connections.
    public static func oneFrameIn(_ n: Int) -> LogFilter {
        let counter = Counter()
        return LogFilter { record in
            switch record.event {
            case .frameSent?, .frameReceived?:
                return counter.value.add(1, ordering: .relaxed).oldValue % max(n, 1) == 0
            default:
                return true
            }
        }
    }

    /// Drops everything.
    public static let dropAll = LogFilter { _ in false }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }
}
