// A Vapor application serving plain HTTP and a WebSocket echo on one port, with
// swift-websockets' connections and JSON log lines (Vapor's own logs included):
//
//   swift run VaporExample --port 8080      GET /health → 200 "ok"; ws://127.0.0.1:8080/ws echoes
import ArgumentParser
import Logging
import Vapor
import VaporWebSockets
import WebSocketCore
import WebSocketLogging
import WebSockets

@main
struct VaporExample: AsyncParsableCommand {
    @ArgumentParser.Option(help: "Port to listen on (0: any free port; the log names the one bound).")
    var port = 8080
    @ArgumentParser.Option(help: "CIDR of a reverse proxy allowed to set the client address (repeatable).")
    var trustedProxy: [String] = []

    func validate() throws {
        guard (0...65535).contains(port) else { throw ArgumentParser.ValidationError("--port must be 0 to 65535, not \(port)") }
        for range in trustedProxy where CIDR(range) == nil {
            throw ArgumentParser.ValidationError("--trusted-proxy \(range): not an IP address or CIDR range")
        }
    }

    func run() async throws {
        // One JSON pipeline for the framework's records and ours.
        LoggingSystem.bootstrap({ label, provider in StructuredLogHandler.json(label: label, metadataProvider: provider) },
                                metadataProvider: ConnectionContext.metadataProvider)
        // Vapor's own command line is not used: these options are the example's.
        let app = try await Application.make(Environment(name: "production", arguments: ["VaporExample"]))
        app.http.server.configuration.hostname = "127.0.0.1"
        app.http.server.configuration.port = port

        var configuration = ServerConfiguration()
        configuration.trustedProxies = TrustedProxies(ranges: trustedProxy.compactMap(CIDR.init))  // checked by validate()
        let upgrader = WebSocketHTTPUpgrader(configuration: configuration) { ws in
            for try await message in ws.messages { try await ws.send(message) }
        }
        app.get("health") { _ in "ok\n" }
        app.webSocket("ws", upgrader: upgrader)
        do {
            try await app.execute()  // until SIGTERM or SIGINT; open WebSockets are closed with 1001
        } catch {
            try await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
    }
}
