import Synchronization

/// Where formatted lines go. `write` receives exactly one complete line (newline included)
/// and must not block for long: sinks that do I/O buffer and write on their own thread.
public protocol LogSink: Sendable {
    /// Accepts one line. The bytes are only valid during the call.
    func write(_ line: UnsafeRawBufferPointer)
    /// Returns once every line accepted so far has been handed to the operating system.
    func flush()
    /// Lines dropped because the sink was full since the last call (policy `.drop`); the
    /// pipeline reports them with a `log_records_dropped` record.
    func takeDroppedCount() -> Int
    /// Accepts the line that reports dropped lines. It must not be dropped itself, or the
    /// count would be lost: bounded sinks accept it past their bound (it is one short line per
    /// episode of drops).
    func writeDropReport(_ line: UnsafeRawBufferPointer)
}

extension LogSink {
    public func writeDropReport(_ line: UnsafeRawBufferPointer) { write(line) }
    public func flush() {}
    public func takeDroppedCount() -> Int { 0 }
}

/// Discards every line: logging fully formatted but never written (benchmarks, disabling).
public struct NullSink: LogSink {
    /// Creates the sink.
    public init() {}
    public func write(_ line: UnsafeRawBufferPointer) {}
}

/// Keeps lines in memory: for tests, like swift-log's `InMemoryLogHandler`.
public final class MemorySink: LogSink {
    private let storage = Mutex<[String]>([])

    /// Creates the sink.
    public init() {}

    public func write(_ line: UnsafeRawBufferPointer) {
        let text = String(decoding: line, as: UTF8.self)
        storage.withLock { $0.append(text) }
    }

    /// Every line written so far, newline included.
    public var lines: [String] { storage.withLock { $0 } }

    /// Forgets the lines written so far.
    public func clear() { storage.withLock { $0.removeAll() } }
}
