// Configuring the log chain in code: formats, levels per event, an enricher that copies a request
// header (Python's LoggerAdapter recipe, done safely), filters, DEBUG frame sampling, the null
// sink, and the application's own logs in the same format.
//
//   swift run LoggingConfiguration
//
// It starts a server and a client in this process, exchanges ten messages, closes, and exits;
// stdout shows the JSON lines of the server and the application and the plain lines of the client.
import Logging
import NIOHTTP1
import WebSocketCore
import WebSocketLogging
import WebSockets

// 1. The application's own logs: JSON on stdout. Inside a connection handler they carry the
//    connection's id and client address (the metadata provider reads a task local).
LoggingSystem.bootstrap({ label, provider in StructuredLogHandler.json(label: label, metadataProvider: provider) },
                        metadataProvider: ConnectionContext.metadataProvider)
let app = Logger(label: "app")

// 2. The server's chain: enrichers → filters → JSON formatter → stdout.
let serverPipeline = LogPipeline(
    formatter: JSONFormatter(maxLineLength: 8192),
    sink: StreamSink.standardOutput,
    enrichers: [
        // `X-Tenant` → metadata.tenant. A missing header adds nothing, a repeated one is joined,
        // a long one is cut: never an exception in the logging path.
        .requestHeader("X-Tenant", as: "tenant", maxLength: 64),
        .constant(["service": "logging-demo"]),
    ],
    filters: [
        .firstFrames(perConnection: 4),                                   // DEBUG sampling
        .excludingEvents([.handshakeRequest, .handshakeResponse]),    // drop what you never read
        LogFilter { record in !record.message.contains("healthcheck") },  // any predicate
    ])
var serverConfiguration = ServerConfiguration()
serverConfiguration.logger = Logger(label: "websockets.server") {
    StructuredLogHandler(label: $0, pipeline: serverPipeline, logLevel: .debug)
}

// 3. Levels per event: connection_open at NOTICE, state changes at TRACE (so hidden at DEBUG).
serverConfiguration.eventLevels[.connectionOpen] = .notice
serverConfiguration.eventLevels[.stateChanged] = .trace

// 4. The client logs in the plain format, at INFO.
var clientConfiguration = ClientConfiguration(additionalHeaders: ["X-Tenant": "acme"])
clientConfiguration.logger = Logger(label: "websockets.client") { StructuredLogHandler.plain(label: $0, sink: StreamSink.standardOutput) }

// 5. A server whose records go nowhere: the null sink.
var quietConfiguration = ServerConfiguration()
quietConfiguration.logger = Logger(label: "websockets.server") {
    StructuredLogHandler(label: $0, pipeline: LogPipeline(formatter: JSONFormatter(), sink: NullSink()))
}

let echo: @Sendable (WebSocket) async throws -> Void = { ws in
    app.info("echoing", metadata: ["path": "\(ws.request.uri)"])   // tagged with the connection
    for try await message in ws.messages { try await ws.send(message) }
}
let server = try await WebSocketServer.serve(port: 0, configuration: serverConfiguration, handler: echo)
let quiet = try await WebSocketServer.serve(port: 0, configuration: quietConfiguration, handler: echo)

for target in [server, quiet] {
    let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(target.port)/demo", configuration: clientConfiguration)
    var replies = ws.messages.makeAsyncIterator()
    var echoed = 0
    for i in 1...10 {
        try await ws.send("message \(i)")
        if case .text(let reply)? = try await replies.next(), reply == "message \(i)" { echoed += 1 }
    }
    await ws.close()
    app.info("exchanged", metadata: ["echoed": "\(echoed)", "port": "\(target.port)"])
}
await server.shutdown()
await quiet.shutdown()
StreamSink.standardOutput.flush()
