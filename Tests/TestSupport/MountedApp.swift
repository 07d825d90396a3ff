import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// An application that mounts a WebSocket route on its HTTP port (`Integrations/*`'s example
/// executables), started as a user starts it: `--port 0`, JSON lines on stdout, the bound
/// port read back from the line that names `127.0.0.1:PORT`.
public final class MountedApp: @unchecked Sendable {
    public let process: ChildProcess
    public let log: String
    public let port: Int

    public init(_ binary: String, _ arguments: [String] = []) async throws {
        let path = productBinary(binary)
        try #require(FileManager.default.isExecutableFile(atPath: path), "build \(binary) first (swift build --build-tests)")
        log = NSTemporaryDirectory() + "ws-app-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
        process = try ChildProcess(path, ["--port", "0"] + arguments, output: log)
        var port: Int?
        for _ in 0..<600 where port == nil {  // bounded: 30 s (a debug Vapor app starts slowly)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            port = text.firstMatch(of: /127\.0\.0\.1:([1-9][0-9]*)/).flatMap { Int($0.1) }
            if port == nil {
                guard process.isRunning else { break }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        self.port = try #require(port, "\(binary) did not log its address: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    deinit {
        process.stop()
        unlink(log)
    }

    /// Every line of the output (the framework's and ours).
    public var lines: [String] { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }

    /// The JSON records of `event`.
    public func records(_ event: String) -> [[String: Any]] {
        lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event"] as? String == event }
    }

    /// `event_data` of the records of `event`.
    public func eventData(_ event: String) -> [[String: Any]] { records(event).compactMap { $0["event_data"] as? [String: Any] } }

    /// Waits (bounded: 15 s) until there are `count` records of `event`.
    public func waitFor(_ event: String, count: Int = 1) async throws {
        for _ in 0..<300 where records(event).count < count { try await Task.sleep(for: .milliseconds(50)) }
        try #require(records(event).count >= count, "\(count) \(event) record(s) expected in \(lines.joined(separator: "\n"))")
    }

    /// Every output line is one JSON object valid against `schemas/log-record.schema.json`.
    public func expectSchemaValid(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(!lines.isEmpty, sourceLocation: sourceLocation)
        let result = try await validateWithSchema(lines.map { $0 + "\n" })
        #expect(result.status == 0, "\(result.output)", sourceLocation: sourceLocation)
    }

    /// SIGTERM, as a service manager stops it; the exit status (nil: still running after 15 s).
    public func terminate() async -> Int32? {
        kill(process.pid, SIGTERM)
        return await process.waitForExit(seconds: 15)
    }
}

/// A plain HTTP/1.1 request on loopback (`Connection: close`); the whole response.
public func httpRequest(port: Int, _ head: String) async throws -> String {
    let socket = try RawSocket(port: port)
    socket.send(head)
    return String(decoding: await socket.readAllAsync(), as: UTF8.self)
}

/// What every mounted example must do, checked the same way for each framework.
public enum MountedAppChecks {
    static let peers = repositoryRoot.appendingPathComponent("Tests/Peers").path

    /// `GET /health` 200; a plain `GET /ws` 426; a bad handshake 400 naming the header and a
    /// `connection_rejected` record; Python websockets echoes with deflate and closes 4000; the
    /// records are the standalone server's, and every line (the framework's too) is schema-valid.
    public static func onePort(_ binary: String) async throws {
        let app = try await MountedApp(binary)
        let health = try await httpRequest(port: app.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(health.hasPrefix("HTTP/1.1 200 OK") && health.hasSuffix("\r\n\r\nok\n"), "\(health)")
        let plain = try await httpRequest(port: app.port, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(plain.hasPrefix("HTTP/1.1 426 Upgrade Required") && plain.lowercased().contains("upgrade: websocket"), "\(plain)")
        let bad = try await httpRequest(port: app.port, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(bad.hasPrefix("HTTP/1.1 400 Bad Request") && bad.contains("Sec-WebSocket-Key"), "the reason names what is missing: \(bad)")
        let client = try await runCommand("/usr/bin/env", ["python3", peers + "/echo_once.py", "ws://127.0.0.1:\(app.port)/ws", "4000"])
        #expect(client.status == 0 && client.output.contains("permessage-deflate"), "\(client.output)")
        try await app.waitFor("connection_closed")
        try await app.expectSchemaValid()

        let rejected = try #require(app.eventData("connection_rejected").first)
        #expect(rejected["rejection"] as? String == "missing_key" && rejected["status"] as? Int == 400, "\(rejected)")
        let open = try #require(app.eventData("connection_open").first)
        #expect(open["handshake_duration"] as? Double != nil && open["path"] as? String == "/ws", "\(open)")
        #expect((open["extensions"] as? String)?.contains("permessage-deflate") == true, "\(open)")
        #expect(open["remote_addr"] as? String == "127.0.0.1" && open["remote_addr_source"] == nil,
                "no trusted proxy: the peer's address, whatever X-Forwarded-For says: \(open)")
        let closed = try #require(app.eventData("connection_closed").first)
        #expect(closed["close_code"] as? Int == 4000 && closed["close_reason_received"] as? String == "bye", "\(closed)")
        #expect(closed["messages_in"] as? Int == 2 && closed["messages_out"] as? Int == 2, "\(closed)")
        #expect(closed["connection_id"] as? String == open["connection_id"] as? String)
        #expect(await app.terminate() == 0)
    }

    /// Headless Chromium on `/ws`: UTF-8, 200 KB text, 64 KB binary, a 1,000-message burst, close
    /// 4000 "bye" — seen the same way by the page and by the app's log.
    public static func browser(_ binary: String) async throws {
        let app = try await MountedApp(binary)
        let page = try await runCommand("/usr/bin/env", ["python3", peers + "/browser.py", "ws://127.0.0.1:\(app.port)/ws"], timeout: 120)
        #expect(page.status == 0, "\(page.output)")
        let line = try #require(page.output.split(separator: "\n").last { $0.hasPrefix("{") }, "no result: \(page.output)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect((result["extensions"] as? String)?.hasPrefix("permessage-deflate") == true, "\(result)")
        #expect(result["utf8"] as? Bool == true && result["bigText"] as? Bool == true && result["binary"] as? Bool == true, "\(result)")
        #expect(result["burst"] as? Int == 1000, "\(result)")
        try await app.waitFor("connection_closed")
        let closed = try #require(app.eventData("connection_closed").first)
        #expect(closed["close_code"] as? Int == 4000 && closed["close_reason_received"] as? String == "bye", "\(closed)")
        #expect(closed["initiator"] as? String == "remote", "\(closed)")
        #expect(closed["messages_in"] as? Int == 1003 && closed["messages_out"] as? Int == 1003, "\(closed)")
        try await app.expectSchemaValid()
        #expect(await app.terminate() == 0)
    }

    /// Behind a real nginx (clients from 127.0.0.1, nginx upstream from 127.0.0.3, trusted): the
    /// client address is the one nginx appended to X-Forwarded-For, never the forged one.
    public static func behindNginx(_ binary: String) async throws {
        let app = try await MountedApp(binary, ["--trusted-proxy", "127.0.0.3/32"])
        let nginx = try await Nginx(upstreamPort: app.port)
        defer { nginx.stop() }
        // echo_once.py sends a forged X-Forwarded-For: 203.0.113.7.
        let client = try await runCommand("/usr/bin/env", ["python3", peers + "/echo_once.py", "ws://127.0.0.1:\(nginx.port)/ws", "1000"])
        #expect(client.status == 0, "\(client.output)")
        try await app.waitFor("connection_closed")
        let open = try #require(app.eventData("connection_open").first)
        #expect(open["remote_addr"] as? String == "127.0.0.1" && open["remote_addr_source"] as? String == "x-forwarded-for", "\(open)")
        #expect(open["peer_addr"] as? String == "127.0.0.3", "\(open)")
        #expect(!app.lines.contains { $0.contains("\"remote_addr\":\"203.0.113.7\"") }, "the forged address was logged")
        #expect(await app.terminate() == 0)
    }

    /// SIGTERM while clients are connected (one on `/ws`, one member of a room): each is closed
    /// with 1001 "going away", the connections' records say so, `server_stats` windows (every
    /// 0.5 s, and one at shutdown) count both, and the app exits 0.
    public static func gracefulStop(_ binary: String) async throws {
        let app = try await MountedApp(binary, ["--stats-interval", "0.5"])
        var clients: [(ChildProcess, String)] = []
        for arguments in [["ws://127.0.0.1:\(app.port)/ws"], ["ws://127.0.0.1:\(app.port)/rooms/lobby", "demo"]] {
            let output = NSTemporaryDirectory() + "ws-hold-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
            clients.append((try ChildProcess("/usr/bin/env", ["python3", peers + "/hold_open.py"] + arguments, output: output), output))
        }
        defer { for (_, output) in clients { unlink(output) } }
        try await app.waitFor("connection_open", count: 2)
        #expect(await app.terminate() == 0, "\(app.lines.joined(separator: "\n"))")
        for (client, output) in clients {
            #expect(await client.waitForExit(seconds: 15) == 0)
            let said = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(said.contains("closed 1001"), "the client saw: \(said)")
        }
        let closed = app.eventData("connection_closed")
        #expect(closed.count == 2, "\(closed)")
        for record in closed {
            #expect(record["close_code"] as? Int == 1001 && record["initiator"] as? String == "local", "\(record)")
        }
        #expect(Set(closed.compactMap { $0["route"] as? String }) == ["/ws", "/rooms/:room"], "\(closed)")
        // server_stats: every route in one series, the last window written at shutdown with the 1001s in it.
        let windows = app.records("server_stats").compactMap { $0["fields"] as? [String: Any] }
        func sum(_ key: String) -> Int { windows.reduce(0) { $0 + ($1[key] as? Int ?? 0) } }
        #expect(sum("connections_opened") == 2 && sum("closed_normal") == 2, "\(windows)")
        #expect(windows.last?["connections_active"] as? Int == 0, "\(windows)")
        let lastLines = app.lines.suffix(6).joined(separator: "\n")
        #expect(lastLines.contains("\"server_stats\""), "a window at shutdown, after the closes: \(lastLines)")
        try await app.expectSchemaValid()
    }

    /// The authenticated room route, from outside (`rooms_client.py`): 401 without the token
    /// (no upgrade; one `http_response_sent` record with the client address and the route),
    /// `joined ROOM`, messages to every member of one room and to no other, 1009 above the
    /// route's 4,096-byte limit but not on `/ws`; a plain GET with the token gets 426; the
    /// records carry `route` beside `path`, and the handler saw what the middleware stored.
    public static func rooms(_ binary: String) async throws {
        let app = try await MountedApp(binary)
        let plain = try await httpRequest(port: app.port, "GET /rooms/lobby HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer demo\r\nConnection: close\r\n\r\n")
        #expect(plain.hasPrefix("HTTP/1.1 426 Upgrade Required"), "\(plain)")
        let client = try await runCommand("/usr/bin/env", ["python3", peers + "/rooms_client.py", "ws://127.0.0.1:\(app.port)"])
        let checks = client.output.split(separator: "\n")
        #expect(client.status == 0 && checks.filter { $0.hasPrefix("ok ") }.count == 7 && !checks.contains { $0.hasPrefix("FAIL") },
                "\(client.output)")
        try await app.waitFor("connection_closed", count: 4)
        try await app.expectSchemaValid()

        let answers = app.eventData("http_response_sent")
        #expect(answers.count == 1, "only the refused upgrade is logged, not plain HTTP: \(answers)")
        let refused = try #require(answers.first)
        #expect(refused["status"] as? Int == 401 && refused["remote_addr"] as? String == "127.0.0.1", "\(refused)")
        #expect(refused["route"] as? String == "/rooms/:room" && refused["path"] as? String == "/rooms/lobby", "\(refused)")
        #expect(app.eventData("connection_open").count == 4, "the refused request was not upgraded")

        for event in ["connection_open", "connection_closed"] {
            let records = app.eventData(event)
            let routes = records.map { ($0["route"] as? String ?? "-", $0["path"] as? String ?? "-") }
            #expect(routes.filter { $0 == ("/rooms/:room", "/rooms/lobby") }.count == 2, "\(event): \(routes)")
            #expect(routes.filter { $0 == ("/rooms/:room", "/rooms/other") }.count == 1, "\(event): \(routes)")
            #expect(routes.filter { $0 == ("/ws", "/ws") }.count == 1, "\(event): \(routes)")
        }
        let tooBig = app.eventData("connection_closed").filter { $0["close_code"] as? Int == 1009 }
        #expect(tooBig.count == 1 && tooBig.first?["route"] as? String == "/rooms/:room", "\(tooBig)")
        let joined = app.records("log").filter { $0["message"] as? String == "member joined" }
        #expect(joined.count == 3, "\(joined)")
        for record in joined {
            let metadata = record["metadata"] as? [String: Any] ?? [:]
            #expect(metadata["user"] as? String == "demo", "what the middleware stored reached the handler: \(record)")
            #expect((record["event_data"] as? [String: Any])?["route"] as? String == "/rooms/:room", "\(record)")
        }
        #expect(await app.terminate() == 0)
    }

    /// Over TLS with a test CA the clients trust (no verification switched off): headless
    /// Chromium on `wss://…/ws`, and the room checks with Python websockets.
    public static func browserTLS(_ binary: String) async throws {
        let ca = try await TestCA()
        defer { ca.remove() }
        let app = try await MountedApp(binary, ["--tls-cert", ca.certificate, "--tls-key", ca.key])
        let page = try await runCommand("/usr/bin/env", ["python3", peers + "/browser.py", "wss://127.0.0.1:\(app.port)/ws",
                                                         "--ca-cert", ca.caCertificate], timeout: 120)
        #expect(page.status == 0, "\(page.output)")
        let line = try #require(page.output.split(separator: "\n").last { $0.hasPrefix("{") }, "no result: \(page.output)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(result["utf8"] as? Bool == true && result["burst"] as? Int == 1000, "\(result)")
        let rooms = try await runCommand("/usr/bin/env", ["SSL_CERT_FILE=" + ca.caCertificate, "python3", peers + "/rooms_client.py",
                                                          "wss://127.0.0.1:\(app.port)"])
        #expect(rooms.status == 0, "\(rooms.output)")
        try await app.waitFor("connection_closed", count: 5)
        let closed = app.eventData("connection_closed").first { $0["route"] as? String == "/ws" }
        #expect(closed?["close_code"] as? Int == 4000 && closed?["messages_in"] as? Int == 1003, "\(String(describing: closed))")
        #expect(await app.terminate() == 0)
    }

    /// Bad arguments: exit 64 and a line naming the option and the value.
    public static func badArguments(_ binary: String) async throws {
        for (arguments, message) in [(["--port", "70000"], "--port must be 0 to 65535, not 70000"),
                                     (["--trusted-proxy", "10.0.0.0/33"], "--trusted-proxy 10.0.0.0/33: not an IP address or CIDR range")] {
            let run = try await runCommand(productBinary(binary), arguments, timeout: 30)
            #expect(run.status == 64 && run.output.contains(message), "\(arguments): \(run.output)")
        }
    }

    /// The README's snippet for `framework` (the Swift block whose first line is
    /// `// FRAMEWORK`) is the example's code: each of its lines is a line of `exampleSource`.
    public static func readmeSnippet(_ framework: String, exampleSource: String) throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = "```swift\n// \(framework)\n"
        let start = try #require(readme.range(of: marker), "README has no Swift block starting with // \(framework)")
        let rest = readme[start.upperBound...]
        let snippet = String(rest[..<(rest.range(of: "```")?.lowerBound ?? rest.endIndex)])
        let source = Set(try String(contentsOfFile: exampleSource, encoding: .utf8).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) })
        let lines = snippet.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        #expect(lines.count >= 5, "\(snippet)")
        for line in lines { #expect(source.contains(line), "README line not in \(exampleSource): \(line)") }
    }
}
