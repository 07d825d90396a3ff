// The minimal server: echo every message back, log every connection as one JSON line on stdout.
//   swift run EchoServer [PORT]      (default 8765; SIGINT/SIGTERM close connections with 1001)
import Logging
import ServiceLifecycle
import UnixSignals
import WebSocketLogging
import WebSockets

// Every Logger in the process — the library's and yours — writes JSON lines to stdout; records
// logged inside a connection handler carry that connection's id and client address.
LoggingSystem.bootstrap({ label, provider in StructuredLogHandler.json(label: label, metadataProvider: provider) },
                        metadataProvider: ConnectionContext.metadataProvider)

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8765
let server = try await WebSocketServer.serve(host: "127.0.0.1", port: port) { ws in
    for try await message in ws.messages {
        try await ws.send(message)
    }
}
let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "echo"))
try await group.run()
