import Foundation
import Logging
import Testing
import WebSocketTestSupport
@testable import WebSocketCore
@testable import WebSocketLogging

@Suite("server_stats: the accumulator, its histogram and the record in every format")
struct ServerStatsTests {
    @Test("percentiles from the bounded histogram are within 5% of the samples', whatever their number")
    func histogramPercentiles() throws {
        var histogram = LogHistogram()
        let bucketsBefore = histogram.counts.count
        for i in 1...100_000 { histogram.record(Double(i) / 1000) }  // 1 ms … 100 s
        #expect(histogram.counts.count == bucketsBefore, "memory fixed by the range, not by the samples")
        let p50 = try #require(histogram.quantile(0.5)), p99 = try #require(histogram.quantile(0.99))
        #expect(abs(p50 - 50) / 50 < 0.05, "p50 \(p50)")
        #expect(abs(p99 - 99) / 99 < 0.05, "p99 \(p99)")
        histogram.record(0)
        histogram.record(.infinity)
        #expect(histogram.total == 100_001, "0 counted, infinity ignored")
        histogram.reset()
        #expect(histogram.quantile(0.5) == nil)
    }

    @Test("close codes fall into a small fixed set of outcomes, 1006 apart", arguments: [
        (1000, "normal"), (1001, "normal"), (1005, "normal"), (1006, "abnormal"), (1002, "protocol_error"),
        (1009, "protocol_error"), (1008, "protocol_error"), (1011, "server_error"), (1013, "server_error"),
        (3000, "application"), (4999, "application"), (1004, "other"), (2000, "other"), (5000, "other"),
    ])
    func outcomes(code: Int, outcome: String) {
        #expect(ServerStatsInfo.CloseOutcome(code: code).rawValue == outcome)
    }

    @Test("a window counts what its events said, then starts from zero; active carries over")
    func windows() throws {
        let stats = ServerStats()
        let start = ContinuousClock.now
        for duration in [0.002, 0.004] { stats.record(.connectionOpen(ConnectionOpenInfo(path: "/", handshakeDuration: duration))) }
        stats.record(.connectionOpen(ConnectionOpenInfo(path: "/")))
        stats.record(.connectionClosed(ConnectionClosedInfo(code: 1000, initiator: .remote, duration: 2)))
        stats.record(.connectionClosed(ConnectionClosedInfo(code: 1006, initiator: .abnormal, duration: 4)))
        stats.record(.connectionRejected(ConnectionRejectedInfo(status: 400, reason: "no key", rejection: "invalid_key")))
        stats.record(.httpResponseSent(HTTPResponseSentInfo(status: 200, reason: "OK", path: "/health")))
        stats.record(.logRecordsSuppressed(event: "connection_rejected", count: 9, interval: 1))
        stats.record(.frameSent(FrameInfo(opcode: .text, fin: true, rsv1: false, size: 1, preview: "'a'")))
        stats.addTraffic(messagesIn: 4, messagesOut: 3, bytesIn: 100, bytesOut: 90)
        let first = stats.takeWindow(recordsDropped: 2, now: start + .seconds(5))
        #expect(first.connectionsOpened == 3 && first.connectionsActive == 1)
        let expectedClosed: [ServerStatsInfo.CloseOutcome: Int] = [.normal: 1, .abnormal: 1]
        #expect(first.closed == expectedClosed)
        #expect(first.connectionsClosed == 2)
        #expect(first.handshakesRejected == 1 && first.httpResponses == 1 && first.recordsSuppressed == 9 && first.recordsDropped == 2)
        let traffic: [Int] = [first.messagesIn, first.messagesOut, first.bytesIn, first.bytesOut]
        #expect(traffic == [4, 3, 100, 90])
        let handshake = try #require(first.handshakeDuration)
        #expect(handshake.p50 > 0.0019 && handshake.p50 < 0.0021 && handshake.p99 > 0.0038 && handshake.p99 < 0.0042, "\(handshake)")
        #expect(first.window >= 4.9)
        let second = stats.takeWindow(recordsDropped: 0)
        #expect(second.connectionsActive == 1 && second.connectionsOpened == 0 && second.closed.isEmpty)
        #expect(second.handshakeDuration == nil && second.connectionDuration == nil && second.messagesIn == 0)
    }

    static let sample = WebSocketLogEvent.serverStats(ServerStatsInfo(
        window: 5, connectionsActive: 2, connectionsOpened: 3, closed: [.normal: 1], handshakesRejected: 1,
        messagesIn: 7, connectionDuration: .init(p50: 1.5, p99: 2.5)))

    @Test("JSON puts the counts in fields (no connection), ECS under websocket.stats with event.action server_stats, plain and syslog as key=value")
    func everyFormat() throws {
        let json = try parseJSON(try format(record(Self.sample)))
        let fields = try #require(json["fields"] as? [String: Any])
        #expect(json["event"] as? String == "server_stats" && json["level"] as? String == "info")
        #expect(fields["connections_opened"] as? Int == 3 && fields["closed_normal"] as? Int == 1 && fields["connection_duration_p99"] as? Double == 2.5)
        #expect(fields["handshake_duration_p50"] == nil, "no handshake in the window: no percentile")

        let ecs = try parseJSON(try format(record(Self.sample), ECSFormatter()))
        #expect((ecs["event"] as? [String: Any])?["action"] as? String == "server_stats")
        let stats = try #require((ecs["websocket"] as? [String: Any])?["stats"] as? [String: Any])
        #expect(stats["connections_active"] as? Int == 2 && stats["messages_in"] as? Int == 7 && stats["window"] as? Double == 5)
        #expect((ecs["websocket"] as? [String: Any])?.count == 1, "the counts only under stats")

        let plain = try format(record(Self.sample), PlainFormatter())
        #expect(plain.contains("server stats: 2 open, 3 opened, 1 closed in 5.0 seconds"), "\(plain)")
        #expect(plain.contains("connections_opened=3") && plain.contains("closed_normal=1"), "\(plain)")

        let syslog = try format(record(Self.sample), SyslogFormatter(facility: .local0, appName: "ws", hostname: "h1"))
        #expect(syslog.contains(" server_stats ") && syslog.contains("connections_opened=\"3\""), "\(syslog)")
    }
}
