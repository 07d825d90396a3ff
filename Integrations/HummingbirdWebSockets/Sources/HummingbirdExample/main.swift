// A Hummingbird application serving plain HTTP and a WebSocket echo on one port, with
// swift-websockets' connections and JSON log lines (Hummingbird's own logs included):
//
//   swift run HummingbirdExample --port 8080      GET /health → 200 "ok"; ws://127.0.0.1:8080/ws echoes
import ArgumentParser
import Hummingbird
import HummingbirdWebSockets
import Logging
import WebSocketCore
import WebSocketLogging
import WebSockets

@main
struct HummingbirdExample: AsyncParsableCommand {
    @Option(help: "Port to listen on (0: any free port; the log names the one bound).")
    var port = 8080
    @Option(help: "CIDR of a reverse proxy allowed to set the client address (repeatable).")
    var trustedProxy: [String] = []

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535, not \(port)") }
        for range in trustedProxy where CIDR(range) == nil {
            throw ValidationError("--trusted-proxy \(range): not an IP address or CIDR range")
        }
    }

    func run() async throws {
        // One JSON pipeline for the framework's records and ours.
        LoggingSystem.bootstrap({ label, provider in StructuredLogHandler.json(label: label, metadataProvider: provider) },
                                metadataProvider: ConnectionContext.metadataProvider)
        var configuration = ServerConfiguration()
        configuration.trustedProxies = TrustedProxies(ranges: trustedProxy.compactMap(CIDR.init))  // checked by validate()
        var logger = Logger(label: "hummingbird")
        logger.logLevel = .info
        let upgrader = WebSocketHTTPUpgrader(configuration: configuration, shouldUpgrade: WebSocketHTTPUpgrader.paths("/ws")) { ws in
            for try await message in ws.messages { try await ws.send(message) }
        }
        let router = Router()
        router.get("/health") { _, _ in "ok\n" }
        router.webSocketEndpoint("/ws")  // a plain GET /ws gets 426
        let app = Application(router: router, server: .http1WebSockets(upgrader),
                              configuration: .init(address: .hostname("127.0.0.1", port: port)),
                              services: [upgrader], logger: logger)
        try await app.runService()
    }
}
