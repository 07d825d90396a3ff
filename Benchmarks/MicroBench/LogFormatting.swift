// The cost of one log record: formatting a connection_open record with its connection context
// (JSON, ECS and plain), the whole pipeline to a discarding sink, swift-log's Logger in front, and a
// DEBUG trace while DEBUG is off. Target: JSON ≤ 150 ns and no allocation.
import Logging
import NIOCore
import WebSocketCore
import WebSocketLogging

func loggingBenchmarks() -> [Benchmark] {
    let context = ConnectionContext(peerAddress: "203.0.113.7", peerPort: 54321)
    let event = WebSocketLogEvent.connectionOpen(ConnectionOpenInfo(path: "/chat?room=1", subprotocol: "chat", handshakeDuration: 0.000812))
    let record = LogRecord(level: .info, label: "websockets.server", message: "connection open", event: event, connection: context)
    var line = LogLine(capacity: 1024)
    let json = JSONFormatter()
    let plain = PlainFormatter()
    let ecs = ECSFormatter()
    let jsonPipeline = LogPipeline(formatter: json, sink: NullSink())
    let logger = Logger(label: "websockets.server") { StructuredLogHandler(label: $0, pipeline: jsonPipeline) }
    let events = WebSocketEventLogger(logger: logger).with(connection: context)
    let quietEvents = WebSocketEventLogger(logger: logger).with(connection: context)
    let frame = Frame(opcode: .text, payload: .init(string: "hello"))
    return [
        Benchmark(name: "log: JSONFormatter.format connection_open with context", iterations: 2_000_000) {
            line.removeAll()
            json.format(record, into: &line)
        },
        Benchmark(name: "log: ECSFormatter.format connection_open with context", iterations: 2_000_000) {
            line.removeAll()
            ecs.format(record, into: &line)
        },
        Benchmark(name: "log: PlainFormatter.format connection_open with context", iterations: 2_000_000) {
            line.removeAll()
            plain.format(record, into: &line)
        },
        Benchmark(name: "log: LogPipeline.log → NullSink (JSON)", iterations: 2_000_000) { jsonPipeline.log(record) },
        Benchmark(name: "log: Logger → StructuredLogHandler.json → NullSink (emit connection_open)", iterations: 1_000_000) { events.emit(event) },
        Benchmark(name: "log: DEBUG frame trace with DEBUG off", iterations: 20_000_000) {
            if quietEvents.wantsTraces { quietEvents.emit(trace: .frame(frame, .received)) }
        },
    ]
}
