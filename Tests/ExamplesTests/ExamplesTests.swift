import Foundation
import NIOCore
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

/// Every program in `Examples/` runs here as its own process, against real peers (nginx,
/// rsyslogd, `websockets serve`), and its output is checked — not just that it built.
@Suite("Examples", .serialized, .timeLimit(.minutes(2)))
struct ExamplesTests {
    @Test("EchoServer echoes, logs schema-valid JSON and exits 0 on SIGTERM")
    func echoServer() async throws {
        let port = freePort()
        let run = try ExampleRun("EchoServer", [String(port)])
        try await run.waitForOutput("server_listening")
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/") }
        var replies = ws.messages.makeAsyncIterator()
        try await ws.send("hello")
        let reply = try await replies.next()
        #expect(reply == .text("hello"))
        await ws.close()
        try await run.waitForOutput("connection_closed")
        kill(run.process.pid, SIGTERM)
        #expect(await run.process.waitForExit(seconds: 10) == 0)

        let records = try await run.validJSONRecords()
        #expect(records.map { $0["event"] as? String } == ["server_listening", "connection_open", "connection_closed",
                                                             "server_closing", "server_closed"])
        let ids = records.compactMap { ($0["event_data"] as? [String: Any])?["connection_id"] as? String }
        #expect(ids.count == 2 && ids[0] == ids[1])
    }

    @Test("LoggingConfiguration: enricher, per-event levels, filters, sampling, plain client lines, null sink")
    func loggingConfiguration() async throws {
        let (status, output) = try await runCommand(ExampleRun.binary("LoggingConfiguration"), [], timeout: 60)
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        let jsonLines = lines.filter { $0.hasPrefix("{") }
        let plainLines = lines.filter { !$0.hasPrefix("{") }
        let result = try await validateWithSchema(jsonLines.map { $0 + "\n" })
        #expect(result.status == 0, "\(result.output)")
        let records = jsonLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(records.count == jsonLines.count)
        let server = records.filter { $0["logger"] as? String == "websockets.server" }
        let event = { (r: [String: Any]) in r["event"] as? String ?? "" }

        // Only the logging server's records: one server_listening, not the null-sink server's.
        #expect(server.filter { event($0) == "server_listening" }.count == 1)
        // The enricher: every record of the connection has the tenant; the constant on all.
        let open = try #require(server.first { event($0) == "connection_open" })
        #expect(open["level"] as? String == "notice")
        for record in server {
            let metadata = record["metadata"] as? [String: Any]
            #expect(metadata?["service"] as? String == "logging-demo", "\(record)")
            if record["event_data"] != nil { #expect(metadata?["tenant"] as? String == "acme", "\(record)") }
        }
        // Filters and levels: no handshake lines, no state changes (TRACE), frames sampled to 4.
        #expect(!server.contains { ["handshake_request", "handshake_response", "state_changed"].contains(event($0)) })
        let frames = server.filter { event($0) == "frame_sent" || event($0) == "frame_received" }
        #expect(frames.count == 4, "10 messages each way were exchanged; the sampler keeps the first 4 frame records")
        // The application's record inside the handler carries the server connection's id.
        let connectionID = (open["event_data"] as? [String: Any])?["connection_id"] as? String
        let appInHandler = try #require(records.first { $0["logger"] as? String == "app" && $0["message"] as? String == "echoing" })
        #expect((appInHandler["event_data"] as? [String: Any])?["connection_id"] as? String == connectionID)
        let exchanged = records.filter { $0["message"] as? String == "exchanged" }
        #expect(exchanged.count == 2 && exchanged.allSatisfy { ($0["metadata"] as? [String: Any])?["echoed"] as? String == "10" })
        // The client: plain lines, for both servers, with the connection in brackets.
        let clientOpens = plainLines.filter { $0.contains(" INFO websockets.client [") && $0.contains("] connection open") }
        #expect(clientOpens.count == 2, "\(plainLines)")
        #expect(plainLines.allSatisfy { $0.contains(" websockets.client ") }, "\(plainLines)")
    }

    @Test("BehindProxy behind a real nginx from the example's nginx.conf: the client address is believed only from a trusted nginx",
          arguments: [true, false])
    func behindProxy(trusted: Bool) async throws {
        let port = freePort()
        // nginx connects upstream from 127.0.0.3; trust it, or trust a range it is not in.
        let run = try ExampleRun("BehindProxy", [String(port), trusted ? "127.0.0.3/32" : "10.0.0.0/8"])
        try await run.waitForOutput("server_listening")
        let template = try String(contentsOf: repositoryRoot.appendingPathComponent("Examples/BehindProxy/nginx.conf"), encoding: .utf8)
        for needle in ["events {}", "http {", "listen 8080;", "proxy_pass http://127.0.0.1:8765;"] {
            try #require(template.contains(needle), "the test rewrites \(needle) in nginx.conf")
        }
        let nginx = try await Nginx { directory, nginxPort in
            "daemon off; user root; worker_processes 1; pid \(directory)/nginx.pid; error_log \(directory)/error.log;\n"
                + template
                .replacingOccurrences(of: "http {", with: "http {\n    access_log off; \(Nginx.tempPaths(directory))")
                .replacingOccurrences(of: "listen 8080;", with: "listen 127.0.0.1:\(nginxPort);")
                .replacingOccurrences(of: "proxy_pass http://127.0.0.1:8765;",
                                      with: "proxy_pass http://127.0.0.1:\(port);\n            proxy_bind 127.0.0.3;")
        }
        defer { nginx.stop() }
        // A client on 127.0.0.2 that claims to be 6.6.6.6.
        let raw = try RawSocket(port: nginx.port, localAddress: "127.0.0.2")
        raw.send(upgradeRequest(path: "/", extraHeaders: "X-Forwarded-For: 6.6.6.6\r\n"))
        let head = String(decoding: try await bounded(10, "101 through nginx") { await raw.readHeadAsync() }, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
        let frame = try await bounded(10, "greeting") { await raw.readAsync(count: 2) }
        try #require(frame.count == 2 && frame[0] == 0x81 && frame[1] < 126, "\(frame)")
        let greeting = String(decoding: try await bounded(10, "greeting") { await raw.readAsync(count: Int(frame[1])) }, as: UTF8.self)
        let expected = trusted ? "127.0.0.2" : "127.0.0.3"
        #expect(greeting == "you are \(expected), via 127.0.0.3")
        try await run.waitForOutput("connection_open")
        raw.shutdownBoth()
        try await run.waitForOutput("connection_closed")
        kill(run.process.pid, SIGTERM)
        #expect(await run.process.waitForExit(seconds: 15) == 0)
        let open = try #require(try await run.validJSONRecords().first { $0["event"] as? String == "connection_open" })
        let data = try #require(open["event_data"] as? [String: Any])
        #expect(data["remote_addr"] as? String == expected)
        #expect(data["peer_addr"] as? String == "127.0.0.3")
        #expect(data["remote_addr_source"] as? String == (trusted ? "x-forwarded-for" : nil))
        #expect(!run.output.contains("6.6.6.6\",\"peer"), "a forged address is never the client")
    }

    @Test("Chat: a member that never reads is skipped with WARNING records; the room keeps working")
    func chat() async throws {
        let port = freePort()
        let run = try ExampleRun("Chat", [String(port)])
        try await run.waitForOutput("server_listening")
        // 404 for anything but /rooms/NAME.
        let stray = try RawSocket(port: port)
        stray.send(upgradeRequest(path: "/elsewhere"))
        #expect(String(decoding: try await bounded(10, "404") { await stray.readHeadAsync() }, as: UTF8.self).hasPrefix("HTTP/1.1 404"))

        // The staller: joins from 127.0.0.2 and never reads.
        let staller = try RawSocket(port: port, localAddress: "127.0.0.2", receiveBufferSize: 4096)
        staller.send(upgradeRequest(path: "/rooms/a"))
        #expect(String(decoding: try await bounded(10, "staller joins") { await staller.readHeadAsync() }, as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        let reader = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/rooms/a")
        let sender = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/rooms/a")
        try await run.waitForOutput("\"joined\"", count: 3)
        let count = { @Sendable (ws: WebSocket) async -> Int in
            var n = 0
            do { for try await _ in ws.messages { n += 1 } } catch {}
            return n
        }
        let readerCount = Task { await count(reader) }
        let senderCount = Task { await count(sender) }
        // More than the kernel buffers between the server and the staller can hold (the
        // server's send buffer autotunes to a few MiB): 1000 × 32 KiB.
        let chunk = String(repeating: "x", count: 32 * 1024)
        try await bounded(60, "sending 1000 messages") {
            for i in 0..<1000 { try await sender.send("\(i) \(chunk)") }
        }
        try await run.waitForOutput("broadcast_skipped")
        // The server still serves: a newcomer in another room chats while room a drains.
        let newcomer = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/rooms/b")
        try await newcomer.send("still here")
        let echoed = try await bounded(10, "newcomer's broadcast") { () -> Bool in
            for try await m in newcomer.messages where m == .text("still here") { return true }
            return false
        }
        #expect(echoed)
        for ws in [reader, sender, newcomer] { await ws.close() }
        staller.shutdownBoth()
        let received = await readerCount.value
        _ = await senderCount.value
        #expect(received > 0)
        kill(run.process.pid, SIGTERM)
        #expect(await run.process.waitForExit(seconds: 20) == 0)

        let records = try await run.validJSONRecords()
        let stallerID = records.first { r in
            r["event"] as? String == "connection_open" && (r["event_data"] as? [String: Any])?["remote_addr"] as? String == "127.0.0.2"
        }.flatMap { ($0["event_data"] as? [String: Any])?["connection_id"] as? String }
        let skips = records.filter { $0["event"] as? String == "broadcast_skipped" }
        #expect(!skips.isEmpty && skips.allSatisfy { $0["level"] as? String == "warning" })
        #expect(skips.contains { ($0["event_data"] as? [String: Any])?["connection_id"] as? String == stallerID },
                "staller \(String(describing: stallerID)); skips by connection: \(Dictionary(grouping: skips) { ($0["event_data"] as? [String: Any])?["connection_id"] as? String ?? "" }.mapValues(\.count))")
    }

    @Test("ReconnectingClient reconnects after the server restarts, logging client_reconnecting")
    func reconnectingClient() async throws {
        let port = freePort()
        let serve = { try ExampleRun(binary: ExampleRun.binary("websockets"), ["serve", "--port", String(port)]) }
        var server = try serve()
        try await server.waitForOutput("server_listening")
        let client = try ExampleRun("ReconnectingClient", ["ws://127.0.0.1:\(port)/", "2"])
        try await client.waitForOutput("echo: hello from connection 1")
        kill(server.process.pid, SIGTERM)
        #expect(await server.process.waitForExit(seconds: 15) == 0)
        try await client.waitForOutput("client_reconnecting")
        server = try serve()
        try await server.waitForOutput("server_listening")
        #expect(await client.process.waitForExit(seconds: 30) == 0, "\(client.output)")
        #expect(client.output.contains("closed with 1001; 1 of 2 connections done"))
        #expect(client.output.contains("echo: hello from connection 2"))
        #expect(client.output.contains("closed with 1000; 2 of 2 connections done"))
        let records = try await client.validJSONRecords()
        let reconnects = records.filter { $0["event"] as? String == "client_reconnecting" }
        #expect(!reconnects.isEmpty && reconnects.allSatisfy { $0["level"] as? String == "info" })
        #expect(records.filter { $0["event"] as? String == "connection_open" }.count == 2)
        server.process.stop()
    }

    @Test("ShipToSyslog into a real rsyslogd from the example's rsyslog.conf, over RELP and TCP: the JSON lines websockets serve prints, schema-valid", arguments: ["relp", "tcp"])
    func shipToSyslog(scheme: String) async throws {
        let rsyslogd = try await ExampleRsyslogd()
        let port = freePort()
        let destination = "\(scheme)://127.0.0.1:\(scheme == "relp" ? rsyslogd.relpPort : rsyslogd.tcpPort)"
        let run = try ExampleRun("ShipToSyslog", [String(port), destination])
        try await run.waitForOutput("listening on 127.0.0.1:\(port); logging to \(destination)")
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/shop?token=secret") }
        try await ws.send("hi")
        await ws.close()
        try await waitForFile(rsyslogd.outputPath, containing: "connection_closed")
        kill(run.process.pid, SIGTERM)
        #expect(await run.process.waitForExit(seconds: 15) == 0)
        let records = try await validJSONRecords(inFile: rsyslogd.outputPath)
        let open = try #require(records.first { $0["event"] as? String == "connection_open" }?["event_data"] as? [String: Any])
        let closed = try #require(records.first { $0["event"] as? String == "connection_closed" }?["event_data"] as? [String: Any])
        #expect(open["connection_id"] as? String != nil && open["connection_id"] as? String == closed["connection_id"] as? String)
        #expect(open["path"] as? String == "/shop?token=[REDACTED]")
        #expect(closed["close_code"] as? Int == 1000, "a number, not a string: \(closed)")
        #expect(records.first { $0["event"] as? String == "connection_open" }?["level"] as? String == "info")
        #expect(((try? String(contentsOfFile: rsyslogd.otherPath, encoding: .utf8)) ?? "").isEmpty, "every message was one of our JSON records")
    }
}

/// rsyslogd started from Examples/ShipToSyslog/rsyslog.conf as written, ports and paths rewritten.
final class ExampleRsyslogd {
    let directory = NSTemporaryDirectory() + "ws-example-rsyslog-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let relpPort = freePort()
    let tcpPort = freePort()
    var outputPath: String { directory + "/websockets.jsonl" }
    var otherPath: String { directory + "/websockets-other.log" }
    private(set) var process: ChildProcess?

    init(started: Bool = true) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let template = try String(contentsOf: repositoryRoot.appendingPathComponent("Examples/ShipToSyslog/rsyslog.conf"), encoding: .utf8)
        let rewrites = ["workDirectory=\"/tmp\"": "workDirectory=\"\(directory)\"", "port=\"2514\"": "port=\"\(relpPort)\"",
                        "port=\"5514\"": "port=\"\(tcpPort)\"", "file=\"/var/log/websockets.jsonl\"": "file=\"\(outputPath)\"",
                        "file=\"/var/log/websockets-other.log\"": "file=\"\(otherPath)\""]
        var config = template
        for (needle, replacement) in rewrites {
            try #require(template.contains(needle), "the test rewrites \(needle) in rsyslog.conf")
            config = config.replacingOccurrences(of: needle, with: replacement)
        }
        try config.write(toFile: directory + "/rsyslog.conf", atomically: true, encoding: .utf8)
        if started { try await start() }
    }

    /// Starts the daemon and waits (bounded) until both inputs accept connections.
    func start() async throws {
        process = try ChildProcess("/usr/sbin/rsyslogd", ["-n", "-f", directory + "/rsyslog.conf", "-i", directory + "/rsyslogd.pid"],
                                   output: directory + "/rsyslogd.out")
        let (relp, tcp) = (relpPort, tcpPort)
        try await bounded(10, "rsyslogd listens") {
            while (try? RawSocket(port: relp)) == nil || (try? RawSocket(port: tcp)) == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
    }

    /// SIGTERM, and waits until it has exited.
    func stop() { process?.stop() }

    deinit {
        process?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Waits (bounded: 20 s) until `text` appeared `count` times in the file at `path`.
func waitForFile(_ path: String, containing text: String, count: Int = 1) async throws {
    try await bounded(20, "\(text) ×\(count) in \(path)") {
        while ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").components(separatedBy: text).count - 1 < count {
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// The file's lines, each checked to be one JSON record valid against the schema, parsed.
func validJSONRecords(inFile path: String) async throws -> [[String: Any]] {
    let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map { String($0) + "\n" }
    let result = try await validateWithSchema(lines)
    #expect(result.status == 0, "\(result.output)")
    let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    #expect(records.count == lines.count, "one JSON object per line")
    return records
}

/// The README's jq cookbook, run as written against a real `websockets serve` log: a recipe the
/// log format no longer fits fails here, not in an operator's terminal.
@Suite("README", .serialized, .timeLimit(.minutes(2)))
struct ReadmeTests {
    /// The `jq` lines of the README's cookbook block.
    static func cookbook() throws -> [String] {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "### jq cookbook").dropFirst().first)
        let block = try #require(section.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first)
        return block.split(separator: "\n").map(String.init).filter { $0.hasPrefix("jq ") }
    }

    @Test("every jq cookbook recipe runs against real server output and finds what it is for: stdout, and rsyslog's file (ShipToSyslog's rsyslog.conf, over RELP)",
          arguments: ["stdout", "rsyslog"])
    func jqCookbook(destination: String) async throws {
        let recipes = try Self.cookbook()
        #expect(recipes.count == 8, "\(recipes)")
        // A log with what the recipes look for: a normal close, a rejected handshake, an abnormal close.
        let port = freePort()
        let rsyslogd = destination == "rsyslog" ? try await ExampleRsyslogd() : nil
        var arguments = ["serve", "--port", String(port), "--log-format", "json"]
        if let rsyslogd { arguments += ["--log-syslog", "relp://127.0.0.1:\(rsyslogd.relpPort)"] }
        let run = try ExampleRun(binary: ExampleRun.binary("websockets"), arguments)
        let logPath = rsyslogd?.outputPath ?? run.outputPath
        try await waitForFile(logPath, containing: "server_listening")
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/") }
        try await ws.send("hi")
        var replies = ws.messages.makeAsyncIterator()
        #expect(try await replies.next() == .text("hi"))
        await ws.close()
        let bye = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/") }
        await bye.close(code: CloseCode(4000), reason: "bye")  // an application's close: not a problem
        let garbage = try RawSocket(port: port)
        garbage.send("garbage\r\n\r\n")
        _ = await garbage.readAllAsync()
        let dropped = try RawSocket(port: port)
        dropped.send(upgradeRequest())
        _ = await dropped.readHeadAsync()
        dropped.shutdownBoth()
        try await waitForFile(logPath, containing: "connection_closed", count: 3)
        try await waitForFile(logPath, containing: "connection_rejected")
        kill(run.process.pid, SIGTERM)
        #expect(await run.process.waitForExit(seconds: 10) == 0)
        try await waitForFile(logPath, containing: "server_closed")

        let records = try await validJSONRecords(inFile: logPath)
        let log = NSTemporaryDirectory() + "ws-readme-\(getpid()).jsonl"
        try String(contentsOfFile: logPath, encoding: .utf8).write(toFile: log, atomically: true, encoding: .utf8)
        defer { unlink(log) }
        let opened = records.filter { $0["event"] as? String == "connection_open" }
            .compactMap { ($0["event_data"] as? [String: Any])?["connection_id"] as? String }
        let id = try #require(opened.first)

        var outputs: [String] = []
        for recipe in recipes {
            let command = recipe.replacingOccurrences(of: "ws.jsonl", with: log)
                .replacing(#/--arg id [0-9a-f-]{36}/#, with: "--arg id \(id)")
            let (status, output) = try await runCommand("/bin/sh", ["-c", command], timeout: 30)
            #expect(status == 0, "\(recipe): \(output)")
            outputs.append(output)
        }
        guard outputs.count == 8 else { return }
        #expect(outputs[0].contains("connection_open") && outputs[0].contains("connection_closed"), "follow: \(outputs[0])")
        #expect(outputs[1].contains(" 1000") && outputs[1].contains(" 1006"), "closes by code: \(outputs[1])")
        #expect(Double(outputs[2].trimmingCharacters(in: .whitespacesAndNewlines)) != nil, "p99 duration: \(outputs[2])")
        #expect(outputs[3].split(separator: "\n").count == opened.count && outputs[3].contains("\"ms\":"), "handshakes: \(outputs[3])")
        #expect(outputs[4].contains("127.0.0.1"), "top addresses: \(outputs[4])")
        #expect(outputs[5].contains("connection_rejected") && outputs[5].contains("1006"), "problems: \(outputs[5])")
        #expect(!outputs[5].contains("\"close_code\":1000"), "a normal close is not a problem: \(outputs[5])")
        #expect(!outputs[5].contains("\"close_code\":4000"), "an application's close code is not a problem: \(outputs[5])")
        // Every connection was to "/": each close, the abnormal one included, is found by its path.
        #expect(outputs[6].contains(" 1000 /") && outputs[6].contains(" 4000 /") && outputs[6].contains(" 1006 /"), "closes by path: \(outputs[6])")
        // serve's default 60 s window: the one written at shutdown holds the three connections.
        #expect(outputs[7].contains(" opened 3 closed 3 open 0"), "connections per minute: \(outputs[7])")
    }

    /// Every line of the README's `sh` blocks.
    static func shellLines() throws -> [String] {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        return readme.components(separatedBy: "```sh\n").dropFirst()
            .flatMap { $0.components(separatedBy: "```").first?.split(separator: "\n").map(String.init) ?? [] }
    }

    @Test("the README's websockets commands run as written (the port and file names aside): serve starts, connect echoes, the piped example prints every echo")
    func commandsAsWritten() async throws {
        let lines = try Self.shellLines().filter { $0.contains("websockets serve") || $0.contains("websockets connect") }
        let serves = lines.filter { $0.contains("websockets serve") }
        let connects = lines.filter { $0.contains("websockets connect") }
        #expect(serves.count >= 2 && connects.count >= 2, "\(lines)")
        let binary = ExampleRun.binary("websockets")
        let directory = NSTemporaryDirectory() + "ws-readme-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for serve in serves {
            let port = freePort()
            var command = Self.asRun(serve, binary: binary, port: port)
            var output = directory + "/serve-\(port).out"
            // A command logging to syslog gets a real rsyslogd (the example's configuration), and
            // its records are looked for where rsyslogd writes them.
            let rsyslogd = serve.contains("--log-syslog relp://127.0.0.1:2514") ? try await ExampleRsyslogd() : nil
            if let rsyslogd {
                command = command.replacingOccurrences(of: "relp://127.0.0.1:2514", with: "relp://127.0.0.1:\(rsyslogd.relpPort)")
            }
            let shell = try ChildProcess("/bin/sh", ["-c", "cd '\(directory)' && \(command)"], output: output)
            if let rsyslogd { output = rsyslogd.outputPath }
            for _ in 0..<300 where (try? String(contentsOfFile: output, encoding: .utf8))?.contains("server_listening") != true {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect((try? String(contentsOfFile: output, encoding: .utf8))?.contains("server_listening") == true,
                    "\(serve): \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
            for connect in connects {
                let line = Self.asRun(connect, binary: binary, port: port)
                let piped = line.contains("|") ? line : "printf 'hello\\nworld\\n' | \(line)"
                let (status, echoed) = try await runCommand("/bin/sh", ["-c", "cd '\(directory)' && \(piped) 2>/dev/null"], timeout: 30)
                #expect(status == 0, "\(connect): \(echoed)")
                #expect(echoed == "< hello\n< world\n", "\(connect): \(echoed)")
            }
            _ = try await runCommand("/usr/bin/pkill", ["-TERM", "-f", "websockets serve .*--port \(port)( |$)"])
            #expect(await shell.waitForExit(seconds: 15) == 0, "\(serve) stops on SIGTERM")
            if serve.contains("tee ws.jsonl") {
                let log = try String(contentsOfFile: directory + "/ws.jsonl", encoding: .utf8)
                #expect(log.contains("\"event\":\"server_closed\""), "\(log)")
            }
        }
    }

    /// A README command as the test runs it: the built binary for `swift run websockets`, a free
    /// port for 8765 (the suites run side by side).
    static func asRun(_ line: String, binary: String, port: Int) -> String {
        line.replacingOccurrences(of: "swift run websockets", with: "'\(binary)'")
            .replacingOccurrences(of: "8765", with: String(port))
            .replacing(#/^websockets /#, with: "'\(binary)' ")
    }

    @Test("the README's metrics table names every metric the library keeps, and no other")
    func metricNames() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## Metrics (Prometheus)").dropFirst().first?
            .components(separatedBy: "\n## ").first)
        let named = Set(section.matches(of: #/`(websockets_[a-z_]+)`/#).map { String($0.output.1) })
        #expect(named == Set(WebSocketMetricName.allCases.map(\.rawValue)), "\(named.symmetricDifference(WebSocketMetricName.allCases.map(\.rawValue)))")
    }

    @Test("the README's Package.swift snippet names this package's products")
    func packageSnippet() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let manifest = try String(contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## Use it in your package").dropFirst().first?
            .components(separatedBy: "\n## ").first)
        let snippet = try #require(section.components(separatedBy: "```swift\n").dropFirst().first?.components(separatedBy: "```").first)
        let named = snippet.matches(of: #/\.product\(name: "([A-Za-z]+)", package: "([a-z-]+)"\)/#).map { (String($0.1), String($0.2)) }
        #expect(named.count >= 2, "\(snippet)")
        for (product, package) in named {
            #expect(package == "swift-websockets")
            #expect(manifest.contains(".library(name: \"\(product)\""), "\(product) is not a library product of Package.swift")
        }
        #expect(manifest.contains("name: \"swift-websockets\""))
        let table = section.matches(of: #/^\| `([A-Za-z]+)` \|/#.anchorsMatchLineEndings()).map { String($0.1) }
        let libraries = manifest.matches(of: #/\.library\(name: "([A-Za-z]+)"/#).map { String($0.1) }
        #expect(Set(table) == Set(libraries), "the products table lists every library product: \(table) vs \(libraries)")
    }
}

/// An example program running as a child process, its stdout and stderr in a temporary file.
final class ExampleRun {
    let process: ChildProcess
    let outputPath: String

    static func binary(_ name: String) -> String { productBinary(name) }

    convenience init(_ example: String, _ arguments: [String]) throws {
        try self.init(binary: Self.binary(example), arguments)
    }

    init(binary: String, _ arguments: [String]) throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the package first (swift build --build-tests)")
        outputPath = NSTemporaryDirectory() + "ws-example-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        process = try ChildProcess(binary, arguments, output: outputPath)
    }

    deinit {
        process.stop()
        unlink(outputPath)
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits (bounded: 15 s) until `text` appeared `count` times in the output.
    func waitForOutput(_ text: String, count: Int = 1) async throws {
        let path = outputPath
        try await bounded(15, "\(text) in the output of \(path)") {
            while ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").components(separatedBy: text).count - 1 < count {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// The output's JSON lines, checked against the schema, parsed.
    func validJSONRecords() async throws -> [[String: Any]] {
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("{") }.map { String($0) + "\n" }
        let result = try await validateWithSchema(lines)
        #expect(result.status == 0, "\(result.output)")
        return lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}
