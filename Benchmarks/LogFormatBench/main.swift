// Micro-benchmark: format + write one INFO `connection_open` record with connection context to
// a discarding sink (issue: the logging pipeline, target ≤ 150 ns and no allocation per record).
//
//   swift run -c release LogFormatBench [records]
//
// Prints ns per record for the JSON and plain formatters alone, for the whole pipeline
// (enrichers/filters/formatter/sink) and through swift-log's Logger with our JSONLogHandler.
// Allocations per record: run under `valgrind --tool=memcheck` with two record counts and
// divide the difference of "total heap usage" by the difference of records (Benchmarks/README.md).
import Logging
import NIOCore
import WebSocketCore
import WebSocketLogging
#if canImport(Glibc)
import Glibc
#endif

let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 2_000_000

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let context = ConnectionContext(peerAddress: "203.0.113.7", peerPort: 54321)
let event = WebSocketLogEvent.connectionOpen(ConnectionOpenInfo(path: "/chat?room=1", subprotocol: "chat", handshakeDuration: 0.000812))
let record = LogRecord(level: .info, label: "websockets.server", message: "connection open", event: event, connection: context)

@inline(never)
func bench(_ name: String, _ body: () -> Void) {
    for _ in 0..<(count / 10) { body() }  // warm-up
    let start = now()
    for _ in 0..<count { body() }
    let ns = Double(now() - start) / Double(count)
    print("\(name): \((ns * 10).rounded() / 10) ns/record")
}

var line = LogLine(capacity: 1024)
let json = JSONFormatter()
let plain = PlainFormatter()
let jsonPipeline = LogPipeline(formatter: json, sink: NullSink())
let logger = Logger(label: "websockets.server") { JSONLogHandler(label: $0, pipeline: jsonPipeline) }
let events = WebSocketEventLogger(logger: logger).with(connection: context)

var mode = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : "all"
if mode == "all" || mode == "json" {
    bench("JSONFormatter.format (connection_open with context)") {
        line.removeAll()
        json.format(record, into: &line)
    }
}
if mode == "all" || mode == "plain" {
    bench("PlainFormatter.format (connection_open with context)") {
        line.removeAll()
        plain.format(record, into: &line)
    }
}
if mode == "all" || mode == "pipeline" {
    bench("LogPipeline.log → NullSink (JSON)") { jsonPipeline.log(record) }
}
if mode == "all" || mode == "logger" {
    bench("Logger → JSONLogHandler → NullSink (emit connection_open)") { events.emit(event) }
}
if mode == "all" || mode == "disabled" {
    var quiet = logger
    quiet.logLevel = .info
    let quietEvents = WebSocketEventLogger(logger: quiet).with(connection: context)
    let frame = Frame(opcode: .text, payload: .init(string: "hello"))
    bench("DEBUG frame trace with DEBUG off (wantsTraces check)") {
        if quietEvents.wantsTraces { quietEvents.emit(trace: .frame(frame, .received)) }
    }
}
