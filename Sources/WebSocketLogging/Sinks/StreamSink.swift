#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// Writes lines to standard output, standard error or a file, from a thread of its own.
///
/// Callers only copy the line into a bounded buffer (``bufferSize`` bytes), so a slow disk or
/// a blocked pipe never stalls an event loop. When the buffer is full the ``OverflowPolicy``
/// decides: `.block` waits for room (nothing is lost), `.drop` discards the line and counts it
/// (the pipeline then logs a `log_records_dropped` record). ``flush()`` waits until everything
/// accepted is written; every stream sink is also flushed at process exit.
///
/// File sinks open with `O_APPEND | O_CREAT` and reopen the path on ``reopen()`` — call
/// ``reopenFilesOnHangup()`` once so that `SIGHUP` (sent by logrotate's `postrotate`) does it.
public final class StreamSink: LogSink, @unchecked Sendable {
    public enum OverflowPolicy: Sendable, Hashable {
        /// Wait until the writer thread makes room. Nothing is lost.
        case block
        /// Discard the line and count it.
        case drop
    }

    public enum Destination: Sendable, Hashable {
        case standardOutput
        case standardError
        case file(path: String)
    }

    public let destination: Destination
    public let bufferSize: Int
    public let overflowPolicy: OverflowPolicy

    // Guarded by `lock` (a pthread mutex, so that `cond` can wait on it).
    private var lock = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var pending: [UInt8] = []
    private var writing = false
    private var stopping = false
    private var reopenRequested = false
    private var dropped = 0
    private var fd: Int32
    private var thread: pthread_t?

    /// Standard output, shared, blocking when full (logs are the product: never lose them by default).
    public static let standardOutput = StreamSink(destination: .standardOutput)
    /// Standard error, shared.
    public static let standardError = StreamSink(destination: .standardError)

    /// - Parameters:
    ///   - destination: where lines go.
    ///   - bufferSize: bytes accepted before the overflow policy applies. Default 1 MiB.
    ///   - overflowPolicy: `.block` (default) or `.drop`.
    ///
    /// A file that cannot be opened leaves the sink writing nowhere; use ``init(path:bufferSize:overflowPolicy:)``
    /// to find out.
    public init(destination: Destination, bufferSize: Int = 1 << 20, overflowPolicy: OverflowPolicy = .block) {
        self.destination = destination
        self.bufferSize = max(bufferSize, 4096)
        self.overflowPolicy = overflowPolicy
        switch destination {
        case .standardOutput: fd = 1
        case .standardError: fd = 2
        case .file(let path): fd = Self.open(path)
        }
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&cond, nil)
        pending.reserveCapacity(self.bufferSize)
        startThread()
        StreamSinkRegistry.register(self)
    }

    /// A file sink; `nil` if the file cannot be opened for appending.
    public convenience init?(path: String, bufferSize: Int = 1 << 20, overflowPolicy: OverflowPolicy = .block) {
        let probe = Self.open(path)
        guard probe >= 0 else { return nil }
        Glibc.close(probe)
        self.init(destination: .file(path: path), bufferSize: bufferSize, overflowPolicy: overflowPolicy)
    }

    static func open(_ path: String) -> Int32 {
        Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    }

    private func startThread() {
        let unmanaged = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let sink = Unmanaged<StreamSink>.fromOpaque(arg!).takeRetainedValue()
            sink.run()
            return nil
        }, unmanaged.toOpaque())
        precondition(rc == 0, "could not start the log writer thread")
        thread = t
    }

    public func write(_ line: UnsafeRawBufferPointer) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if stopping { return }
        if line.count > bufferSize {
            // A line larger than the whole buffer: wait until the buffer is empty, then accept it.
            while !pending.isEmpty && !stopping { pthread_cond_wait(&cond, &lock) }
        } else {
            while pending.count + line.count > bufferSize && !stopping {
                if overflowPolicy == .drop {
                    dropped += 1
                    return
                }
                pthread_cond_wait(&cond, &lock)
            }
        }
        pending.append(contentsOf: line)
        pthread_cond_broadcast(&cond)
    }

    public func writeDropReport(_ line: UnsafeRawBufferPointer) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if stopping { return }
        pending.append(contentsOf: line)
        pthread_cond_broadcast(&cond)
    }

    public func flush() {
        pthread_mutex_lock(&lock)
        while (!pending.isEmpty || writing) && !stopping { pthread_cond_wait(&cond, &lock) }
        pthread_mutex_unlock(&lock)
    }

    public func takeDroppedCount() -> Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let n = dropped
        dropped = 0
        return n
    }

    /// Writes what is pending, stops the writer thread and closes a file destination. Lines
    /// written afterwards are discarded. The shared stdio sinks are never closed.
    public func close() {
        flush()
        pthread_mutex_lock(&lock)
        stopping = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&lock)
        if let thread { pthread_join(thread, nil) }
        thread = nil
        if case .file = destination, fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Closes and reopens a file destination (after logrotate moved it). No-op for stdio.
    public func reopen() {
        pthread_mutex_lock(&lock)
        reopenRequested = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&lock)
    }

    private func run() {
        var spare: [UInt8] = []
        spare.reserveCapacity(bufferSize)
        pthread_mutex_lock(&lock)
        while true {
            while pending.isEmpty && !reopenRequested && !stopping { pthread_cond_wait(&cond, &lock) }
            if stopping && pending.isEmpty { break }
            if reopenRequested, case .file(let path) = destination {
                let newFD = Self.open(path)
                if newFD >= 0 {
                    Glibc.close(fd)
                    fd = newFD
                }
            }
            reopenRequested = false
            swap(&pending, &spare)
            writing = true
            pthread_cond_broadcast(&cond)  // room for blocked writers
            pthread_mutex_unlock(&lock)
            writeAll(spare)
            spare.removeAll(keepingCapacity: true)
            pthread_mutex_lock(&lock)
            writing = false
            pthread_cond_broadcast(&cond)  // flush() waiters
        }
        pthread_mutex_unlock(&lock)
    }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return  // the destination is gone (EPIPE, ENOSPC): lose this batch, keep serving
                }
                offset += n
            }
        }
    }

    /// Installs a `SIGHUP` handler that reopens every file sink (for logrotate). Idempotent.
    public static func reopenFilesOnHangup() {
        StreamSinkRegistry.installHangupHandler()
    }
}

/// All stream sinks, for flushing at exit and reopening on SIGHUP.
enum StreamSinkRegistry {
    private final class WeakSink: Sendable {
        nonisolated(unsafe) weak var sink: StreamSink?
        init(_ sink: StreamSink) { self.sink = sink }
    }

    private static let sinks = Mutex<[WeakSink]>([])
    private static let atExitInstalled = Atomic<Bool>(false)
    private static let hangup = Mutex<(any DispatchSourceSignal)?>(nil)

    static func register(_ sink: StreamSink) {
        sinks.withLock { list in
            list.removeAll { $0.sink == nil }
            list.append(WeakSink(sink))
        }
        if !atExitInstalled.exchange(true, ordering: .relaxed) {
            atexit { StreamSinkRegistry.flushAll() }
        }
    }

    static var all: [StreamSink] { sinks.withLock { $0.compactMap(\.sink) } }

    static func flushAll() {
        for sink in all { sink.flush() }
    }

    static func installHangupHandler() {
        hangup.withLock { source in
            guard source == nil else { return }
            signal(SIGHUP, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            s.setEventHandler { for sink in StreamSinkRegistry.all { sink.reopen() } }
            s.resume()
            source = s
        }
    }
}
