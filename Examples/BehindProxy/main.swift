// A server behind a reverse proxy (see nginx.conf): the client address in the logs and in
// `ws.clientAddress` comes from X-Forwarded-For, but only when the connection comes from a
// trusted proxy — never from what a client wrote itself.
//
//   swift run BehindProxy [PORT] [TRUSTED-CIDR ...]    (defaults: 8765 127.0.0.1/32)
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals
import WebSocketCore
import WebSocketLogging
import WebSockets

LoggingSystem.bootstrap({ label, provider in StructuredLogHandler.json(label: label, metadataProvider: provider) },
                        metadataProvider: ConnectionContext.metadataProvider)

let arguments = CommandLine.arguments.dropFirst()
let port = arguments.first.flatMap { Int($0) } ?? 8765
let trusted = arguments.count > 1 ? Array(arguments.dropFirst()) : ["127.0.0.1/32"]

var configuration = ServerConfiguration()
configuration.trustedProxies = TrustedProxies(ranges: trusted.map { text in
    guard let range = CIDR(text) else { fatalError("not an address or CIDR range: \(text)") }
    return range
})
let server = try await WebSocketServer.serve(host: "127.0.0.1", port: port, configuration: configuration) { ws in
    // clientAddress: the client as the trusted proxy saw it; remoteAddress: the socket peer (the proxy).
    try await ws.send("you are \(ws.clientAddress ?? "unknown"), via \(ws.remoteAddress?.ipAddress ?? "?")")
    for try await message in ws.messages { try await ws.send(message) }
}
let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "proxy-demo"))
try await group.run()
