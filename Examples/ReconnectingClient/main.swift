// A client that survives server restarts: `WebSocketClient.connections(to:)` yields a new open
// connection each time the previous one closed, retrying failed attempts with exponential
// backoff and jitter; each retry is an INFO `client_reconnecting` record.
//
//   swift run ReconnectingClient [URL] [CONNECTIONS]    (defaults: ws://127.0.0.1:8765/ and 3)
// Logs go to stderr as JSON; what the server echoes goes to stdout.
import Foundation
import Logging
import WebSocketCore
import WebSocketLogging
import WebSockets

LoggingSystem.bootstrap({ label, provider in StructuredLogHandler.json(label: label, sink: StreamSink.standardError, metadataProvider: provider) },
                        metadataProvider: ConnectionContext.metadataProvider)

let arguments = CommandLine.arguments.dropFirst()
let url = arguments.first ?? "ws://127.0.0.1:8765/"
let wanted = arguments.dropFirst().first.flatMap { Int($0) } ?? 3

var configuration = ClientConfiguration()
// Python websockets' defaults wait up to 5 s before the first retry, then 3.1 s × 1.618ⁿ up to
// 90 s; a demo wants quicker retries. Give up after 20 failed attempts in a row.
configuration.reconnect = ReconnectPolicy(initialDelay: 0.5, minDelay: 0.5, factor: 1.618, maxDelay: 5, maxAttempts: 20)

var count = 0
for try await ws in WebSocketClient.connections(to: url, configuration: configuration) {
    count += 1
    try await ws.send("hello from connection \(count)")
    do {
        for try await message in ws.messages {
            if case .text(let text) = message { print("echo: \(text)") }
            fflush(nil)
            if count == wanted { await ws.close() }   // the last one: say goodbye ourselves
        }
    } catch is ConnectionClosed {
        // Closed abnormally (the server crashed, the network dropped): reconnect all the same.
    }
    // The server went away (restart, deploy, crash): the loop reconnects.
    print("closed with \(ws.closeCode.map { "\($0.rawValue)" } ?? "no code"); \(count) of \(wanted) connections done")
    fflush(nil)
    if count == wanted { break }
}
StreamSink.standardError.flush()
