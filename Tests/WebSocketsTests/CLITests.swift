import Foundation
import Testing
import WebSocketCore
import WebSockets
import WebSocketTestSupport

/// `websockets serve` as a process: JSON logs on stdout, SIGTERM → 1001 to clients, exit 0.
@Suite("websockets serve (the command)", .serialized, .timeLimit(.minutes(1)))
struct CLITests {
    @Test("SIGTERM closes connections with 1001 and exits 0; every line logged is schema-valid; the echo works both ways of handling",
          arguments: ["callbacks", "task"])
    func sigterm(handler: String) async throws {
        let binary = productBinary("websockets")
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the websockets product first")
        let port = freePort()
        let log = NSTemporaryDirectory() + "ws-cli-\(getpid())-\(port).jsonl"
        defer { unlink(log) }
        let server = try ChildProcess(binary, ["serve", "--port", String(port), "--log-format", "json", "--handler", handler], output: log)
        await waitFor({ (try? String(contentsOfFile: log, encoding: .utf8))?.contains("server_listening") == true }, seconds: 10)
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/") }
        try await ws.send("hello")
        #expect(try await nextMessage(ws, "echo") == .text("hello"))
        kill(server.pid, SIGTERM)
        try await bounded(15, "closed by the server") { await ws.waitUntilClosed() }
        #expect(ws.closeCode == .goingAway)
        let status = await server.waitForExit(seconds: 10)
        #expect(status == 0, "exit status \(String(describing: status))")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { String($0) + "\n" }
        #expect(lines.last?.contains("\"event\":\"server_closed\"") == true)
        let result = try await validateWithSchema(lines)
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("--node names the server on every record (server and connection alike); a bad name is refused naming it")
    func node() async throws {
        let binary = productBinary("websockets")
        let port = freePort()
        let log = NSTemporaryDirectory() + "ws-cli-node-\(getpid())-\(port).jsonl"
        defer { unlink(log) }
        let server = try ChildProcess(binary, ["serve", "--port", String(port), "--node", "web-9"], output: log)
        await waitFor({ (try? String(contentsOfFile: log, encoding: .utf8))?.contains("server_listening") == true }, seconds: 10)
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/") }
        await ws.close()
        kill(server.pid, SIGTERM)
        #expect(await server.waitForExit(seconds: 10) == 0)
        let records = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(records.count >= 5)
        for record in records {
            let fields = (record["event_data"] ?? record["fields"]) as? [String: Any]
            #expect(fields?["node"] as? String == "web-9", "\(record)")
        }
        let bad = try await runCommand(binary, ["serve", "--node", "a\u{1}b"])
        #expect(bad.status != 0 && bad.output.contains("--node 'a\\x01b': 1 to 128 bytes without control characters"), "\(bad.output)")
    }
}
