#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Sends lines (from ``SyslogFormatter``) to a syslog daemon, from a thread of its own.
///
/// While the daemon is unreachable, the batch in hand is retried with backoff (50 ms doubling
/// to 2 s) and new records wait in the bounded buffer; past the buffer they are dropped and
/// counted. Once delivery resumes, the next record is preceded by one `log_records_dropped`
/// record with the count. What each transport can still lose is documented on
/// ``Transport``; RELP loses nothing while the process runs. The connection's work is never
/// held up.
public final class SyslogSink: LogSink, @unchecked Sendable {
    /// How this sink reaches the daemon.
    public let transport: Transport
    private let delivery: Delivery
    private let writer: BackgroundWriter
    private let closeTimeout: Duration

    /// - Parameters:
    ///   - transport: where and how to send.
    ///   - bufferSize: bytes buffered (beside the batch being delivered) before
    ///     `overflowPolicy` applies.
    ///   - overflowPolicy: `.drop` by default: a dead daemon must not block the server.
    ///   - closeTimeout: how long ``close()`` keeps trying to deliver what is buffered; what is
    ///     left then is counted and reported on standard error.
    public init(transport: Transport, bufferSize: Int = 1 << 20, overflowPolicy: OverflowPolicy = .drop,
                closeTimeout: Duration = .seconds(5)) {
        self.transport = transport
        self.closeTimeout = closeTimeout
        let delivery = Delivery(transport: transport)
        self.delivery = delivery
        writer = BackgroundWriter(bufferSize: bufferSize, overflowPolicy: overflowPolicy,
                                  deliver: { batch, ends in delivery.deliver(batch, ends: ends) })
    }

    public func write(_ line: UnsafeRawBufferPointer) { writer.write(line) }
    public func writeDropReport(_ line: UnsafeRawBufferPointer) { writer.write(line, bounded: false) }
    public func flush() { writer.flush() }

    /// Records dropped or given up since the last call, once the daemon takes records again:
    /// a report written while it is unreachable would only wait (and grow) in the buffer.
    public func takeDroppedCount() -> Int {
        if delivery.isDown { return 0 }
        return writer.takeDroppedCount() + delivery.takeLost()
    }

    /// Delivers what is buffered (for at most `closeTimeout`), then closes the connection.
    /// Records that could not be delivered by then are reported on standard error.
    public func close() {
        delivery.giveUp(after: closeTimeout)
        // Every socket operation is bounded by the time left, so the writer ends by then; the
        // join waits a little longer, and a writer still stuck past it is left behind, its
        // batch counted as lost: close() returns within its bound whatever the daemon does.
        let abandoned = !writer.close(within: closeTimeout + .milliseconds(500))
        let inFlight = abandoned ? delivery.inFlight.load(ordering: .relaxed) : 0
        if !abandoned { delivery.close() }
        let lost = writer.takeDroppedCount(force: true) + delivery.takeLost() + inFlight
        if lost > 0 {
            let text = "websockets: \(lost) log record\(lost == 1 ? "" : "s") not delivered to syslog at \(transport) (daemon unreachable)\n"
            text.utf8CString.dropLast().withUnsafeBytes { _ = writeFully(2, $0) }
        }
    }

    /// The writer thread's side: sends batches, retrying with backoff while the daemon is
    /// unreachable. Producers only read ``isDown`` and take the lost count.
    final class Delivery: @unchecked Sendable {
        let transport: Transport
        private var socket = SyslogSocket()
        private var relp: RELPSession?
        private let down = Atomic<Bool>(false)
        private let lost = Atomic<Int>(0)
        /// Monotonic nanoseconds after which a failing batch is given up (set by `close`).
        private let deadline = Atomic<UInt64>(.max)
        /// Messages of the batch in hand not settled yet: lost if the writer is abandoned.
        let inFlight = Atomic<Int>(0)
        static let minimumBackoff: UInt64 = 50_000_000
        static let maximumBackoff: UInt64 = 2_000_000_000
        static let ioTimeout: UInt64 = 10_000_000_000

        /// The socket timeout now: 10 s, or what is left before a closing sink gives up.
        private func currentIOTimeout() -> UInt64 {
            let giveUpAt = deadline.load(ordering: .relaxed)
            guard giveUpAt != .max else { return Self.ioTimeout }
            let now = Self.now()
            return giveUpAt > now ? min(Self.ioTimeout, giveUpAt - now) : 1_000_000
        }

        init(transport: Transport) { self.transport = transport }

        var isDown: Bool { down.load(ordering: .relaxed) }
        func takeLost() -> Int { lost.exchange(0, ordering: .relaxed) }
        func giveUp(after timeout: Duration) {
            let ns = UInt64(max(0, timeout.components.seconds)) * 1_000_000_000 + UInt64(max(0, timeout.components.attoseconds / 1_000_000_000))
            deadline.store(Self.now() &+ ns, ordering: .relaxed)
        }

        func deliver(_ batch: [UInt8], ends: [Int]) {
            var messages: [Range<Int>] = []
            messages.reserveCapacity(ends.count)
            var start = 0
            for end in ends {
                let last = end > start && batch[end - 1] == 0x0A ? end - 1 : end
                messages.append(start..<last)
                start = end
            }
            var next = 0
            var backoff = Self.minimumBackoff
            inFlight.store(messages.count, ordering: .relaxed)
            defer { inFlight.store(0, ordering: .relaxed) }
            batch.withUnsafeBytes { bytes in
                while true {
                    if deadline.load(ordering: .relaxed) != .max {  // closing: the sockets in hand get the time left
                        socket.setTimeout(currentIOTimeout())
                        relp?.socket.setTimeout(currentIOTimeout())
                    }
                    next += sendSome(bytes, messages[next...])
                    inFlight.store(messages.count - next, ordering: .relaxed)
                    if next == messages.count {
                        down.store(false, ordering: .relaxed)
                        return
                    }
                    down.store(true, ordering: .relaxed)
                    let now = Self.now()
                    let giveUpAt = deadline.load(ordering: .relaxed)
                    if now >= giveUpAt {
                        lost.add(messages.count - next, ordering: .relaxed)
                        return
                    }
                    Self.sleep(nanoseconds: min(backoff, giveUpAt - now))
                    backoff = min(backoff * 2, Self.maximumBackoff)
                }
            }
        }

        /// Sends from the first of `messages`; returns how many are done with (delivered, or
        /// refused by the daemon and counted). Fewer than all means the connection failed.
        private func sendSome(_ bytes: UnsafeRawBufferPointer, _ messages: ArraySlice<Range<Int>>) -> Int {
            switch transport {
            case .udp, .unix:
                var sent = 0
                for range in messages {
                    if !socket.isOpen && !socket.open(transport, ioTimeout: currentIOTimeout()) { return sent }
                    guard socket.sendDatagram(UnsafeRawBufferPointer(rebasing: bytes[range])) else {
                        socket.close()
                        return sent
                    }
                    sent += 1
                }
                return sent
            case .tcp:
                if socket.isOpen && socket.peerHasClosed() { socket.close() }
                if !socket.isOpen && !socket.open(transport, ioTimeout: currentIOTimeout()) { return 0 }
                var framed: [UInt8] = []
                var ends: [Int] = []
                ends.reserveCapacity(messages.count)
                for range in messages {
                    framed.append(contentsOf: String(range.count).utf8)  // RFC 6587 octet counting
                    framed.append(0x20)
                    framed.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[range]))
                    ends.append(framed.count)
                }
                let written = framed.withUnsafeBytes { socket.sendStream($0) }
                if written == framed.count { return messages.count }
                socket.close()
                return ends.prefix { $0 <= written }.count  // a message cut short goes again, whole
            case .relp:
                if relp == nil {
                    var session = RELPSession(socket: SyslogSocket())
                    guard session.socket.open(transport, ioTimeout: currentIOTimeout()), session.open() else {
                        session.socket.close()
                        return 0
                    }
                    relp = session
                }
                var refused = 0
                let settled = relp!.send(bytes, messages, refused: &refused)
                lost.add(refused, ordering: .relaxed)
                if settled < messages.count {
                    relp!.socket.close()
                    relp = nil
                }
                return settled
            }
        }

        /// Called after the writer thread stopped.
        func close() {
            relp?.close()
            relp = nil
            socket.close()
        }

        static func now() -> UInt64 {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        }

        static func sleep(nanoseconds: UInt64) {
            var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
        }
    }
}
