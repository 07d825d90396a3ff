// A Vapor application serving plain HTTP and WebSocket routes on one port, with
// swift-websockets' connections and JSON log lines (Vapor's own logs included):
//
//   swift run VaporExample --port 8080
//     GET /health → 200 "ok"; ws://127.0.0.1:8080/ws echoes;
//     ws://127.0.0.1:8080/rooms/NAME (Authorization: Bearer demo) joins room NAME
import ArgumentParser
import Logging
import Vapor
import VaporWebSockets
import WebSocketCore
import WebSocketLogging
import WebSockets

/// Who the token middleware let in.
struct DemoUser: Authenticatable {
    let name: String
}

/// Requires `Authorization: Bearer demo` (401 otherwise): the stand-in for real authentication.
struct DemoToken: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard request.headers.bearerAuthorization?.token == "demo" else {
            throw Abort(.unauthorized, headers: ["WWW-Authenticate": "Bearer"], reason: "a bearer token is required")
        }
        request.auth.login(DemoUser(name: "demo"))
        return try await next.respond(to: request)
    }
}

@main
struct VaporExample: AsyncParsableCommand {
    @ArgumentParser.Option(help: "Port to listen on (0: any free port; the log names the one bound).")
    var port = 8080
    @ArgumentParser.Option(help: "CIDR of a reverse proxy allowed to set the client address (repeatable).")
    var trustedProxy: [String] = []
    @ArgumentParser.Option(help: "Seconds between server_stats records, 0 for none (one more at shutdown).")
    var statsInterval = 60.0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ArgumentParser.ValidationError("--port must be 0 to 65535, not \(port)") }
        guard statsInterval == 0 || (0.1...86_400).contains(statsInterval) else {
            throw ArgumentParser.ValidationError("--stats-interval must be 0 or 0.1 to 86400 seconds, not \(statsInterval)")
        }
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
        app.webSocketConfiguration.trustedProxies = TrustedProxies(ranges: trustedProxy.compactMap(CIDR.init))  // checked by validate()
        app.webSocketConfiguration.statsInterval = statsInterval > 0 ? .milliseconds(Int64(statsInterval * 1000)) : nil

        let rooms = WebSocketRooms()
        app.get("health") { _ in "ok\n" }
        app.webSocket("ws") { _, ws in
            for try await message in ws.messages { try await ws.send(message) }
        }
        app.grouped(DemoToken()).webSocket("rooms", ":room", configuration: .init(maxMessageSize: 4096)) { req, ws in
            let room = req.parameters.get("room") ?? ""
            rooms.join(room, ws)
            defer { rooms.leave(room, ws) }
            req.logger.info("member joined", metadata: ["room": "\(room)", "user": "\(req.auth.get(DemoUser.self)?.name ?? "-")"])
            try await ws.send("joined \(room)")
            for try await message in ws.messages {
                if case .text = message { rooms.broadcast(message, in: room) }
            }
        }
        do {
            try await app.execute()  // until SIGTERM or SIGINT; open WebSockets are closed with 1001
        } catch {
            try await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
    }
}
