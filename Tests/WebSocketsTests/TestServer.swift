import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketLogging
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
    configuration.logger = Logger(label: "websockets.server") { JSONLogHandler(label: $0, sink: logSink, logLevel: level) }
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

/// Parsed JSON log lines.
func records(_ sink: MemorySink) -> [[String: Any]] {
    sink.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

func waitFor(_ condition: () -> Bool, seconds: Double = 5) async {
    for _ in 0..<Int(seconds * 100) where !condition() {
        try? await Task.sleep(for: .milliseconds(10))
    }
}
