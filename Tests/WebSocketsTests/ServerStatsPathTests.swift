import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

@Suite("server_stats on every path: callbacks, handler task, mounted upgrader, route upgraders", .serialized, .timeLimit(.minutes(2)))
struct ServerStatsPathTests {
    static func stats(_ logs: MemorySink) -> [[String: Any]] {
        records(logs).filter { $0["event"] as? String == "server_stats" }.compactMap { $0["fields"] as? [String: Any] }
    }

    static func sum(_ windows: [[String: Any]], _ key: String) -> Int { windows.reduce(0) { $0 + ($1[key] as? Int ?? 0) } }

    @Test("windows sum to what the clients did: opens, closes by outcome (1006 apart), a rejection, an HTTP answer, messages; the last at shutdown; schema-valid",
          arguments: OneRuleTests.Path.allCases)
    func windowsSumToTraffic(path: OneRuleTests.Path) async throws {
        let logs = MemorySink()
        let target = try await HostileTarget.start(path, logs: logs) { configuration in
            configuration.statsInterval = .milliseconds(200)
            configuration.processRequest = { request, _ in request.uri == "/health" ? HTTPResponse(status: .ok, body: "ok") : nil }
        }
        let url = "ws://127.0.0.1:\(target.port)/echo"
        for i in 0..<3 {  // deflate on both sides (the client's default)
            let ws = try await bounded(10, "connect \(i)") { try await WebSocketClient.connect(to: url) }
            try await ws.send(.text("message 1"))
            try await ws.send(.text("message 2"))
            let echoed = try await bounded(10, "echoes \(i)") {
                var it = ws.messages.makeAsyncIterator()
                return [try await it.next(), try await it.next()].count { $0 != nil }
            }
            #expect(echoed == 2)
            await ws.close(code: i == 2 ? CloseCode(4001) : .normalClosure, reason: "")
        }
        let abort = try RawSocket(port: target.port)  // 1006: upgraded, then the TCP connection is dropped
        abort.send(upgradeRequest(path: "/echo"))
        #expect(String(decoding: await abort.readHeadAsync(), as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        abort.shutdownBoth()
        let rejected = try RawSocket(port: target.port)
        rejected.send(upgradeRequest(path: "/echo").replacingOccurrences(of: "Sec-WebSocket-Version: 13", with: "Sec-WebSocket-Version: 12"))
        #expect(String(decoding: await rejected.readHeadAsync(), as: UTF8.self).hasPrefix("HTTP/1.1 426"))
        let health = try RawSocket(port: target.port)
        health.send(upgradeRequest(path: "/health"))
        #expect(String(decoding: await health.readHeadAsync(), as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        await waitFor({ records(logs).filter { $0["event"] as? String == "connection_closed" }.count == 4 }, seconds: 10)
        await waitFor({ Self.stats(logs).count >= 2 }, seconds: 10)  // a periodic window or more
        let periodic = Self.stats(logs).count
        await target.shutdown()

        let windows = Self.stats(logs)
        #expect(windows.count > periodic, "one more at shutdown")
        #expect(Self.sum(windows, "connections_opened") == 4)
        #expect(Self.sum(windows, "connections_closed") == 4)
        #expect(Self.sum(windows, "closed_normal") == 2)
        #expect(Self.sum(windows, "closed_application") == 1)
        #expect(Self.sum(windows, "closed_abnormal") == 1)
        #expect(Self.sum(windows, "handshakes_rejected") == 1)
        #expect(Self.sum(windows, "http_responses") == 1)
        #expect(Self.sum(windows, "messages_in") == 6 && Self.sum(windows, "messages_out") == 6)
        #expect(Self.sum(windows, "bytes_in") > 0 && Self.sum(windows, "bytes_out") > 0)
        var active = 0
        for window in windows {  // each window's active count follows from its opens and closes
            active += (window["connections_opened"] as? Int ?? 0) - (window["connections_closed"] as? Int ?? 0)
            #expect(window["connections_active"] as? Int == active, "\(window)")
        }
        #expect(windows.last?["connections_active"] as? Int == 0)
        #expect(windows.contains { $0["connection_duration_p99"] != nil } && windows.contains { $0["handshake_duration_p50"] != nil })
        let lines = logs.lines.filter { $0.contains("\"server_stats\"") }
        let result = try await validateWithSchema(lines)
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("records the pipeline's sink dropped are counted in the window that reported them")
    func droppedRecords() async throws {
        let sink = MetricsEventTests.DroppingSink()  // says it dropped 4, once
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { label in
            StructuredLogHandler(label: label, pipeline: LogPipeline(formatter: JSONFormatter(), sink: sink))
        }
        configuration.statsInterval = .seconds(3600)
        let reporter = try #require(StatsReporter(configuration))
        reporter.start(log: configuration.makeEventLogger(stats: reporter.stats))
        reporter.finish()
        let window = try #require(Self.stats(sink.lines).last)
        #expect(window["records_dropped"] as? Int == 4)
        #expect(records(sink.lines).contains { $0["event"] as? String == "log_records_dropped" })
    }

    @Test("no statsInterval, no stats: nothing counted, no record")
    func offByDefault() async throws {
        #expect(ServerConfiguration().statsInterval == nil)
        #expect(StatsReporter(ServerConfiguration()) == nil)
        let logs = MemorySink()
        let target = try await HostileTarget.start(.callbacks, logs: logs)
        await target.shutdown()
        #expect(Self.stats(logs).isEmpty)
    }
}
