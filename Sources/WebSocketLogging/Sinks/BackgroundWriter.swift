#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a bounded sink behaves when its buffer is full.
public enum OverflowPolicy: Sendable, Hashable {
    /// Wait until the writer thread makes room. Nothing is lost.
    case block
    /// Discard the line and count it; the pipeline logs the count (`log_records_dropped`).
    case drop
}

/// The shared engine of the I/O sinks: callers copy lines into a bounded buffer, a thread of
/// its own hands batches to `deliver`. Keeps line boundaries when the transport needs them
/// (datagrams).
final class BackgroundWriter: @unchecked Sendable {
    let bufferSize: Int
    let overflowPolicy: OverflowPolicy
    private let deliver: ([UInt8], [Int]) -> Void
    private let onWake: () -> Void

    // Guarded by `lock` (a pthread mutex, so that `cond` can wait on it).
    private var lock = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var pending: [UInt8] = []
    private var ends: [Int] = []  // end offset of each line in `pending`
    private var writing = false
    private var stopping = false
    private var woken = false
    private var dropped = 0
    /// Batches delivered so far, and how many had been when a line was last dropped: drops are
    /// reported only after a delivery that followed them, so that a full buffer (a stalled
    /// destination) yields one report when it drains instead of one per line meanwhile.
    private var deliveries = 0
    private var deliveriesAtLastDrop = 0
    /// The writer thread waits for data (a producer must signal it).
    private var idle = false
    /// `flush()` callers waiting: the writer must not linger.
    private var flushing = 0
    private var thread: pthread_t?
    /// The thread left its loop (``close(within:)`` waits for it with a bound).
    private var finished = false

    /// - Parameters:
    ///   - deliver: called on the writer thread with a batch of lines and each line's end offset.
    ///   - onWake: called on the writer thread after ``wake()`` (e.g. to reopen a file).
    init(bufferSize: Int, overflowPolicy: OverflowPolicy, deliver: @escaping ([UInt8], [Int]) -> Void,
         onWake: @escaping () -> Void = {}) {
        self.bufferSize = max(bufferSize, 4096)
        self.overflowPolicy = overflowPolicy
        self.deliver = deliver
        self.onWake = onWake
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&cond, nil)
        pending.reserveCapacity(self.bufferSize)
        let unmanaged = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let writer = Unmanaged<BackgroundWriter>.fromOpaque(arg!).takeRetainedValue()
            writer.run()
            return nil
        }, unmanaged.toOpaque())
        precondition(rc == 0, "could not start the log writer thread")
        thread = t
    }

    func write(_ line: UnsafeRawBufferPointer, bounded: Bool = true) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if stopping { return }
        if bounded {
            if line.count > bufferSize {
                // Larger than the whole buffer: wait until it is empty, then accept it alone.
                while !pending.isEmpty && !stopping { pthread_cond_wait(&cond, &lock) }
            } else {
                while pending.count + line.count > bufferSize && !stopping {
                    if overflowPolicy == .drop {
                        dropped += 1
                        deliveriesAtLastDrop = deliveries
                        return
                    }
                    pthread_cond_wait(&cond, &lock)
                }
            }
        }
        pending.append(contentsOf: line)
        ends.append(pending.count)
        // Wake the writer only when it waits for data or the buffer fills: a wake-up (and the
        // context switch it costs) per record was a fifth of the server's CPU in connect churn.
        if idle || pending.count >= bufferSize / 2 { pthread_cond_broadcast(&cond) }
    }

    func flush() {
        pthread_mutex_lock(&lock)
        flushing += 1
        pthread_cond_broadcast(&cond)  // a lingering writer writes now
        while (!pending.isEmpty || writing) && !stopping { pthread_cond_wait(&cond, &lock) }
        flushing -= 1
        pthread_mutex_unlock(&lock)
    }

    /// Lines dropped since the last call, once a batch has been delivered after the last drop
    /// (0 before that; `force` at close, when no delivery will follow).
    func takeDroppedCount(force: Bool = false) -> Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard force || deliveries > deliveriesAtLastDrop else { return 0 }
        let n = dropped
        dropped = 0
        return n
    }

    /// Runs `onWake` on the writer thread before its next batch.
    func wake() {
        pthread_mutex_lock(&lock)
        woken = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&lock)
    }

    /// Flushes, then stops the thread. Later writes are discarded.
    /// Delivers what is buffered and stops the thread, waiting at most `timeout` in all (for
    /// ever without one). A thread still delivering then is left to itself (detached); what it
    /// has not taken from the buffer is counted as dropped. Returns whether the thread finished.
    @discardableResult
    func close(within timeout: Duration? = nil) -> Bool {
        var deadline = timespec()
        if let timeout {
            clock_gettime(CLOCK_REALTIME, &deadline)
            let (seconds, attoseconds) = timeout.components
            deadline.tv_sec += Int(seconds)
            deadline.tv_nsec += Int(attoseconds / 1_000_000_000)
            if deadline.tv_nsec >= 1_000_000_000 {
                deadline.tv_sec += 1
                deadline.tv_nsec -= 1_000_000_000
            }
        }
        var timedOut = false
        /// Waits once for a change; false when the deadline passed.
        func wait() {
            if timeout == nil { pthread_cond_wait(&cond, &lock) } else {
                timedOut = pthread_cond_timedwait(&cond, &lock, &deadline) == ETIMEDOUT
            }
        }
        pthread_mutex_lock(&lock)
        flushing += 1
        pthread_cond_broadcast(&cond)  // a lingering writer writes now
        while (!pending.isEmpty || writing) && !timedOut { wait() }
        flushing -= 1
        stopping = true
        pthread_cond_broadcast(&cond)
        while !finished && !timedOut { wait() }
        let done = finished
        if !done {
            dropped += ends.count  // never taken by the writer
            pending.removeAll()
            ends.removeAll()
        }
        pthread_mutex_unlock(&lock)
        if let thread {
            if done { pthread_join(thread, nil) } else { pthread_detach(thread) }
        }
        thread = nil
        return done
    }

    private func run() {
        var batch: [UInt8] = []
        var batchEnds: [Int] = []
        batch.reserveCapacity(bufferSize)
        pthread_mutex_lock(&lock)
        while true {
            while pending.isEmpty && !woken && !stopping {
                idle = true
                pthread_cond_wait(&cond, &lock)
                idle = false
            }
            if stopping && pending.isEmpty { break }
            // Linger up to 2 ms so that one write(2) carries many records, unless someone flushes,
            // the buffer is half full, or a reopen was asked for.
            if !stopping && !woken && flushing == 0 && pending.count < bufferSize / 2 {
                var deadline = timespec()
                clock_gettime(CLOCK_REALTIME, &deadline)
                deadline.tv_nsec += 2_000_000
                if deadline.tv_nsec >= 1_000_000_000 {
                    deadline.tv_sec += 1
                    deadline.tv_nsec -= 1_000_000_000
                }
                while !stopping && !woken && flushing == 0 && pending.count < bufferSize / 2 {
                    if pthread_cond_timedwait(&cond, &lock, &deadline) == ETIMEDOUT { break }
                }
            }
            let wake = woken
            woken = false
            swap(&pending, &batch)
            swap(&ends, &batchEnds)
            writing = true
            pthread_cond_broadcast(&cond)  // room for blocked writers
            pthread_mutex_unlock(&lock)
            if wake { onWake() }
            if !batch.isEmpty { deliver(batch, batchEnds) }
            batch.removeAll(keepingCapacity: true)
            batchEnds.removeAll(keepingCapacity: true)
            pthread_mutex_lock(&lock)
            deliveries &+= 1
            writing = false
            pthread_cond_broadcast(&cond)  // flush() waiters
        }
        finished = true
        pthread_cond_broadcast(&cond)  // close(within:)
        pthread_mutex_unlock(&lock)
    }
}

/// Writes all of `bytes` to `fd`, retrying on EINTR/EAGAIN; gives up (returns false) when the
/// destination is gone (EPIPE, ENOSPC): losing a batch must not stop the process.
@discardableResult
func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { continue }
            return false
        }
        offset += n
    }
    return true
}
