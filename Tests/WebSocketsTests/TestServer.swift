import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

struct HandlerFailure: Error, CustomStringConvertible {
    var description: String { "the handler gave up" }
}

/// A server on a free port with routes for the tests:
/// `/echo` echoes; `/close/CODE` closes with CODE after one message; `/throw` throws;
/// `/forbidden` is refused with 403 and `/health` answered 200 by `processRequest`.
func startTestServer(logSink: MemorySink = MemorySink(), level: Logger.Level = .info,
                     configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> WebSocketServer {
    var configuration = ServerConfiguration()
    configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logSink, logLevel: level) }
    configuration.logger.logLevel = level
    configuration.handshake.subprotocols = ["chat"]
    configuration.connection.maxMessageSize = 8 << 20
    configuration.processRequest = { request, _ in
        switch request.uri {
        case "/forbidden": HTTPResponse(status: .forbidden, body: "no entry")
        case "/health": HTTPResponse(status: .ok, body: "healthy")
        default: nil
        }
    }
    configure(&configuration)
    return try await WebSocketServer.serve(host: "127.0.0.1", port: 0, configuration: configuration) { ws in
        let path = ws.request.uri
        if path.hasPrefix("/close/"), let code = UInt16(path.dropFirst(7)) {
            for try await _ in ws.messages { break }
            await ws.close(code: CloseCode(code), reason: "server says bye")
            return
        }
        if path == "/throw" { throw HandlerFailure() }
        for try await message in ws.messages { try await ws.send(message) }
    }
}

/// The next message of `ws`, within `seconds` (a hang fails the test, naming `step`).
/// `ws.messages` can be iterated once: one call per connection.
func nextMessage(_ ws: WebSocket, _ step: String, seconds: Double = 10) async throws -> Message? {
    try await bounded(seconds, step) {
        var it = ws.messages.makeAsyncIterator()
        return try await it.next()
    }
}

/// A handler or callback that threw `HandlerFailure`: the peer sees 1011 without a reason (the
/// error is never sent), and the server logs `handler_failed` at ERROR with the error's text.
func expectHandlerFailure(_ ws: WebSocket, logs: MemorySink) async throws {
    try await bounded(10, "1011") { await ws.waitUntilClosed() }
    #expect(ws.closeCode == .internalError)
    #expect(ws.closeReason == "")
    await waitFor { records(logs).contains { $0["event"] as? String == "handler_failed" } }
    let failed = try #require(records(logs).first { $0["event"] as? String == "handler_failed" })
    #expect(failed["level"] as? String == "error")
    #expect((failed["event_data"] as? [String: Any])?["error_message"] as? String == "the handler gave up")
}

/// Parsed JSON log lines.
func records(_ sink: MemorySink) -> [[String: Any]] {
    sink.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

func waitFor(_ condition: () -> Bool, seconds: Double = 5) async {
    for _ in 0..<Int(seconds * 100) where !condition() {
        try? await Task.sleep(for: .milliseconds(10))
    }
}

/// A script of `Tests/Peers` running as a child process, its output in `log`.
struct PythonPeer {
    let process: ChildProcess
    let log: String
    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
}

/// Starts `python3 Tests/Peers/<script> <arguments>` (with `environment` assignments such as
/// `COMPRESSION=deflate`) and waits, at most 15 s, until it prints "listening".
func startPythonPeer(_ script: String, _ arguments: [String], environment: [String] = []) async throws -> PythonPeer {
    let log = NSTemporaryDirectory() + "ws-\(script)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
    let process = try ChildProcess("/usr/bin/env", environment + ["python3", peers + "/" + script] + arguments, output: log)
    let peer = PythonPeer(process: process, log: log)
    await waitFor({ peer.output.contains("listening") }, seconds: 15)
    return peer
}
