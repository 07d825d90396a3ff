import Foundation
import NIOHTTP1
import Testing
import WebSocketCore
import WebSockets
import WebSocketTestSupport

/// `websockets serve` started as a user starts it (`--port 0`), its port read back from the
/// typed `server_listening` record.
final class ServeProcess {
    let process: ChildProcess
    let log: String
    let port: Int

    init(_ arguments: [String], logFile: String? = nil) async throws {
        log = NSTemporaryDirectory() + "ws-serve-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
        process = try ChildProcess(productBinary("websockets"), ["serve", "--port", "0"] + arguments, output: log)
        let records = logFile ?? log
        var port: Int?
        for _ in 0..<200 where port == nil {
            // The JSON line's `fields`, or ECS's `websocket` object.
            port = Self.records(records).first { $0["event"] as? String == "server_listening"
                || ($0["event"] as? [String: Any])?["action"] as? String == "server_listening" }
                .flatMap { (($0["fields"] ?? $0["websocket"]) as? [String: Any])?["port"] as? Int }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        self.port = try #require(port, "no server_listening record with a port in \(records)")
    }

    /// Stops the server (SIGTERM, graceful) and returns its exit status.
    func stop() async -> Int32? {
        kill(process.pid, SIGTERM)
        return await process.waitForExit(seconds: 15)
    }

    static func records(_ path: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    var records: [[String: Any]] { Self.records(log) }

    func records(_ event: String) -> [[String: Any]] { records.filter { $0["event"] as? String == event } }

    deinit { unlink(log) }
}

/// The fields of a record: `event_data` for connection records, `fields` for the others.
func fields(_ record: [String: Any]) -> [String: Any] {
    (record["event_data"] as? [String: Any]) ?? (record["fields"] as? [String: Any]) ?? [:]
}

/// Runs a shell command line (pipes as a user types them) and returns its status and output.
func shell(_ line: String, timeout: Double = 30) async throws -> (status: Int32, output: String) {
    try await runCommand("/bin/sh", ["-c", line], timeout: timeout)
}

@Suite("websockets as a tool: arguments, errors, pipes, signals, log files", .serialized, .timeLimit(.minutes(3)))
struct CommandTests {
    let binary = productBinary("websockets")

    @Test("invalid arguments are refused with ArgumentParser's status 64 and a line naming the option and the value",
          arguments: [
              (["serve", "--port", "99999"], "--port must be 0 to 65535, not 99999"),
              (["serve", "--port", "65536"], "--port must be 0 to 65535, not 65536"),
              (["serve", "--port", "-1"], "--port must be 0 to 65535, not -1"),
              (["serve", "--threads", "0"], "--threads must be at least 1, not 0"),
              (["serve", "--max-size", "0"], "--max-size must be at least 1 byte, not 0"),
              (["serve", "--ping-interval", "0.001"], "--ping-interval must be 0 (no pings) or 0.01 to 86400 seconds, not 0.001"),
              (["serve", "--ping-interval", "-1"], "--ping-interval must be 0 (no pings) or 0.01 to 86400 seconds, not -1.0"),
              (["serve", "--compression-level", "10"], "--compression-level must be 0 to 9, not 10"),
              (["serve", "--trusted-proxy", "10.0.0.0/33"], "--trusted-proxy 10.0.0.0/33: not an IP address or CIDR range"),
              (["serve", "--tls-cert", "a.pem"], "--tls-cert and --tls-key go together"),
              (["connect", "ws://127.0.0.1:1/", "--subprotocol", "a,b"], "--subprotocol 'a,b': a subprotocol is one token"),
              (["serve", "--log-syslog", "syslog.example:514"], "--log-syslog syslog.example:514: expected relp://HOST:PORT"),
              (["serve", "--log-syslog", "relp://127.0.0.1"], "--log-syslog relp://127.0.0.1: the port is missing"),
              (["serve", "--log-syslog", "tcp://127.0.0.1:0"], "--log-syslog tcp://127.0.0.1:0: the port must be 1-65535"),
              (["serve", "--log-syslog", "http://127.0.0.1:514"], "--log-syslog http://127.0.0.1:514: unknown scheme \"http\""),
              (["serve", "--log-syslog", "udp://127.0.0.1:514", "--log-file", "x.log"], "--log-file and --log-syslog: choose one destination"),
          ])
    func invalidArguments(arguments: [String], message: String) async throws {
        let (status, output) = try await runCommand(binary, arguments, timeout: 20)
        #expect(status == 64, "\(arguments): status \(status), output: \(output)")
        #expect(output.contains("Error: \(message)"), "\(arguments): \(output)")
    }

    @Test("--version prints the version and exits 0")
    func version() async throws {
        let (status, output) = try await runCommand(binary, ["--version"], timeout: 20)
        #expect(status == 0)
        #expect(output.hasPrefix("swift-websockets "), "\(output)")
    }

    @Test("failures say what and why in one line: missing certificate, busy port, refused connection, bad log file")
    func errorsInWords() async throws {
        let missing = try await runCommand(binary, ["serve", "--port", "0", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("Error: --tls-cert /nonexistent/cert.pem: cannot read the certificate chain: no such file or directory"),
                "\(missing.output)")
        let notPEM = NSTemporaryDirectory() + "ws-not-pem-\(getpid()).pem"
        try "hello\n".write(toFile: notPEM, atomically: true, encoding: .utf8)
        defer { unlink(notPEM) }
        let garbage = try await runCommand(binary, ["serve", "--port", "0", "--tls-cert", notPEM, "--tls-key", notPEM])
        #expect(garbage.output.contains("Error: --tls-cert \(notPEM): not a PEM certificate chain"), "\(garbage.output)")

        let server = try await ServeProcess([])
        let busy = try await runCommand(binary, ["serve", "--port", String(server.port)])
        #expect(busy.status == 1)
        #expect(busy.output.contains("Error: cannot listen on 127.0.0.1:\(server.port): address already in use"), "\(busy.output)")
        _ = await server.stop()

        let closedPort = freePort()
        let refused = try await runCommand(binary, ["connect", "ws://127.0.0.1:\(closedPort)/"])
        #expect(refused.status == 1)
        #expect(refused.output.contains("Error: ws://127.0.0.1:\(closedPort)/: cannot connect to 127.0.0.1:\(closedPort): connection refused"),
                "\(refused.output)")
        #expect(refused.output.split(separator: "\n").count == 1, "one line: \(refused.output)")

        let badLog = try await runCommand(binary, ["serve", "--port", "0", "--log-file", "/nonexistent/dir/ws.log"])
        #expect(badLog.status == 1)
        #expect(badLog.output.contains("Error: --log-file /nonexistent/dir/ws.log: cannot open for appending: no such file or directory"),
                "\(badLog.output)")
    }

    @Test("wss:// to an untrusted certificate names the certificate and the remedy; the server logs tls_handshake_failed at INFO in words")
    func untrustedCertificate() async throws {
        let tls = try await makeCertificate()
        let server = try await ServeProcess(["--tls-cert", tls.cert, "--tls-key", tls.key])
        let url = "wss://localhost:\(server.port)/"
        let untrusted = try await shell("echo hi | '\(binary)' connect \(url) 2>&1")
        #expect(untrusted.status == 1)
        #expect(untrusted.output.contains("certificate verify failed (the server's certificate is not trusted)"), "\(untrusted.output)")
        #expect(untrusted.output.contains("--ca-file") && untrusted.output.contains("--insecure"), "\(untrusted.output)")
        let trusted = try await shell("echo hi | '\(binary)' connect --ca-file '\(tls.cert)' \(url) 2>/dev/null")
        #expect(trusted.status == 0)
        #expect(trusted.output == "< hi\n", "\(trusted.output)")
        let plain = try await shell("echo hi | '\(binary)' connect ws://127.0.0.1:\(server.port)/ 2>&1")
        #expect(plain.output.contains("if the server serves TLS, use wss://"), "\(plain.output)")
        #expect(await server.stop() == 0)
        let failures = server.records("tls_handshake_failed")
        let reasons = failures.compactMap { fields($0)["reason"] as? String }
        #expect(failures.allSatisfy { $0["level"] as? String == "info" })
        #expect(reasons.contains { $0.hasPrefix("tlsv1 alert unknown ca (the client does not trust this server's certificate)") }, "\(reasons)")
        #expect(reasons.contains { $0.contains("not TLS: a plain ws:// or HTTP client on a wss:// port") }, "\(reasons)")
        #expect(!reasons.contains { $0.contains("/") && $0.contains(".cc") }, "no source paths: \(reasons)")
        #expect(server.records("server_listening").first.map { fields($0)["tls"] as? Bool } == true)
        let lines = try String(contentsOfFile: server.log, encoding: .utf8).split(separator: "\n").map { String($0) + "\n" }
        let schema = try await validateWithSchema(lines)
        #expect(schema.status == 0, "\(schema.output)")
    }

    @Test("a TLS ClientHello on a plain port is answered 400 with the reason, not the open timeout's 408")
    func clientHelloOnPlainPort() async throws {
        let server = try await ServeProcess([])
        let socket = try RawSocket(port: server.port)
        // A TLS 1.2 record header and the start of a ClientHello.
        socket.send([0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03])
        let response = String(decoding: await socket.readAllAsync(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 400 "), "\(response)")
        #expect(response.contains("TLS handshake received on a plain port"), "\(response)")
        _ = await server.stop()
        let rejected = server.records("connection_rejected").map(fields)
        #expect(rejected.contains { $0["status"] as? Int == 400 && ($0["reason"] as? String)?.contains("TLS handshake") == true }, "\(rejected)")
    }

    @Test("printf | connect prints every echo, 50 runs of 50, and the server logs a 1000 close for each")
    func pipedInput() async throws {
        let server = try await ServeProcess([])
        var good = 0
        var failures: [String] = []
        for _ in 0..<50 {
            let run = try await shell("printf 'hello\\nworld\\n' | '\(binary)' connect ws://127.0.0.1:\(server.port)/ 2>/dev/null")
            if run.status == 0 && run.output == "< hello\n< world\n" { good += 1 } else if failures.count < 3 { failures.append("\(run.status): \(run.output)") }
        }
        #expect(good == 50, "\(failures)")
        #expect(await server.stop() == 0)
        let codes = server.records("connection_closed").map { fields($0)["close_code"] as? Int }
        #expect(codes.count == 50 && codes.allSatisfy { $0 == 1000 }, "\(codes)")
    }

    @Test("printf | connect against a Python websockets echo server (which answers a close before the messages queued ahead of it): both echoes, 20 runs of 20")
    func pipedInputPythonServer() async throws {
        let port = freePort()
        let python = try await startPythonPeer("py_server.py", [String(port)])
        defer { python.process.stop() }
        var good = 0
        var failures: [String] = []
        for _ in 0..<20 {
            let run = try await shell("printf 'one\\ntwo ✓\\n' | '\(binary)' connect --subprotocol chat ws://127.0.0.1:\(port)/echo 2>/dev/null")
            if run.status == 0 && run.output == "< one\n< two ✓\n" { good += 1 } else if failures.count < 3 { failures.append("\(run.status): \(run.output)") }
        }
        #expect(good == 20, "\(failures)")
    }

    @Test("connect refuses what cannot go into a request head, before connecting: a subprotocol with CR LF, a bad --linger")
    func connectRefusesBadArguments() async throws {
        let injected = try await runCommand(binary, ["connect", "--subprotocol", "chat\r\nX-Injected:1", "ws://127.0.0.1:1/"])
        #expect(injected.status == 64, "\(injected.output)")
        #expect(injected.output.contains("a subprotocol is one token") && injected.output.contains("CR (0x0D)"), "\(injected.output)")
        let linger = try await runCommand(binary, ["connect", "--linger", "99", "ws://127.0.0.1:1/"])
        #expect(linger.status == 64 && linger.output.contains("--linger 99.0: must be 0 to 10 seconds"), "\(linger.output)")
    }

    @Test("serve --metrics and a burst of 200 GET /metrics: every answer logged as http_response_sent or counted in log_records_suppressed")
    func metricsBurst() async throws {
        let server = try await ServeProcess(["--metrics"])
        let burst = try await shell("for i in $(seq 200); do curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:\(server.port)/metrics; done | sort | uniq -c", timeout: 60)
        #expect(burst.output.contains("200 200"), "\(burst.output)")
        #expect(await server.stop() == 0)
        let logged = server.records("http_response_sent").count
        let suppressed = server.records("log_records_suppressed").map(fields)
            .filter { $0["suppressed_event"] as? String == "http_response_sent" }.compactMap { $0["suppressed"] as? Int }.reduce(0, +)
        #expect(logged + suppressed == 200, "logged \(logged) + suppressed \(suppressed)")
        #expect(suppressed > 0 && logged < 200, "limited to 20 a second")
    }

    @Test("serve --metrics-listen HOST:PORT: /metrics answered there (after real traffic), 404 on the WebSocket port; bad values refused")
    func metricsListen() async throws {
        let metricsPort = freePort()
        let server = try await ServeProcess(["--metrics-listen", "127.0.0.1:\(metricsPort)"])
        let ws = try await bounded(10, "connect") { [port = server.port] in try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/") }
        try await ws.send("counted")
        await ws.close()
        let scrape = try await shell("curl -s -i http://127.0.0.1:\(metricsPort)/metrics")
        #expect(scrape.output.hasPrefix("HTTP/1.1 200 OK"), "\(scrape.output.prefix(200))")
        #expect(scrape.output.contains("# HELP websockets_connections_opened_total") && scrape.output.contains("websockets_connections_opened_total"),
                "\(scrape.output.prefix(600))")
        let other = try await shell("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(metricsPort)/other; echo; curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:\(metricsPort)/metrics")
        #expect(other.output == "404\n405", "\(other.output)")
        let public_ = try await shell("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(server.port)/metrics")
        #expect(public_.output == "404", "the WebSocket port does not serve the metrics: \(public_.output)")
        #expect(await server.stop() == 0)

        let bad = try await runCommand(binary, ["serve", "--metrics-listen", "localhost"])
        #expect(bad.status == 64 && bad.output.contains("--metrics-listen localhost: expected HOST:PORT"), "\(bad.output)")
        let taken = try await ServeProcess([])  // its WebSocket port is taken
        let busy = try await runCommand(binary, ["serve", "--port", "0", "--metrics-listen", "127.0.0.1:\(taken.port)"])
        #expect(busy.status == 1 && busy.output.contains("Error: --metrics-listen: cannot listen on 127.0.0.1:\(taken.port): address already in use"),
                "\(busy.output)")
        _ = await taken.stop()
    }

    @Test("Ctrl-C in connect closes with 1000 (the client's close), exit status 0")
    func interruptClosesNormally() async throws {
        let server = try await ServeProcess([])
        let fifo = NSTemporaryDirectory() + "ws-stdin-\(getpid()).fifo"
        unlink(fifo)
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let keepOpen = open(fifo, O_RDWR)  // a writer that never writes: stdin stays open, as a terminal's
        defer { close(keepOpen) }
        let output = NSTemporaryDirectory() + "ws-connect-\(getpid()).out"
        defer { unlink(output) }
        let client = try ChildProcess(binary, ["connect", "ws://127.0.0.1:\(server.port)/"], output: output, input: fifo)
        await waitFor({ server.records("connection_open").count == 1 }, seconds: 10)
        _ = write(keepOpen, "before\n", 7)
        await waitFor({ (try? String(contentsOfFile: output, encoding: .utf8))?.contains("< before") == true }, seconds: 10)
        kill(client.pid, SIGINT)
        let status = await client.waitForExit(seconds: 10)
        #expect(status == 0, "exit status \(String(describing: status))")
        #expect(await server.stop() == 0)
        let closed = try #require(server.records("connection_closed").first.map(fields))
        #expect(closed["close_code"] as? Int == 1000)
        #expect(closed["initiator"] as? String == "remote", "the client closed: \(closed)")
        let printed = try String(contentsOfFile: output, encoding: .utf8)
        #expect(printed.contains("\"event\":\"connection_closed\""), "the client's own record is written before it exits: \(printed)")
    }

    @Test("--subprotocol: the first of the client's offer that the server lists; none offered in common, none selected; the offer logged")
    func subprotocols() async throws {
        let server = try await ServeProcess(["--subprotocol", "chat", "--subprotocol", "superchat"])
        let url = "ws://127.0.0.1:\(server.port)/"
        let first = try await WebSocketClient.connect(to: url, configuration: ClientConfiguration(subprotocols: ["superchat", "chat"]))
        #expect(first.subprotocol == "superchat")
        await first.close()
        let none = try await WebSocketClient.connect(to: url, configuration: ClientConfiguration(subprotocols: ["mqtt"]))
        #expect(none.subprotocol == nil)
        #expect(none.response.headers["Sec-WebSocket-Protocol"].isEmpty)
        await none.close()
        let cli = try await shell("echo hi | '\(binary)' connect --subprotocol chat \(url) 2>&1")
        #expect(cli.status == 0)
        #expect(cli.output.contains("\"subprotocol\":\"chat\""), "the client's connection_open: \(cli.output)")
        #expect(await server.stop() == 0)
        let opened = server.records("connection_open").map(fields)
        #expect(opened.map { $0["subprotocol"] as? String } == ["superchat", nil, "chat"])
        #expect(opened.map { $0["subprotocols_offered"] as? String } == ["superchat, chat", "mqtt", "chat"])
    }

    @Test("--log-format ecs: real lines valid against the ECS schema, in the spec's order, with client, source, url, duration and status")
    func ecsOutput() async throws {
        let server = try await ServeProcess(["--log-format", "ecs"])
        let url = "ws://127.0.0.1:\(server.port)/chat?token=secret&room=1"
        let run = try await shell("echo hi | '\(binary)' connect --log-format ecs '\(url)' 2>&1")
        #expect(run.status == 0, "\(run.output)")
        let raw = try RawSocket(port: server.port)
        raw.send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = await raw.readAllAsync()
        #expect(await server.stop() == 0)
        let text = try String(contentsOfFile: server.log, encoding: .utf8)
        #expect(!text.contains("secret"), "the token is redacted")
        let lines = text.split(separator: "\n").map { String($0) + "\n" }
        let clientLines = run.output.split(separator: "\n").filter { $0.hasPrefix("{") }.map { String($0) + "\n" }
        let schema = try await validateWithSchema(lines + clientLines, schema: "ecs-record.schema.json")
        #expect(schema.status == 0, "\(schema.output)")
        let byAction = { (action: String) in server.records.first { ($0["event"] as? [String: Any])?["action"] as? String == action } }
        let open = try #require(byAction("connection_open"))
        #expect((open["url"] as? [String: Any])?["path"] as? String == "/chat")
        #expect((open["url"] as? [String: Any])?["query"] as? String == "token=[REDACTED]&room=1")
        #expect((open["client"] as? [String: Any])?["ip"] as? String == "127.0.0.1")
        #expect((open["source"] as? [String: Any])?["port"] as? Int != nil)
        let closed = try #require(byAction("connection_closed"))
        #expect(((closed["event"] as? [String: Any])?["duration"] as? Int ?? 0) > 0, "event.duration in nanoseconds")
        #expect((closed["websocket"] as? [String: Any])?["close_code"] as? Int == 1000)
        let rejected = try #require(byAction("connection_rejected"))
        #expect(((rejected["http"] as? [String: Any])?["response"] as? [String: Any])?["status_code"] as? Int == 426)
        #expect(clientLines.contains { $0.contains("\"dataset\":\"websockets.client\"") }, "the client logs ECS too")
    }

    @Test("--log-file: moved and reopened on SIGHUP while connections come and go; no line lost or split")
    func logFileRotation() async throws {
        let path = NSTemporaryDirectory() + "ws-rotate-\(getpid()).jsonl"
        let rotated = path + ".1"
        unlink(path)
        unlink(rotated)
        defer { unlink(path); unlink(rotated) }
        let server = try await ServeProcess(["--log-file", path], logFile: path)
        let url = "ws://127.0.0.1:\(server.port)/"
        let total = 200
        for i in 0..<total {
            if i == total / 2 {
                #expect(rename(path, rotated) == 0)
                kill(server.process.pid, SIGHUP)
            }
            let ws = try await bounded(10, "connect \(i)") { try await WebSocketClient.connect(to: url) }
            try await ws.send("n\(i)")
            _ = try await nextMessage(ws, "echo \(i)")
            await ws.close()
        }
        #expect(await server.stop() == 0)
        let before = try String(contentsOfFile: rotated, encoding: .utf8)
        let after = try String(contentsOfFile: path, encoding: .utf8)
        #expect(before.hasSuffix("\n") && after.hasSuffix("\n"), "every line whole")
        let lines = (before + after).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(records.count == lines.count, "every line is one JSON object")
        let opened = Set(records.filter { $0["event"] as? String == "connection_open" }.compactMap { fields($0)["connection_id"] as? String })
        let closed = Set(records.filter { $0["event"] as? String == "connection_closed" }.compactMap { fields($0)["connection_id"] as? String })
        #expect(opened.count == total && closed == opened, "open \(opened.count), closed \(closed.count)")
        #expect(!after.isEmpty && after.contains("connection_open"), "the reopened file is written to")
        #expect(records.last?["event"] as? String == "server_closed", "the last line of the reopened file")
        let schema = try await validateWithSchema(lines.map { $0 + "\n" })
        #expect(schema.status == 0, "\(schema.output)")
    }
}
