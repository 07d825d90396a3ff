import NIOCore
import NIOConcurrencyHelpers
import WebSocketLogging

/// Caps `connection_rejected` records per second for one server, so that a flood of bad
/// handshakes (scanners, a misconfigured client retrying in a loop) cannot flood the log. What is
/// suppressed is counted and reported once per interval by a `log_records_suppressed` record.
final class RejectionLogLimiter: Sendable {
    /// Whether to write a rejection record, and when to report the suppressed ones.
    enum Decision: Equatable {
        case log
        /// Suppressed; the first suppression of an interval carries the delay after which the
        /// caller reports the count (``takeSuppressed()``).
        case suppress(reportIn: TimeAmount?)
    }

    let limit: Int
    let interval: TimeAmount
    /// The event whose records are counted (`connection_rejected`, `tls_handshake_failed`).
    let event: String
    private let state = NIOLockedValueBox(State())

    private struct State {
        var windowStart = NIODeadline.uptimeNanoseconds(0)
        var logged = 0
        var suppressed = 0
        var reportPending = false
    }

    init(limit: Int, interval: TimeAmount = .seconds(1), event: String = "connection_rejected") {
        self.limit = limit
        self.event = event
        self.interval = interval
    }

    func admit(now: NIODeadline = .now()) -> Decision {
        state.withLockedValue { s in
            if now - s.windowStart >= interval {
                s.windowStart = now
                s.logged = 0
            }
            if s.logged < limit {
                s.logged += 1
                return .log
            }
            s.suppressed += 1
            guard !s.reportPending else { return .suppress(reportIn: nil) }
            s.reportPending = true
            return .suppress(reportIn: max(.zero, s.windowStart + interval - now))
        }
    }

    /// Writes the `log_records_suppressed` record for what was suppressed since the last
    /// report, if anything: when the interval ends, and when the server stops (so that a
    /// count is never lost with the process).
    func report(to log: WebSocketEventLogger) {
        let count = takeSuppressed()
        guard count > 0 else { return }
        log.emit(.logRecordsSuppressed(event: event, count: count, interval: Double(interval.nanoseconds) / 1e9))
    }

    /// The number suppressed since the last report, reset to zero.
    func takeSuppressed() -> Int {
        state.withLockedValue { s in
            defer {
                s.suppressed = 0
                s.reportPending = false
            }
            return s.suppressed
        }
    }
}
