// A Hummingbird application serving plain HTTP and WebSocket routes on one port, with
// swift-websockets' connections and JSON log lines (Hummingbird's own logs included):
//
//   swift run HummingbirdExample --port 8080
//     GET /health → 200 "ok"; ws://127.0.0.1:8080/ws echoes;
//     ws://127.0.0.1:8080/rooms/NAME (Authorization: Bearer demo) joins room NAME
//   --tls-cert FILE --tls-key FILE serves https and wss instead.
import ArgumentParser
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSockets
import Logging
import NIOSSL
import WebSocketCore
import WebSocketLogging
import WebSockets

/// The example's request context: the WebSocket route slot, and the user the token middleware found.
struct AppContext: WebSocketRouteContext {
    var coreContext: CoreRequestContextStorage
    let webSocketRoute = WebSocketRouteMatch()
    var user: String?

    init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}

/// Requires `Authorization: Bearer demo` (401 otherwise): the stand-in for real authentication.
struct DemoToken: RouterMiddleware {
    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        guard request.headers[.authorization] == "Bearer demo" else {
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "a bearer token is required")
        }
        var context = context
        context.user = "demo"
        return try await next(request, context)
    }
}

@main
struct HummingbirdExample: AsyncParsableCommand {
    @Option(help: "Port to listen on (0: any free port; the log names the one bound).")
    var port = 8080
    @Option(help: "CIDR of a reverse proxy allowed to set the client address (repeatable).")
    var trustedProxy: [String] = []
    @Option(help: "Seconds between server_stats records, 0 for none (one more at shutdown).")
    var statsInterval = 60.0
    @Option(help: "PEM certificate chain: serve https and wss (with --tls-key).")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535, not \(port)") }
        guard statsInterval == 0 || (0.1...86_400).contains(statsInterval) else {
            throw ValidationError("--stats-interval must be 0 or 0.1 to 86400 seconds, not \(statsInterval)")
        }
        for range in trustedProxy where CIDR(range) == nil {
            throw ValidationError("--trusted-proxy \(range): not an IP address or CIDR range")
        }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    func run() async throws {
        // One JSON pipeline for the framework's records and ours.
        LoggingSystem.bootstrap({ label, provider in StructuredLogHandler.json(label: label, metadataProvider: provider) },
                                metadataProvider: ConnectionContext.metadataProvider)
        var configuration = WebSockets.ServerConfiguration()
        configuration.trustedProxies = TrustedProxies(ranges: trustedProxy.compactMap(CIDR.init))  // checked by validate()
        configuration.statsInterval = statsInterval > 0 ? .milliseconds(Int64(statsInterval * 1000)) : nil
        var logger = Logger(label: "hummingbird")
        logger.logLevel = .info

        let rooms = WebSocketRooms()
        let router = Router(context: AppContext.self)
        router.get("/health") { _, _ in "ok\n" }
        router.ws("/ws") { ws, _ in
            for try await message in ws.messages { try await ws.send(message) }
        }
        router.group("/rooms").add(middleware: DemoToken())
            .ws(":room", configuration: .init(maxMessageSize: 4096)) { ws, context in
                let room = context.parameters.get("room") ?? ""
                rooms.join(room, ws)
                defer { rooms.leave(room, ws) }
                context.logger.info("member joined", metadata: ["room": "\(room)", "user": "\(context.user ?? "-")"])
                try await ws.send("joined \(room)")
                for try await message in ws.messages {
                    if case .text = message { rooms.broadcast(message, in: room) }
                }
            }
        var server = HTTPServerBuilder.http1WebSockets(webSocketRouter: router, configuration: configuration)
        if let tlsCert, let tlsKey { server = try .tls(server, tlsConfiguration: try Self.tls(cert: tlsCert, key: tlsKey)) }
        let app = Application(router: router, server: server,
                              configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        try await app.runService()
    }

    /// The certificate chain and key, or an error naming the file and what is wrong with it.
    static func tls(cert: String, key: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(cert) } catch {
            throw ValidationError("--tls-cert \(cert): not a readable PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ValidationError("--tls-cert \(cert): no certificate in the file") }
        let privateKey: NIOSSLPrivateKey
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw ValidationError("--tls-key \(key): not a readable PEM private key (\(error))")
        }
        return .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    }
}
