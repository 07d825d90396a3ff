import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import WebSocketLogging

/// Sends log records to an OpenTelemetry collector over OTLP/HTTP (protobuf), in batches.
///
/// Run it as a service beside the server (`ServiceGroup(services: [exporter, server], …)`): it
/// exports every ``Configuration/scheduleDelay``, or sooner when a batch fills, and on graceful
/// shutdown exports what is left. Records come in through ``OTLPLogHandler`` (or ``export(_:)``).
///
/// Nothing is lost silently: a record that finds the queue full, or whose batch the collector
/// refused or never answered after retries, is counted (``droppedCount``), reported at the next
/// export by a WARNING `log_records_dropped` record to the diagnostics logger (by default the
/// application's logging system, so the JSON log and, once the collector is back, the export
/// itself), and added to `websockets_log_records_dropped_total` when a metrics backend is
/// bootstrapped.
public final class OTLPLogExporter: Service, Sendable {
    private struct State {
        var queue: [(label: String, record: [UInt8])] = []
        var unreportedDrops = 0
        var dropped = 0
        var exported = 0
        var stopping = false
        /// ``run()`` returned: nothing will export a record queued now.
        var finished = false
    }

    /// What it was made with.
    public let configuration: Configuration
    private let transport: OTLPHTTPTransport
    private let diagnostics: Logger
    private let state = NIOLockedValueBox(State())
    private let wake: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)
    private let resourceBytes: [UInt8]

    /// An exporter; `diagnostics` receives its own WARNINGs (drops, failed exports), one of each
    /// per export at most.
    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                diagnostics: Logger = Logger(label: "websockets.otlp")) throws {
        self.configuration = configuration
        self.diagnostics = diagnostics
        self.transport = try OTLPHTTPTransport(endpoint: configuration.endpoint, headers: configuration.headers,
                                               tls: configuration.tls, group: group)
        self.wake = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        var resource = configuration.resource
        if resource["service.name"] == nil { resource["service.name"] = "unknown_service:websockets" }
        resource["telemetry.sdk.name"] = "swift-websockets"
        resource["telemetry.sdk.language"] = "swift"
        var w = ProtobufWriter()
        for (key, value) in resource.sorted(by: { $0.key < $1.key }) {
            OTLPLogRecordEncoding.attribute(&w, key, field: 1) { $0.string(1, value) }  // Resource.attributes
        }
        self.resourceBytes = w.bytes
    }

    /// Records the queue refused or the collector never took.
    public var droppedCount: Int { state.withLockedValue { $0.dropped } }
    /// Records the collector accepted.
    public var exportedCount: Int { state.withLockedValue { $0.exported } }

    /// Queues `record` for export (encoded now, on the caller's thread).
    public func export(_ record: LogRecord) {
        let bytes = OTLPLogRecordEncoding.encode(record)
        let full = state.withLockedValue { state -> Bool? in
            guard state.queue.count < configuration.maxQueueSize, !state.finished else {
                state.dropped += 1
                state.unreportedDrops += 1
                return nil
            }
            state.queue.append((record.label, bytes))
            return state.queue.count >= configuration.maxBatchSize
        }
        if full == true { wake.continuation.yield() }
    }

    /// Exports until graceful shutdown, then exports what is queued and returns.
    public func run() async throws {
        let ticker = Task { [wake, configuration] in
            while !Task.isCancelled {
                try? await Task.sleep(for: configuration.scheduleDelay)
                wake.continuation.yield()
            }
        }
        defer { ticker.cancel() }
        await withGracefulShutdownHandler {
            for await _ in wake.stream {
                await flush()
                if state.withLockedValue({ $0.stopping }) { break }
            }
        } onGracefulShutdown: { [state, wake] in
            state.withLockedValue { $0.stopping = true }
            wake.continuation.yield()
        }
        await flush()
        state.withLockedValue { $0.finished = true }
    }

    /// Exports everything queued now, batch by batch, and reports drops since the last report.
    public func flush() async {
        while true {
            let (batch, drops) = state.withLockedValue { state in
                let batch = Array(state.queue.prefix(configuration.maxBatchSize))
                state.queue.removeFirst(batch.count)
                defer { state.unreportedDrops = 0 }
                return (batch, state.unreportedDrops)
            }
            if drops > 0 { reportDrops(drops) }
            if batch.isEmpty { return }
            let rejected = await send(batch)
            state.withLockedValue { state in
                state.exported += batch.count - rejected
                state.dropped += rejected
                state.unreportedDrops += rejected
            }
        }
    }

    /// Posts one batch, retrying what OTLP calls retryable (no answer, 429, 502, 503, 504) up
    /// to twice, waiting `Retry-After` when the collector says how long; everything, waits
    /// included, within ``Configuration/exportTimeout``. Returns how many records were not
    /// accepted: all of them after a failure, the collector's `partial_success` count otherwise.
    private func send(_ batch: [(label: String, record: [UInt8])]) async -> Int {
        let body = request(batch)
        let deadline = ContinuousClock.now + configuration.exportTimeout
        var failure = ""
        for attempt in 0..<3 {
            do {
                let left = deadline - .now
                guard left > .milliseconds(1) else { failure += " (export timeout reached)"; break }
                let answer = try await transport.post(body, timeout: TimeAmount(left))
                if (200..<300).contains(answer.status.code) {
                    let partial = Self.partialSuccess(answer.body)
                    if partial.rejected > 0 {
                        diagnostics.warning("OTLP export to \(configuration.endpoint): the collector rejected \(partial.rejected) of \(batch.count) records\(partial.message.isEmpty ? "" : ": " + partial.message)")
                    }
                    return min(partial.rejected, batch.count)
                }
                failure = "HTTP \(answer.status.code) \(answer.status.reasonPhrase)"
                if ![429, 502, 503, 504].contains(answer.status.code) { break }
                let wait = answer.retryAfter.map { Duration.seconds($0) } ?? .milliseconds(250 << (attempt + 1))
                if attempt < 2 {
                    guard ContinuousClock.now + wait < deadline else {
                        failure += answer.retryAfter.map { " (Retry-After \($0) s is past the export timeout)" } ?? ""
                        break
                    }
                    try? await Task.sleep(for: wait)
                }
            } catch {
                failure = "\(error)"
                if attempt < 2 {
                    let wait = Duration.milliseconds(250 << (attempt + 1))
                    guard ContinuousClock.now + wait < deadline else { break }
                    try? await Task.sleep(for: wait)
                }
            }
        }
        diagnostics.warning("OTLP export to \(configuration.endpoint) failed: \(failure); \(batch.count) records dropped")
        return batch.count
    }

    /// `ExportLogsServiceResponse.partial_success` (field 1): `rejected_log_records` (1) and
    /// `error_message` (2); zero and empty when absent or unreadable.
    static func partialSuccess(_ body: [UInt8]) -> (rejected: Int, message: String) {
        var reader = ProtobufReader(body)
        guard let partial = reader.field(1).flatMap({ $0.bytes }) else { return (0, "") }
        var inner = ProtobufReader(partial)
        var rejected = 0, message = ""
        while let field = inner.next() {
            switch (field.number, field.value) {
            case (1, .varint(let v)): rejected = Int(clamping: v)
            case (2, .bytes(let b)): message = String(decoding: b.prefix(512), as: UTF8.self)
            default: break
            }
        }
        return (rejected, message)
    }

    private func reportDrops(_ count: Int) {
        let event = WebSocketLogEvent.logRecordsDropped(count: count)
        diagnostics.warning("\(event.message)", metadata: [webSocketEventMetadataKey: .stringConvertible(event)])
        if !(MetricsSystem.factory is NOOPMetricsHandler) {
            Counter(label: WebSocketMetricName.logRecordsDropped.rawValue).increment(by: count)
        }
    }

    /// `ExportLogsServiceRequest { resource_logs { resource, scope_logs per logger label } }`.
    func request(_ batch: [(label: String, record: [UInt8])]) -> [UInt8] {
        var labels: [String] = []
        var byLabel: [String: [[UInt8]]] = [:]
        for item in batch {
            if byLabel[item.label] == nil { labels.append(item.label) }
            byLabel[item.label, default: []].append(item.record)
        }
        var w = ProtobufWriter(capacity: batch.reduce(256) { $0 + $1.record.count + 8 })
        w.message(1) { resourceLogs in
            resourceLogs.data(1, resourceBytes)
            for label in labels {
                resourceLogs.message(2) { scopeLogs in
                    scopeLogs.message(1) { $0.string(1, label) }  // InstrumentationScope.name
                    for record in byLabel[label] ?? [] { scopeLogs.data(2, record) }
                }
            }
        }
        return w.bytes
    }
}
