import CoreMetrics
import Foundation
import Logging
import MetricsTestKit
import NIOHTTP1
import Synchronization
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

private typealias Name = WebSocketMetricName

/// The total of counter `name` with `labels` (any further labels summed over).
private func total(_ metrics: TestMetrics, _ name: Name, _ labels: [(String, String)] = []) -> Int64 {
    metrics.counters(label: name.rawValue).filter { counter in
        labels.allSatisfy { label in counter.dimensions.contains { $0 == label } }
    }.reduce(0) { $0 + $1.totalValue }
}

@Suite("Metrics from the typed events")
struct MetricsEventTests {
    @Test("Off without a backend: swift-metrics' no-op factory makes no metrics object at all")
    func offWithoutBackend() {
        #expect(WebSocketMetrics(role: .server, factory: NOOPMetricsHandler.instance) == nil)
        #expect(WebSocketMetrics(role: .server) == nil, "the test process bootstraps no backend")
        #expect(WebSocketMetrics(role: .client, factory: TestMetrics()) != nil)
    }

    @Test("Each event moves its metric, with bounded labels")
    func eventsToMetrics() throws {
        let test = TestMetrics()
        let metrics = try #require(WebSocketMetrics(role: .server, factory: test))
        metrics.record(.connectionOpen(ConnectionOpenInfo(path: "/a", handshakeDuration: 0.002)))
        metrics.record(.connectionOpen(ConnectionOpenInfo(path: "/b?token=x", handshakeDuration: 0.004)))
        #expect(try test.expectMeter(Name.connectionsActive.rawValue, [("role", "server")]).values.last == 2)
        metrics.record(.connectionClosed(ConnectionClosedInfo(code: 1000, initiator: .remote, duration: 1.5)))
        metrics.record(.connectionClosed(ConnectionClosedInfo(code: 4123, initiator: .local, duration: 0.5)))
        #expect(try test.expectMeter(Name.connectionsActive.rawValue, [("role", "server")]).values.last == 0)
        #expect(total(test, .connectionsOpened) == 2)
        #expect(total(test, .connectionsClosed, [("outcome", "ok"), ("code", "1000"), ("initiator", "remote")]) == 1)
        #expect(total(test, .connectionsClosed, [("outcome", "error"), ("code", "4xxx"), ("initiator", "local")]) == 1)
        let handshake = try test.expectTimer(Name.handshakeDuration.rawValue, [("role", "server")])
        #expect(handshake.values == [2_000_000, 4_000_000])
        #expect(try test.expectTimer(Name.connectionDuration.rawValue, [("role", "server")]).values.count == 2)

        metrics.record(.connectionRejected(ConnectionRejectedInfo(status: 400, reason: "no key", rejection: "invalid_key", path: "/x")))
        metrics.record(.connectionRejected(ConnectionRejectedInfo(status: 400, reason: "no key", rejection: "invalid_key", path: "/y")))
        #expect(total(test, .connectionsRejected, [("reason", "invalid_key"), ("status", "400")]) == 2)
        metrics.record(.httpResponseSent(HTTPResponseSentInfo(status: 401, reason: "Unauthorized", path: "/ws")))
        #expect(total(test, .httpResponses, [("status", "401")]) == 1)
        metrics.record(.pongReceived(roundTrip: 0.000250))
        #expect(try test.expectTimer(Name.keepaliveRoundTrip.rawValue, [("role", "server")]).values == [250_000])
        metrics.record(.keepaliveTimeout(timeout: 20))
        metrics.record(.tlsHandshakeFailed(reason: "bad record"))
        metrics.record(.handlerFailed(errorType: "E", description: "d"))
        metrics.record(.logRecordsSuppressed(event: "connection_rejected", count: 7, interval: 1))
        #expect(total(test, .keepaliveTimeouts) == 1)
        #expect(total(test, .tlsHandshakeFailures) == 1)
        #expect(total(test, .handlerFailures) == 1)
        #expect(total(test, .logRecordsSuppressed, [("event", "connection_rejected")]) == 7)
        metrics.record(.frameSent(FrameInfo(opcode: .text, fin: true, rsv1: false, size: 1, preview: "'a'")))
        let labels = test.counters.flatMap(\.dimensions).map(\.0)
        #expect(Set(labels).isSubset(of: ["role", "outcome", "code", "initiator", "reason", "status", "event"]),
                "never a connection id or a path: \(Set(labels))")
    }

    @Test("Close codes: registered ones as themselves, the peer-chosen ranges as classes", arguments: [
        (1000, "1000"), (1006, "1006"), (1015, "1015"), (3000, "3xxx"), (3999, "3xxx"), (4000, "4xxx"), (4999, "4xxx"),
        (2999, "other"), (1016, "other"),
    ])
    func codeClasses(code: Int, expected: String) {
        #expect(WebSocketMetrics.codeClass(code) == expected)
    }

    @Test("Traffic is added as deltas, to the metrics and the stats: a connection reported at each ping and at close counts once")
    func trafficDeltas() throws {
        let test = TestMetrics()
        let stats = ServerStats()
        let metrics = WebSocketEventLogger(logger: Logger(label: "t"), metrics: try #require(WebSocketMetrics(role: .client, factory: test)),
                                           stats: stats)
        var mark: WebSocketEventLogger.TrafficMark?
        var counters = ConnectionStatistics()
        counters.messagesIn = 3; counters.messagesOut = 2; counters.wireBytesIn = 100; counters.wireBytesOut = 50
        metrics.addTraffic(counters, since: &mark)
        counters.messagesIn = 5; counters.wireBytesIn = 180
        metrics.addTraffic(counters, since: &mark)
        metrics.addTraffic(counters, since: &mark)
        #expect(total(test, .messagesReceived, [("role", "client")]) == 5)
        #expect(total(test, .messagesSent) == 2)
        #expect(total(test, .bytesReceived) == 180)
        #expect(total(test, .bytesSent) == 50)
        let window = stats.takeWindow(recordsDropped: 0)
        let traffic: [Int] = [window.messagesIn, window.messagesOut, window.bytesIn, window.bytesOut]
        #expect(traffic == [5, 2, 180, 50])
    }

    /// A sink that says it dropped records.
    final class DroppingSink: LogSink {
        let lines = MemorySink()
        let toReport = OneShotCount(4)
        func write(_ line: UnsafeRawBufferPointer) { lines.write(line) }
        func flush() {}
        func takeDroppedCount() -> Int { toReport.take() }
        func writeDropReport(_ line: UnsafeRawBufferPointer) { lines.write(line) }
    }

    @Test("The pipeline counts what its sink dropped, the same number its log_records_dropped record reports")
    func pipelineDrops() throws {
        let test = TestMetrics()
        let sink = DroppingSink()
        let pipeline = LogPipeline(formatter: JSONFormatter(), sink: sink, metricsFactory: test)
        pipeline.log(LogRecord(level: .info, label: "t", message: "one"))
        pipeline.log(LogRecord(level: .info, label: "t", message: "two"))
        #expect(total(test, .logRecordsDropped) == 4)
        #expect(sink.lines.lines.filter { $0.contains("\"log_records_dropped\"") && $0.contains("\"dropped\":4") }.count == 1, "\(sink.lines.lines)")
    }
}

/// An `Int` taken once (the drop count a sink reports, then zero).
final class OneShotCount: Sendable {
    private let value: Mutex<Int>
    init(_ value: Int) { self.value = Mutex(value) }
    func take() -> Int { value.withLock { v in defer { v = 0 }; return v } }
}

@Suite("Metrics of a real server and client", .timeLimit(.minutes(1)))
struct MetricsConnectionTests {
    @Test("Opened, closed, messages, bytes and keepalive round trips, on both sides; the active gauge returns to 0")
    func serverAndClient() async throws {
        let serverMetrics = TestMetrics(), clientMetrics = TestMetrics()
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs) {
            $0.metricsFactory = serverMetrics
            $0.connection.pingInterval = .milliseconds(20)
        }
        var client = ClientConfiguration()
        client.metricsFactory = clientMetrics
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/close/4001", configuration: client)
        // Keepalive pings come every 20 ms; wait for the server to have recorded one pong.
        await waitFor({ (try? serverMetrics.expectTimer(Name.keepaliveRoundTrip.rawValue, [("role", "server")]).values.isEmpty) == false },
                      seconds: 30)
        try await ws.send(.text("hello"))
        // Read as an application does: the client reads what its consumer asks for.
        // Bounds are generous: the whole suite shares two cores.
        try await bounded(30, "close 4001") {
            do { for try await _ in ws.messages {} } catch {}
            await ws.waitUntilClosed()
        }
        #expect(ws.closeCode == CloseCode(4001))
        await waitFor({ total(serverMetrics, .connectionsClosed) == 1 }, seconds: 30)
        #expect(total(serverMetrics, .connectionsOpened, [("role", "server")]) == 1)
        #expect(total(serverMetrics, .connectionsClosed, [("outcome", "error"), ("code", "4xxx"), ("initiator", "local")]) == 1)
        #expect(total(clientMetrics, .connectionsClosed, [("role", "client"), ("code", "4xxx"), ("initiator", "remote")]) == 1)
        #expect(total(serverMetrics, .messagesReceived) == 1)
        #expect(total(clientMetrics, .messagesSent) == 1)
        let closed = try #require(records(logs).first { $0["event"] as? String == "connection_closed" })
        let data = try #require(closed["event_data"] as? [String: Any])
        #expect(total(serverMetrics, .bytesReceived) == Int64(data["bytes_in"] as? Int ?? -1), "the log's count")
        #expect(total(serverMetrics, .bytesSent) == Int64(data["bytes_out"] as? Int ?? -1))
        #expect(try serverMetrics.expectMeter(Name.connectionsActive.rawValue, [("role", "server")]).values.last == 0)
        #expect(try clientMetrics.expectMeter(Name.connectionsActive.rawValue, [("role", "client")]).values.last == 0)
        #expect(try serverMetrics.expectTimer(Name.handshakeDuration.rawValue, [("role", "server")]).values.count == 1)
        await server.shutdown()
    }

    @Test("Rejections a rate limit keeps out of the log are still counted; processRequest answers are counted by status")
    func suppressedRejectionsCounted() async throws {
        let serverMetrics = TestMetrics()
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs) {
            $0.metricsFactory = serverMetrics
            $0.rejectionLogLimit = 2
        }
        for _ in 0..<6 {
            let raw = try RawSocket(port: server.port)
            raw.send("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
            _ = await raw.readAllAsync()
        }
        let health = try RawSocket(port: server.port)
        health.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = await health.readAllAsync()
        await waitFor({ total(serverMetrics, .httpResponses) == 1 }, seconds: 30)
        #expect(total(serverMetrics, .connectionsRejected, [("reason", "missing_key"), ("status", "400")]) == 6)
        #expect(total(serverMetrics, .httpResponses, [("status", "200")]) == 1)
        await server.shutdown()  // reports what the limit still holds back
        // The log: at most 2 a second written, the rest in log_records_suppressed; the counters
        // have every rejection, and the suppressed ones once more under their own name.
        let all = records(logs)
        let logged = all.filter { $0["event"] as? String == "connection_rejected" }.count
        let suppressed = all.filter { $0["event"] as? String == "log_records_suppressed" }
            .compactMap { ($0["fields"] as? [String: Any])?["suppressed"] as? Int }.reduce(0, +)
        #expect(logged >= 2 && logged + suppressed == 6, "logged \(logged), suppressed \(suppressed)")
        #expect(total(serverMetrics, .logRecordsSuppressed, [("event", "connection_rejected")]) == Int64(suppressed))
    }
}

@Suite("Keepalive records within the trace budget")
struct KeepaliveBudgetTests {
    @Test("keepalive pings and pongs count against the connection's DEBUG budget (a long-lived connection cannot exceed it), and still feed the metrics")
    func keepaliveWithinBudget() async throws {
        let serverMetrics = TestMetrics()
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs, level: .debug) {
            $0.metricsFactory = serverMetrics
            $0.connection.pingInterval = .milliseconds(10)
            $0.connection.traceBudget = 20  // the handshake's traces take most of it
        }
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        await waitFor({ ((try? serverMetrics.expectTimer(Name.keepaliveRoundTrip.rawValue, [("role", "server")]).values.count) ?? 0) >= 10 },
                      seconds: 30)
        await ws.close()
        await server.shutdown()
        let rtts = try serverMetrics.expectTimer(Name.keepaliveRoundTrip.rawValue, [("role", "server")]).values.count
        #expect(rtts >= 10, "every pong measured")
        let debug = records(logs).filter { $0["level"] as? String == "debug" }
        #expect(debug.count <= 20, "\(debug.count) DEBUG records")
        #expect(records(logs).contains { $0["event"] as? String == "log_records_suppressed" })
    }
}

@Suite("Metrics of a routed upgrader")
struct RouteMetricsTests {
    @Test("every role-labelled series of a route's connections also carries route; the pipeline's do not")
    func routeLabel() throws {
        let test = TestMetrics()
        let metrics = try #require(WebSocketMetrics(role: .server, factory: test, route: "/rooms/:room"))
        metrics.record(.connectionOpen(ConnectionOpenInfo(path: "/rooms/a", handshakeDuration: 0.001)))
        metrics.record(.connectionClosed(ConnectionClosedInfo(code: 1009, initiator: .local, duration: 1)))
        metrics.record(.logRecordsSuppressed(event: "connection_rejected", count: 1, interval: 1))
        #expect(total(test, .connectionsOpened, [("route", "/rooms/:room")]) == 1)
        #expect(total(test, .connectionsClosed, [("route", "/rooms/:room"), ("code", "1009")]) == 1)
        #expect(try test.expectMeter(Name.connectionsActive.rawValue, [("role", "server"), ("route", "/rooms/:room")]).values.last == 0)
        #expect(test.counters(label: Name.logRecordsSuppressed.rawValue).allSatisfy { !$0.dimensions.contains { $0.0 == "route" } })
        let plain = try #require(WebSocketMetrics(role: .server, factory: test))
        plain.record(.connectionOpen(ConnectionOpenInfo(path: "/ws")))
        #expect(total(test, .connectionsOpened) == 2 && total(test, .connectionsOpened, [("route", "/rooms/:room")]) == 1)
    }
}
