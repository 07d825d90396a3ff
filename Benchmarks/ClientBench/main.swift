// Our client as a load generator (issue #8): CONNS connections each send a SIZE-byte text
// message and wait for its echo, for SECONDS. Prints one JSON line (messages, msgs/s, and this
// process's CPU per message) so Benchmarks/client.sh can compare it with the Go generator
// driving the same echo server.
//
//   ClientBench ws://127.0.0.1:PORT/ [CONNS=64] [SECONDS=4] [SIZE=32]
import Foundation
import Logging
import Synchronization
import WebSocketCore
import WebSocketLogging
import WebSockets

let arguments = Array(CommandLine.arguments.dropFirst())
guard let url = arguments.first else {
    print("usage: ClientBench URL [CONNS] [SECONDS] [SIZE]")
    exit(2)
}
let conns = arguments.count > 1 ? Int(arguments[1]) ?? 64 : 64
let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 4 : 4
let size = arguments.count > 3 ? Int(arguments[3]) ?? 32 : 32

var configuration = ClientConfiguration()
configuration.compression = nil
configuration.logger = Logger(label: "websockets.client") { StructuredLogHandler.json(label: $0, sink: StreamSink.standardError, logLevel: .warning) }
let config = configuration
let payload = String(repeating: "x", count: size)
let count = Atomic<Int>(0)

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

var sockets: [WebSocket] = []
for _ in 0..<conns { sockets.append(try await WebSocketClient.connect(to: url, configuration: config)) }
let deadline = ContinuousClock.now + .seconds(seconds)
let cpuStart = cpuSeconds()
let started = ContinuousClock.now
await withTaskGroup(of: Void.self) { group in
    for ws in sockets {
        group.addTask(executorPreference: ws.taskExecutor) {   // no thread hop per message
            var replies = ws.messages.makeAsyncIterator()
            var n = 0
            while ContinuousClock.now < deadline {
                do {
                    try await ws.send(payload)
                    guard try await replies.next() != nil else { break }
                } catch { break }
                n += 1
            }
            count.add(n, ordering: .relaxed)
        }
    }
}
let elapsed = ContinuousClock.now - started
let cpu = cpuSeconds() - cpuStart
let total = count.load(ordering: .relaxed)
let secondsElapsed = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("{\"tool\":\"swift-websockets ClientBench\",\"conns\":\(conns),\"size\":\(size),\"msgs\":\(total),"
    + "\"msgs_per_s\":\(Int(Double(total) / secondsElapsed)),\"client_cpu_us_per_msg\":\((cpu / Double(max(total, 1)) * 1e7).rounded() / 10)}")
for ws in sockets { await ws.close() }
