import Foundation
import Testing
import WebSocketTestSupport

/// `websockets serve --metrics` as an operator runs it: a real Prometheus (Debian's) scrapes it
/// while real clients come and go, and afterwards what Prometheus stored equals what the JSON
/// log says happened.
@Suite("serve --metrics scraped by a real Prometheus", .serialized, .timeLimit(.minutes(2)))
struct PrometheusTests {
    /// Prometheus on a free loopback port, scraping `target` every second.
    final class Prometheus {
        let process: ChildProcess
        let port = freePort()
        let directory = NSTemporaryDirectory() + "ws-prometheus-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        init(target: Int) throws {
            try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
            try """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: websockets
                static_configs:
                  - targets: ["127.0.0.1:\(target)"]
            """.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
            process = try ChildProcess("/usr/bin/prometheus", [
                "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ], output: directory + "/prometheus.log")
        }

        /// The value of an instant `query` (a single-series expression), or `nil` without one.
        func value(_ query: String) async -> Double? {
            let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
            guard let run = try? await shell("curl -s --max-time 2 'http://127.0.0.1:\(port)/api/v1/query?query=\(encoded)'"),
                  let json = try? JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any],
                  let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]],
                  let pair = result.first?["value"] as? [Any], let text = pair.last as? String else { return nil }
            return Double(text)
        }

        deinit {
            process.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test("The counters Prometheus scraped equal the counts of the JSON log; promtool accepts the exposition")
    func scrapedCountersMatchTheLog() async throws {
        let server = try await ServeProcess(["--metrics", "--log-level", "debug", "--ping-interval", "0.2"])
        let prometheus = try Prometheus(target: server.port)
        // Prometheus is up when its first scrape is stored: `up` is then 1.
        var up: Double?
        for _ in 0..<150 where up != 1 {
            up = await prometheus.value("up{job=\"websockets\"}")
            if up != 1 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(up == 1, "Prometheus scraped the server: \((try? String(contentsOfFile: prometheus.directory + "/prometheus.log", encoding: .utf8)) ?? "")")

        let traffic = try await runCommand("/usr/bin/env", ["python3", repositoryRoot.path + "/Tests/Peers/metrics_traffic.py", String(server.port)])
        #expect(traffic.status == 0 && traffic.output.hasSuffix("ok\n"), "\(traffic.output)")
        await waitFor({ server.records("connection_closed").count == 6 }, seconds: 10)

        // What the log says happened.
        let opened = server.records("connection_open").count
        let closed = server.records("connection_closed").map(fields)
        let rejected = server.records("connection_rejected").count
        let pongs = server.records("pong_received").count
        let sum = { (key: String) in closed.reduce(0) { $0 + ($1[key] as? Int ?? 0) } }
        let byCode = Dictionary(grouping: closed, by: { $0["close_code"] as? Int ?? 0 }).mapValues(\.count)
        #expect(opened == 6 && closed.count == 6 && rejected == 3, "the traffic as planned: \(opened) \(closed.count) \(rejected)")
        #expect(byCode == [1000: 4, 4001: 1, 1006: 1], "\(byCode)")
        #expect(pongs > 0, "keepalive pings every 0.2 s were answered")

        // What Prometheus stored, once a scrape after the traffic is in (bounded wait).
        let expected: [(String, Double)] = [
            ("sum(websockets_connections_opened_total)", Double(opened)),
            ("sum(websockets_connections_closed_total)", Double(closed.count)),
            ("sum(websockets_connections_closed_total{code=\"1000\",outcome=\"ok\"})", Double(byCode[1000] ?? 0)),
            ("sum(websockets_connections_closed_total{code=\"4xxx\",outcome=\"error\",initiator=\"remote\"})", Double(byCode[4001] ?? 0)),
            ("sum(websockets_connections_closed_total{code=\"1006\",initiator=\"abnormal\"})", Double(byCode[1006] ?? 0)),
            ("sum(websockets_connections_rejected_total{reason=\"missing_key\",status=\"400\"})", Double(rejected)),
            ("sum(websockets_messages_received_total)", Double(sum("messages_in"))),
            ("sum(websockets_messages_sent_total)", Double(sum("messages_out"))),
            ("sum(websockets_bytes_received_total)", Double(sum("bytes_in"))),
            ("sum(websockets_bytes_sent_total)", Double(sum("bytes_out"))),
            ("sum(websockets_keepalive_round_trip_seconds_count)", Double(pongs)),
            ("sum(websockets_handshake_duration_seconds_count)", Double(opened)),
            ("sum(websockets_connection_duration_seconds_count)", Double(closed.count)),
            ("sum(websockets_connections_active)", 0),
        ]
        var stored: [String: Double?] = [:]
        for _ in 0..<100 {
            stored = [:]
            for (query, _) in expected { stored[query] = await prometheus.value(query) }
            if expected.allSatisfy({ stored[$0.0] == $0.1 }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        for (query, value) in expected {
            #expect(stored[query] == value, "\(query): Prometheus has \(String(describing: stored[query] ?? nil)), the log says \(value)")
        }

        // The exposition itself, as promtool's linter reads it; and the scrape is logged as the HTTP response it is.
        let check = try await shell("curl -s http://127.0.0.1:\(server.port)/metrics | promtool check metrics 2>&1")
        #expect(check.status == 0, "\(check.output)")
        let scrapes = server.records("http_response_sent").filter { fields($0)["path"] as? String == "/metrics" }
        #expect(!scrapes.isEmpty && scrapes.allSatisfy { fields($0)["status"] as? Int == 200 })
        #expect(await server.stop() == 0)
    }
}
