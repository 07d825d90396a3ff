import Synchronization

/// A server's numbers for its `server_stats` records, kept from the same typed events it logs
/// (``WebSocketEventLogger`` hands each one over, logged or not): one instance per server or
/// mounted set of routes, shared by its connections, `nil` (nothing counted) with stats off.
///
/// Nothing is counted per message: connections add their traffic at each keepalive ping and at
/// close (``addTraffic(messagesIn:messagesOut:bytesIn:bytesOut:)``), as for the metrics; an
/// event costs one lock of this object. Memory is fixed: counters and two ``LogHistogram``s.
package final class ServerStats: Sendable {
    private struct State {
        var active = 0
        var window = ServerStatsInfo(window: 0)
        var handshakes = LogHistogram()
        var durations = LogHistogram()
        var started: ContinuousClock.Instant
    }
    private let state: Mutex<State>

    /// Counting from now.
    package init() {
        state = Mutex(State(started: .now))
    }

    /// Counts what `event` says happened.
    package func record(_ event: WebSocketLogEvent) {
        switch event {
        case .connectionOpen(let info):
            state.withLock { s in
                s.active += 1
                s.window.connectionsOpened += 1
                if let seconds = info.handshakeDuration { s.handshakes.record(seconds) }
            }
        case .connectionClosed(let info):
            let outcome = ServerStatsInfo.CloseOutcome(code: info.code)
            state.withLock { s in
                s.active -= 1
                s.window.closed[outcome, default: 0] += 1
                s.durations.record(info.duration)
            }
        case .connectionRejected: state.withLock { $0.window.handshakesRejected += 1 }
        case .httpResponseSent: state.withLock { $0.window.httpResponses += 1 }
        case .logRecordsSuppressed(_, let count, _): state.withLock { $0.window.recordsSuppressed += count }
        default: break
        }
    }

    /// Adds what a connection moved since it last added.
    package func addTraffic(messagesIn: Int, messagesOut: Int, bytesIn: Int, bytesOut: Int) {
        state.withLock { s in
            s.window.messagesIn += messagesIn
            s.window.messagesOut += messagesOut
            s.window.bytesIn += bytesIn
            s.window.bytesOut += bytesOut
        }
    }

    /// The window since the last call (or since counting began), and a new one begun;
    /// `recordsDropped` is the pipeline's count for it.
    package func takeWindow(recordsDropped: Int, now: ContinuousClock.Instant = .now) -> ServerStatsInfo {
        state.withLock { s in
            var info = s.window
            let elapsed = now - s.started
            info.window = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            info.connectionsActive = s.active
            info.handshakeDuration = Self.percentiles(s.handshakes)
            info.connectionDuration = Self.percentiles(s.durations)
            info.recordsDropped = recordsDropped
            s.window = ServerStatsInfo(window: 0)
            s.handshakes.reset()
            s.durations.reset()
            s.started = now
            return info
        }
    }

    private static func percentiles(_ histogram: LogHistogram) -> ServerStatsInfo.Percentiles? {
        guard let p50 = histogram.quantile(0.5), let p99 = histogram.quantile(0.99) else { return nil }
        return ServerStatsInfo.Percentiles(p50: p50, p99: p99)
    }
}
