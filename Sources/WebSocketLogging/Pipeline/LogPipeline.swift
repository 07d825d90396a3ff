#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CoreMetrics
import Logging
import Synchronization

/// The formatter chain: record → enrichers → filters → formatter → sink.
///
/// Nothing a user-supplied stage does can fail or corrupt the stream: a throwing enricher is
/// skipped, a throwing filter lets the record through, a throwing formatter (or one whose
/// output is not exactly one line) is replaced by a minimal safe JSON line; each such event
/// increments ``faultCount``. Formatting reuses one line buffer per thread, so the steady
/// state allocates nothing for the built-in formatters.
public final class LogPipeline: Sendable {
    /// Renders records into lines.
    public let formatter: any LogFormatter
    /// Where lines go.
    public let sink: any LogSink
    /// Run first, in order.
    public let enrichers: [LogEnricher]
    /// Run after the enrichers; a record is written only if all pass.
    public let filters: [LogFilter]
    private let faults = Atomic<Int>(0)
    private let dropsReported = Atomic<Int>(0)
    /// Where drops are counted; `nil`: `MetricsSystem.factory`, read when a drop is reported
    /// (the application may bootstrap metrics after logging).
    private let metricsFactory: (any MetricsFactory)?

    /// A pipeline: enrichers → filters → formatter → sink.
    public convenience init(formatter: any LogFormatter, sink: any LogSink, enrichers: [LogEnricher] = [], filters: [LogFilter] = []) {
        self.init(formatter: formatter, sink: sink, enrichers: enrichers, filters: filters, metricsFactory: nil)
    }

    /// A pipeline whose drops are counted through `metricsFactory`.
    package init(formatter: any LogFormatter, sink: any LogSink, enrichers: [LogEnricher] = [], filters: [LogFilter] = [],
                 metricsFactory: (any MetricsFactory)?) {
        self.metricsFactory = metricsFactory
        self.formatter = formatter
        self.sink = sink
        self.enrichers = enrichers
        self.filters = filters
    }

    /// How many times a stage threw or misbehaved.
    public var faultCount: Int { faults.load(ordering: .relaxed) }

    /// Runs `record` through the chain.
    public func log(_ record: LogRecord) {
        guard !enrichers.isEmpty else { return pass(record) }  // no copy of the record to enrich
        var record = record
        for enricher in enrichers {
            do { try enricher.body(&record) } catch { faults.add(1, ordering: .relaxed) }
        }
        pass(record)
    }

    /// Filters, then writes (after a report of what the sink dropped, if anything).
    private func pass(_ record: LogRecord) {
        for filter in filters {
            do {
                if try !filter.decide(record) { return }
            } catch {
                faults.add(1, ordering: .relaxed)
            }
        }
        reportPendingDrops(label: record.label)
        write(record, isDropReport: false)
    }

    /// Writes the `log_records_dropped` report of what the sink dropped since the last one, if anything.
    package func reportPendingDrops(label: String) {
        let dropped = sink.takeDroppedCount()
        guard dropped > 0 else { return }
        countDropped(dropped)
        dropsReported.add(dropped, ordering: .relaxed)
        write(LogRecord(level: .warning, label: label, message: WebSocketLogEvent.logRecordsDropped(count: dropped).message,
                        event: .logRecordsDropped(count: dropped)), isDropReport: true)
    }

    /// Records reported dropped (`log_records_dropped`) since the pipeline was made.
    package var droppedTotal: Int { dropsReported.load(ordering: .relaxed) }

    /// `websockets_log_records_dropped_total`, when a metrics backend is there.
    private func countDropped(_ count: Int) {
        let factory = metricsFactory ?? MetricsSystem.factory
        if factory is NOOPMetricsHandler { return }
        Counter(label: WebSocketMetricName.logRecordsDropped.rawValue, dimensions: [], factory: factory).increment(by: count)
    }

    /// Writes what is buffered in the sink.
    public func flush() { sink.flush() }

    private func write(_ record: LogRecord, isDropReport: Bool) {
        ThreadLocalLine.with { line in
            line.removeAll()
            do {
                try formatter.format(record, into: &line)
                if !line.withUnsafeBytes(Self.isSingleLine) {
                    faults.add(1, ordering: .relaxed)
                    line.removeAll()
                    JSONFormatter().renderMinimal(record, into: &line)
                }
            } catch {
                faults.add(1, ordering: .relaxed)
                line.removeAll()
                JSONFormatter().renderMinimal(record, into: &line)
            }
            line.withUnsafeBytes { isDropReport ? sink.writeDropReport($0) : sink.write($0) }
        }
    }

    /// Exactly one `\n`, at the end, and no other line break (`memchr`: vectorised).
    static func isSingleLine(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, bytes.last == 0x0A else { return false }
        let body = bytes.count - 1
        return memchr(base, 0x0A, body) == nil && memchr(base, 0x0D, body) == nil
    }
}

/// One reusable `LogLine` per thread (pthread TLS; swift-log calls handlers on any thread).
enum ThreadLocalLine {
    final class Box {
        var line = LogLine(capacity: 1024)
    }

    static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { ptr in
            if let ptr { Unmanaged<Box>.fromOpaque(ptr).release() }
        }
        return key
    }()

    static func with<R>(_ body: (inout LogLine) -> R) -> R {
        let box: Box
        if let raw = pthread_getspecific(key) {
            box = Unmanaged<Box>.fromOpaque(raw).takeUnretainedValue()
        } else {
            box = Box()
            pthread_setspecific(key, Unmanaged.passRetained(box).toOpaque())
        }
        return body(&box.line)
    }
}
