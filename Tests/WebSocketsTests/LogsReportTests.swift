import Foundation
import Testing
import WebSocketCore
import WebSockets
import WebSocketTestSupport

/// `websockets logs` on logs written by `websockets serve` for real connections (deflate, an
/// application close code, a 1006 abort, a refused handshake), with a framework's lines, another
/// program's JSON and a cut last line mixed in; JSON and ECS alike.
@Suite("websockets logs (the report)", .serialized, .timeLimit(.minutes(2)))
struct LogsReportTests {
    /// A log of two phases and where the second begins (the timestamp of its first record).
    struct DrivenLog {
        let path: String
        let secondPhase: String
    }

    static func drive(format: String) async throws -> DrivenLog {
        let binary = productBinary("websockets")
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the websockets product first")
        let port = freePort()
        let log = NSTemporaryDirectory() + "ws-logs-\(getpid())-\(port).\(format)"
        let server = try ChildProcess(binary, ["serve", "--port", String(port), "--log-format", format, "--log-file", log,
                                               "--stats-interval", "0.3"], output: "/dev/null")
        func text() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        func count(_ event: String) -> Int { text().components(separatedBy: "\"\(event)\"").count - 1 }
        await waitFor({ count("server_listening") == 1 }, seconds: 10)
        // Phase 1: three clients on /chat (deflate, our client's default), one closing with 4001.
        for (i, code) in [(0, CloseCode.normalClosure), (1, .normalClosure), (2, CloseCode(4001))] {
            let ws = try await bounded(10, "connect \(i)") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/chat?token=secret") }
            try await ws.send(.text("hello \(i)"))
            #expect(try await nextMessage(ws, "echo \(i)") == .text("hello \(i)"))
            await ws.close(code: code, reason: code.rawValue == 4001 ? "bye" : "done")
        }
        await waitFor({ count("connection_closed") == 3 }, seconds: 10)
        // Phase 2 on /feed: an abort (1006), a refused handshake, one normal connection.
        let abort = try RawSocket(port: port)
        abort.send(upgradeRequest(path: "/feed"))
        #expect(String(decoding: await abort.readHeadAsync(), as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        abort.shutdownBoth()
        let refused = try RawSocket(port: port)
        refused.send(upgradeRequest(path: "/feed").replacingOccurrences(of: "Sec-WebSocket-Version: 13", with: "Sec-WebSocket-Version: 12"))
        #expect(String(decoding: await refused.readHeadAsync(), as: UTF8.self).hasPrefix("HTTP/1.1 426"))
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/feed") }
        await ws.close(code: .normalClosure, reason: "")
        await waitFor({ count("connection_closed") == 5 }, seconds: 10)
        await waitFor({ count("server_stats") >= 1 }, seconds: 10)
        kill(server.pid, SIGTERM)
        #expect(await server.waitForExit(seconds: 10) == 0)
        let lines = text().split(separator: "\n").map(String.init)
        let openMarker = format == "ecs" ? "\"action\":\"connection_open\"" : "\"event\":\"connection_open\""
        let stampKey = format == "ecs" ? "@timestamp" : "timestamp"
        let phase2 = try #require(lines.filter { $0.contains(openMarker) }.dropFirst(3).first)
        let stamp = try #require((try JSONSerialization.jsonObject(with: Data(phase2.utf8)) as? [String: Any])?[stampKey] as? String)
        // What else a log file holds: a framework's text, another program's JSON, a line cut by a crash.
        let mixed = ["[ INFO ] Server started on http://127.0.0.1:8080", lines[0], "{\"msg\":\"not ours\",\"level\":30}"]
            + lines.dropFirst() + [String(lines[lines.count - 2].prefix(60))]
        try mixed.joined(separator: "\n").write(toFile: log, atomically: true, encoding: .utf8)  // no newline after the cut line
        return DrivenLog(path: log, secondPhase: stamp)
    }

    static func report(_ arguments: [String]) async throws -> [String: Any] {
        let result = try await runCommand(productBinary("websockets"), ["logs", "--format", "json"] + arguments)
        #expect(result.status == 0, "\(result.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
    }

    /// `{"top":[{name: key, "count": n}]}` as a dictionary.
    static func counts(_ object: Any?, _ name: String) -> [String: Int] {
        let top = (object as? [String: Any])?["top"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: top.compactMap { row in (row[name] as? String).map { ($0, row["count"] as? Int ?? 0) } })
    }

    @Test("the report's counts are what the clients did, from JSON and from ECS lines", arguments: ["json", "ecs"])
    func counts(format: String) async throws {
        let log = try await Self.drive(format: format)
        defer { unlink(log.path) }
        let all = try await Self.report([log.path])
        let lines = try #require(all["lines"] as? [String: Int])
        #expect(lines["skipped"] == 2 && lines["invalid"] == 1, "\(lines)")
        #expect(lines[format] == lines["total"]! - 3 && lines[format == "json" ? "ecs" : "json"] == 0, "\(lines)")
        let connections = try #require(all["connections"] as? [String: Any])
        #expect(connections["opened"] as? Int == 5 && connections["closed"] as? Int == 5)
        let codes = try #require(connections["close_codes"] as? [[String: Any]])
        let byCode = Dictionary(uniqueKeysWithValues: codes.map { ($0["code"] as? Int ?? 0, $0["count"] as? Int ?? 0) })
        #expect(byCode == [1000: 3, 4001: 1, 1006: 1], "\(codes)")
        #expect(Self.counts(codes.first { $0["code"] as? Int == 4001 }?["reasons"], "reason") == ["bye": 1])
        #expect(Self.counts(connections["initiators"], "initiator") == ["remote": 4, "abnormal": 1])
        #expect(Self.counts(connections["remote_addresses"], "address") == ["127.0.0.1": 5])
        #expect(Self.counts(connections["paths"], "path") == ["/chat": 3, "/feed": 2], "the query is not a path")
        #expect(Self.counts(all["rejections"], "status_rejection") == ["426 unsupported_version": 1])
        let distributions = try #require(all["distributions"] as? [String: [String: Any]])
        #expect(distributions["connection_duration"]?["count"] as? Int == 5)
        #expect(distributions["handshake_duration"]?["count"] as? Int == 5)
        #expect(distributions["messages_per_connection"]?["max"] as? Double == 2)
        let stats = try #require(all["server_stats"] as? [String: Any])
        let series = try #require(stats["series"] as? [[String: Any]])
        #expect(series.count >= 2 && series.count == stats["windows"] as? Int)
        #expect(series.reduce(0) { $0 + ($1["connections_opened"] as? Int ?? 0) } == 5, "\(series)")
        #expect(series.reduce(0) { $0 + ($1["closed_abnormal"] as? Int ?? 0) } == 1, "\(series)")
        #expect(series.last?["connections_active"] as? Int == 0)

        let later = try await Self.report([log.path, "--since", log.secondPhase])
        let laterConnections = try #require(later["connections"] as? [String: Any])
        #expect(laterConnections["opened"] as? Int == 2 && laterConnections["closed"] as? Int == 2, "\(laterConnections)")
        #expect(Self.counts(later["rejections"], "status_rejection") == ["426 unsupported_version": 1])
        let earlier = try await Self.report([log.path, "--until", log.secondPhase])
        let earlierConnections = try #require(earlier["connections"] as? [String: Any])
        #expect(earlierConnections["opened"] as? Int == 3 && earlierConnections["closed"] as? Int == 3, "\(earlierConnections)")
        #expect(Self.counts(earlier["rejections"], "status_rejection").isEmpty)

        let table = try await runCommand(productBinary("websockets"), ["logs", log.path])
        #expect(table.status == 0 && table.output.contains("connections: 5 opened, 5 closed"), "\(table.output)")
        #expect(table.output.contains("2 other lines skipped, 1 invalid or cut lines"), "\(table.output)")
    }

    @Test("standard input, and errors that name the file or the option")
    func inputsAndErrors() async throws {
        let missing = try await runCommand(productBinary("websockets"), ["logs", "/nonexistent/ws.jsonl"])
        #expect(missing.status != 0 && missing.output.contains("logs /nonexistent/ws.jsonl: cannot open: no such file or directory"), "\(missing.output)")
        let badTime = try await runCommand(productBinary("websockets"), ["logs", "--since", "yesterday", "-"])
        #expect(badTime.status != 0 && badTime.output.contains("--since yesterday: not a time"), "\(badTime.output)")
        let piped = try await runCommand("/bin/sh", ["-c", "printf '%s\\n' '{\"timestamp\":\"2026-12-07T21:00:00.000001Z\",\"level\":\"error\",\"logger\":\"websockets.server\",\"message\":\"m\",\"event\":\"handler_failed\"}' | \(productBinary("websockets")) logs --format json -"])
        #expect(piped.status == 0 && piped.output.contains("\"level_event\":\"error handler_failed\""), "\(piped.output)")
    }

    @Test("edges: escapes and nested metadata read right, keys past --max-keys counted as other, a 2 MiB line skipped, a ten-day span in at most 2,000 buckets, a hostile reason escaped in the page")
    func edges() async throws {
        func closed(_ time: String, _ address: String, reason: String) -> String {
            let escaped = reason.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return #"{"timestamp":"\#(time)","level":"info","logger":"websockets.server","message":"connection closed","event":"connection_closed","event_data":{"connection_id":"x","remote_addr":"\#(address)","path":"/a","close_code":4000,"close_reason_received":"\#(escaped)","initiator":"remote","duration":1.5e-3,"messages_in":1,"messages_out":0},"metadata":{"nested":{"event":"not this","list":[1,{"a":"b"}]}}}"#
        }
        var lines: [String] = []
        for day in 0..<10 {
            for i in 0..<5 {
                let open = #"{"timestamp":"2026-12-0\#(day)T10:00:0\#(i).000000Z","level":"info","logger":"websockets.server","message":"connection open","event":"connection_open","event_data":{"connection_id":"x","remote_addr":"10.0.\#(day).\#(i)","path":"/a?x=1"}}"#
                lines.append(open.replacingOccurrences(of: "2026-12-0\(day)", with: String(format: "2026-11-%02d", 10 + day)))
            }
        }
        lines.append(closed("2026-11-20T10:00:00.000000Z", "10.0.0.0", reason: "b\"y\\e \u{e9} <script>alert(1)</script>"))
        lines.append(String(repeating: "x", count: 2 << 20))
        lines.append(closed("2026-11-20T10:00:01.000000Z", "10.0.0.1", reason: "second"))
        let log = NSTemporaryDirectory() + "ws-edges-\(getpid()).jsonl"
        let page = log + ".html"
        defer { unlink(log); unlink(page) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        let report = try await Self.report([log, "--max-keys", "20", "--html", page])
        let lineCounts = try #require(report["lines"] as? [String: Int])
        #expect(lineCounts["invalid"] == 1 && lineCounts["json"] == 52 && lineCounts["total"] == 53, "the 2 MiB line: \(lineCounts)")
        let connections = try #require(report["connections"] as? [String: Any])
        let addresses = try #require(connections["remote_addresses"] as? [String: Any])
        #expect(addresses["other"] as? Int == 30 && addresses["other_keys"] as? Int == 30, "50 addresses, 20 kept: \(addresses)")
        let codes = try #require(connections["close_codes"] as? [[String: Any]])
        #expect(Self.counts(codes.first?["reasons"], "reason") == ["b\"y\\e \u{e9} <script>alert(1)</script>": 1, "second": 1])
        let durations = try #require((report["distributions"] as? [String: [String: Any]])?["connection_duration"])
        #expect(durations["max"] as? Double == 0.0015)
        let timeline = try #require(report["timeline"] as? [String: Any])
        let buckets = try #require(timeline["buckets"] as? [[String: Any]])
        #expect((timeline["bucket_seconds"] as? Double ?? 0) > 60 && buckets.count <= 2_000, "\(timeline["bucket_seconds"] ?? "")")
        #expect(buckets.reduce(0) { $0 + ($1["opened"] as? Int ?? 0) } == 50)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(!html.contains("<script>") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped in the page")
    }

    @Test("--html: one page that headless Chromium renders with marks in every chart, no console error, no request, no script; screenshot saved")
    func htmlInChromium() async throws {
        let log = try await Self.drive(format: "json")
        defer { unlink(log.path) }
        let page = NSTemporaryDirectory() + "ws-report-\(getpid()).html"
        defer { unlink(page) }
        let made = try await runCommand(productBinary("websockets"), ["logs", log.path, "--html", page])
        #expect(made.status == 0, "\(made.output)")
        let output = repositoryRoot.appendingPathComponent(".build/test-output")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let screenshot = output.appendingPathComponent("logs-report.png").path
        let rendered = try await runCommand("/usr/bin/env", ["python3", repositoryRoot.path + "/Tests/Peers/render_page.py", page,
                                                             "--screenshot", screenshot], timeout: 90)
        #expect(rendered.status == 0, "\(rendered.output)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(rendered.output.utf8)) as? [String: Any], "\(rendered.output)")
        let charts = try #require(result["charts"] as? [[String: Any]])
        #expect(charts.compactMap { $0["name"] as? String } == ["open", "rate", "codes", "durations", "addresses"])
        for chart in charts { #expect((chart["drawn"] as? Int ?? 0) > 0, "\(chart)") }
        #expect((result["console"] as? [Any])?.isEmpty == true, "\(result["console"] ?? "")")
        #expect((result["requests"] as? [Any])?.isEmpty == true, "\(result["requests"] ?? "")")
        #expect(result["scripts"] as? Int == 0)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.count > 10_000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
    }
}
