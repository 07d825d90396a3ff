import Foundation
import Logging
import Testing
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

/// Syslog delivery across a restart of a real rsyslogd (Examples/ShipToSyslog's rsyslog.conf):
/// what each transport delivers, and that nothing is lost without a count.
@Suite("Syslog delivery through a restarted rsyslogd", .serialized, .timeLimit(.minutes(3)))
struct SyslogDeliveryTests {
    /// Opens and closes `count` connections to `path-prefix/N`, `width` at a time.
    static func churn(port: Int, prefix: String, count: Int, width: Int = 8) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                if i >= width { try await group.next() }
                group.addTask {
                    // Generous: the whole suite shares two cores; a hang still fails.
                    let ws = try await bounded(30, "connect \(prefix)/\(i)") {
                        try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/\(prefix)/\(i)")
                    }
                    await ws.close()
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("websockets serve --log-syslog through an rsyslogd restarted during 1,000 connections: RELP delivers every record; TCP every record made while it was down",
          arguments: ["relp", "tcp"])
    func restart(scheme: String) async throws {
        let rsyslogd = try await ExampleRsyslogd()
        let port = freePort()
        let url = "\(scheme)://127.0.0.1:\(scheme == "relp" ? rsyslogd.relpPort : rsyslogd.tcpPort)"
        let server = try ChildProcess(productBinary("websockets"), ["serve", "--port", String(port), "--log-syslog", url],
                                      output: rsyslogd.directory + "/serve.out")
        try await waitForFile(rsyslogd.outputPath, containing: "server_listening")
        try await Self.churn(port: port, prefix: "before", count: 400)
        rsyslogd.stop()  // with records in flight: the churn does not wait for their delivery
        try await Self.churn(port: port, prefix: "down", count: 300)
        try await rsyslogd.start()
        try await Self.churn(port: port, prefix: "after", count: 300)
        kill(server.pid, SIGTERM)
        #expect(await server.waitForExit(seconds: 20) == 0)
        try await waitForFile(rsyslogd.outputPath, containing: "server_closed")

        let records = try await validJSONRecords(inFile: rsyslogd.outputPath)
        func ids(_ event: String) -> [String] {
            records.filter { $0["event"] as? String == event }.compactMap { ($0["event_data"] as? [String: Any])?["connection_id"] as? String }
        }
        var pathOf: [String: String] = [:]
        for record in records where record["event"] as? String == "connection_open" {
            if let data = record["event_data"] as? [String: Any], let id = data["connection_id"] as? String { pathOf[id] = data["path"] as? String }
        }
        let opened = ids("connection_open"), closed = ids("connection_closed")
        let duplicates = (opened.count - Set(opened).count) + (closed.count - Set(closed).count)
        let phase = { (id: String) in pathOf[id]?.split(separator: "/").first.map(String.init) ?? "unknown" }
        let missingOpens = 1000 - Set(opened).count
        let closedPhases = Dictionary(grouping: Set(closed), by: phase).mapValues(\.count)
        let openPhases = Dictionary(grouping: Set(opened), by: phase).mapValues(\.count)
        print("syslog \(scheme) across a restart: opens \(Set(opened).count)/1000, closes \(Set(closed).count)/1000, duplicates \(duplicates), by phase open \(openPhases) closed \(closedPhases)")
        #expect(ids("log_records_dropped").isEmpty && !records.contains { $0["event"] as? String == "log_records_dropped" },
                "the default buffer holds what 300 connections log while the daemon is down")
        if scheme == "relp" {
            #expect(Set(opened).count == 1000 && Set(closed).count == 1000, "RELP: every record arrives (missing opens \(missingOpens))")
        } else {
            // What the daemon had not read when it stopped can be lost; nothing made while it was
            // down or after it came back may be.
            #expect(openPhases["down"] == 300 && openPhases["after"] == 300, "\(openPhases)")
            #expect(Set(closed).filter { ["down", "after"].contains(phase($0)) }.count == 600, "\(closedPhases)")
            #expect(Set(opened).count >= 900, "at most what was in flight is lost: \(Set(opened).count) opens")
        }
    }

    @Test("records past the buffer while the daemon is down are counted: one log_records_dropped once delivery resumes, and delivered + dropped = logged")
    func droppedAreCounted() async throws {
        let rsyslogd = try await ExampleRsyslogd(started: false)
        let sink = SyslogSink(transport: .relp(host: "127.0.0.1", port: rsyslogd.relpPort), bufferSize: 4096)
        let logger = Logger(label: "websockets.server") { StructuredLogHandler.syslog(label: $0, sink: sink, formatter: SyslogFormatter(body: .json)) }
        let padding = String(repeating: "x", count: 200)
        for i in 0..<100 { logger.info("while down \(i) \(padding)") }
        try await rsyslogd.start()
        // Delivery resumes within the backoff (at most 2 s): what waited in the buffer arrives.
        let output = rsyslogd.outputPath
        try await bounded(20, "the buffered records arrive") {
            while !((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("while down") {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(300))  // the rest of that batch
        }
        logger.info("after the outage")
        sink.close()
        try await waitForFile(rsyslogd.outputPath, containing: "after the outage")
        let records = try await validJSONRecords(inFile: rsyslogd.outputPath)
        let delivered = records.filter { ($0["message"] as? String)?.hasPrefix("while down") == true }.count
        let reports = records.filter { $0["event"] as? String == "log_records_dropped" }
        #expect(reports.count == 1, "one report for the outage: \(reports)")
        let dropped = (reports.first?["fields"] as? [String: Any])?["dropped"] as? Int ?? 0
        print("syslog outage with a 4 KiB buffer: 100 logged, \(delivered) delivered after it, \(dropped) dropped and reported")
        #expect(delivered > 0 && dropped > 0)
        #expect(delivered + dropped == 100, "nothing lost without a count: \(delivered) delivered + \(dropped) reported")
        let report = records.firstIndex { $0["event"] as? String == "log_records_dropped" }
        let after = records.firstIndex { $0["message"] as? String == "after the outage" }
        #expect(report != nil && after != nil && report! + 1 == after!, "the report comes right before the first record after the outage")
    }
}
