import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketLogging

/// Writes a server's `server_stats` records: one every ``ServerConfiguration/statsInterval`` on
/// a timer, and the last, partial window at ``finish()`` (shutdown). One per standalone server,
/// mounted upgrader or set of framework routes; their connections count into its ``stats``.
final class StatsReporter: Sendable {
    let stats = ServerStats()
    private let interval: TimeAmount
    private let log = NIOLockedValueBox<WebSocketEventLogger?>(nil)
    private let timer = NIOLockedValueBox<RepeatedTask?>(nil)
    /// The pipeline's drop count when the last window was written.
    private let droppedBefore = NIOLockedValueBox(0)

    /// A reporter when `configuration` asks for stats (``ServerConfiguration/statsInterval``); `nil` otherwise.
    init?(_ configuration: ServerConfiguration) {
        guard let every = configuration.statsInterval, every > .zero else { return nil }
        let (seconds, attoseconds) = every.components
        interval = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Starts the windows, written through `log`: the server's event logger, whose `stats` are ``stats``.
    func start(log: WebSocketEventLogger) {
        self.log.withLockedValue { $0 = log }
        droppedBefore.withLockedValue { $0 = log.recordsDropped(reportingPending: false) }  // drops not yet reported count in the first window
        let task = MultiThreadedEventLoopGroup.singleton.any()
            .scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in self?.report() }
        timer.withLockedValue { $0 = task }
    }

    /// Writes the window since the last one.
    func report() {
        guard let log = log.withLockedValue({ $0 }) else { return }
        let total = log.recordsDropped()
        let dropped = droppedBefore.withLockedValue { before in
            defer { before = total }
            return total - before
        }
        log.emit(.serverStats(stats.takeWindow(recordsDropped: dropped)))
    }

    /// Stops the timer and writes the last window; later calls do nothing.
    func finish() {
        timer.withLockedValue { $0?.cancel(); $0 = nil }
        report()
        log.withLockedValue { $0 = nil }
    }

    deinit { timer.withLockedValue { $0?.cancel() } }
}
