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
    /// Where a stream sink writes.
    public enum Destination: Sendable, Hashable {
        case standardOutput
        case standardError
        case file(path: String)
    }

    /// Where this sink writes.
    public let destination: Destination
    /// Bytes buffered before the overflow policy applies.
    public var bufferSize: Int { writer.bufferSize }
    /// What happens when the buffer is full.
    public var overflowPolicy: OverflowPolicy { writer.overflowPolicy }

    private let fd: FileDescriptorBox
    private let writer: BackgroundWriter

    /// Standard output, shared, blocking when full (logs are the product: never lose them by default).
    public static let standardOutput = StreamSink(destination: .standardOutput)
    /// Standard error, shared.
    public static let standardError = StreamSink(destination: .standardError)

    /// - Parameters:
    ///   - destination: where lines go.
    ///   - bufferSize: bytes accepted before the overflow policy applies. Default 1 MiB.
    ///   - overflowPolicy: `.block` (default) or `.drop`.
    ///
    /// A file that cannot be opened leaves the sink writing nowhere; use
    /// ``init(path:bufferSize:overflowPolicy:)`` to find out.
    public init(destination: Destination, bufferSize: Int = 1 << 20, overflowPolicy: OverflowPolicy = .block) {
        self.destination = destination
        let fd: FileDescriptorBox
        switch destination {
        case .standardOutput: fd = FileDescriptorBox(1)
        case .standardError: fd = FileDescriptorBox(2)
        case .file(let path): fd = FileDescriptorBox(Self.open(path))
        }
        self.fd = fd
        writer = BackgroundWriter(bufferSize: bufferSize, overflowPolicy: overflowPolicy,
                                  deliver: { bytes, _ in bytes.withUnsafeBytes { _ = writeFully(fd.value, $0) } },
                                  onWake: {
                                      guard case .file(let path) = destination else { return }
                                      let reopened = Self.open(path)
                                      guard reopened >= 0 else { return }
                                      Glibc.close(fd.value)
                                      fd.value = reopened
                                  })
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

    public func write(_ line: UnsafeRawBufferPointer) { writer.write(line) }
    public func writeDropReport(_ line: UnsafeRawBufferPointer) { writer.write(line, bounded: false) }
    public func flush() { writer.flush() }
    public func takeDroppedCount() -> Int { writer.takeDroppedCount() }

    /// Closes and reopens a file destination (after logrotate moved it). No-op for stdio.
    public func reopen() { writer.wake() }

    /// Writes what is pending, stops the writer thread and closes a file destination. Lines
    /// written afterwards are discarded.
    public func close() {
        writer.close()
        if case .file = destination, fd.value >= 0 {
            Glibc.close(fd.value)
            fd.value = -1
        }
    }

    /// Installs a `SIGHUP` handler that reopens every file sink (for logrotate). Idempotent.
    public static func reopenFilesOnHangup() {
        StreamSinkRegistry.installHangupHandler()
    }
}

/// A file descriptor the writer thread may replace (only the writer thread and `close` touch it).
final class FileDescriptorBox: @unchecked Sendable {
    var value: Int32
    init(_ value: Int32) { self.value = value }
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
            // A queue of its own: the global queues share threads with the cooperative pool, which
            // a busy process may keep occupied.
            let s = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "websockets.log-reopen"))
            s.setEventHandler { for sink in StreamSinkRegistry.all { sink.reopen() } }
            s.resume()
            source = s
        }
    }
}
