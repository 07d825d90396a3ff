import Foundation
import Testing
import WebSockets
import WebSocketTestSupport

/// Headless Chromium (Debian's `chromium`, installed by `scripts/install-deps.sh`) against
/// `websockets serve --subprotocol chat`, driven over the DevTools protocol by
/// `Tests/Peers/browser.py`: what a browser user meets first.
@Suite("A real browser (headless Chromium) against websockets serve", .serialized, .timeLimit(.minutes(3)))
struct BrowserTests {
    @Test("ws:// and wss://: subprotocol chat, deflate with Chrome's offer, UTF-8, 200 KB text, 64 KB binary, 1,000-message burst, close 4000 'bye'; the server's log says the same",
          arguments: [false, true])
    func echoSession(tls: Bool) async throws {
        var arguments = ["--subprotocol", "chat"]
        var browserArguments = ["--subprotocol", "chat"]
        if tls {
            let certificate = try await makeCertificate()
            arguments += ["--tls-cert", certificate.cert, "--tls-key", certificate.key]
            browserArguments.append("--ignore-certificate-errors")
        }
        let server = try await ServeProcess(arguments)
        let url = "\(tls ? "wss" : "ws")://127.0.0.1:\(server.port)/"
        let run = try await runCommand("/usr/bin/env", ["python3", peers + "/browser.py", url] + browserArguments, timeout: 120)
        #expect(run.status == 0, "\(run.output)")
        let line = try #require(run.output.split(separator: "\n").last { $0.hasPrefix("{") }, "no result: \(run.output)")
        let page = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(page["protocol"] as? String == "chat", "\(page)")
        #expect((page["extensions"] as? String)?.hasPrefix("permessage-deflate") == true, "\(page)")
        #expect(page["utf8"] as? Bool == true)
        #expect(page["bigText"] as? Bool == true)
        #expect(page["binary"] as? Bool == true)
        #expect(page["burst"] as? Int == 1000)
        let close = page["close"] as? [String: Any]
        #expect(close?["code"] as? Int == 4000 && close?["reason"] as? String == "bye" && close?["wasClean"] as? Bool == true, "\(page)")

        #expect(await server.stop() == 0)
        let opened = try #require(server.records("connection_open").first.map(fields))
        #expect(opened["subprotocol"] as? String == "chat")
        #expect(opened["subprotocols_offered"] as? String == "chat")
        #expect((opened["extensions"] as? String)?.hasPrefix("permessage-deflate") == true, "\(opened)")
        let closed = try #require(server.records("connection_closed").first.map(fields))
        #expect(closed["close_code"] as? Int == 4000)
        #expect(closed["close_reason_received"] as? String == "bye")
        #expect(closed["initiator"] as? String == "remote")
        #expect(closed["messages_in"] as? Int == 1003 && closed["messages_out"] as? Int == 1003, "\(closed)")
        let lines = try String(contentsOfFile: server.log, encoding: .utf8).split(separator: "\n").map { String($0) + "\n" }
        let schema = try await validateWithSchema(lines)
        #expect(schema.status == 0, "\(schema.output)")
    }

    @Test("a browser offering a subprotocol the server does not speak: the handshake carries none, Chromium fails it, the log names the offer")
    func unsupportedSubprotocol() async throws {
        let server = try await ServeProcess([])
        let run = try await runCommand("/usr/bin/env", ["python3", peers + "/browser.py", "ws://127.0.0.1:\(server.port)/",
                                                        "--subprotocol", "chat"], timeout: 120)
        #expect(run.output.contains("WebSocket error before open"), "Chromium refuses a 101 without its subprotocol: \(run.output)")
        #expect(await server.stop() == 0)
        let opened = try #require(server.records("connection_open").first.map(fields))
        #expect(opened["subprotocol"] == nil)
        #expect(opened["subprotocols_offered"] as? String == "chat", "the log says what the browser asked for: \(opened)")
    }
}
