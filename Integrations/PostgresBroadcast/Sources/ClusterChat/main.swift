// Chat rooms across server nodes over PostgreSQL: run one process per node, each on its own
// port, all on the same database; a member of /rooms/NAME on any node gets every text message
// sent to NAME on every node (the sender included). JSON lines on stdout, with the node's name.
//
//   swift run ClusterChat --port 8001 --postgres postgres://chat@127.0.0.1:5432/chat --node a
//   swift run ClusterChat --port 8002 --postgres postgres://chat@127.0.0.1:5432/chat --node b
import ArgumentParser
import Logging
import NIOHTTP1
import PostgresBroadcast
import ServiceLifecycle
import UnixSignals
import WebSocketCore
import WebSocketLogging
import WebSockets

@main
struct ClusterChat: AsyncParsableCommand {
    @Option(help: "Port to listen on, on 127.0.0.1 (0: any free port; the log names the one bound).")
    var port = 8001
    @Option(help: "The PostgreSQL database every node shares: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
    var postgres: String
    @Option(help: "This node's name on its records and broadcasts (default HOSTNAME:PID).")
    var node: String?
    @Option(help: "Largest message accepted, in bytes.")
    var maxSize = 1 << 20

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535, not \(port)") }
        do { _ = try PostgresBroadcastBackend.configuration(url: postgres) } catch { throw ValidationError("--postgres \(error)") }
        if let node, node.isEmpty || node.utf8.count > 128 { throw ValidationError("--node must be 1 to 128 bytes") }
    }

    func run() async throws {
        LoggingSystem.bootstrap({ label, provider in StructuredLogHandler.json(label: label, metadataProvider: provider) },
                                metadataProvider: ConnectionContext.metadataProvider)
        var configuration = ServerConfiguration()
        if let node { configuration.node = node }
        configuration.connection.maxMessageSize = maxSize
        var quiet = Logger(label: "postgres")
        quiet.logLevel = .error
        let backend = PostgresBroadcastBackend(configuration: try PostgresBroadcastBackend.configuration(url: postgres), logger: quiet)
        let rooms = WebSocketRooms(backend: backend, node: configuration.node, logger: configuration.logger)
        let server = try await WebSocketServer.serve(host: "127.0.0.1", port: port, configuration: configuration) { ws in
            let path = String(ws.request.uri.prefix { $0 != "?" })
            guard path.hasPrefix("/rooms/"), path.count > 7 else {
                await ws.close(code: .policyViolation, reason: "join a room: /rooms/NAME")
                return
            }
            let room = String(path.dropFirst(7))
            rooms.join(room, ws)
            defer { rooms.leave(room, ws) }
            try await ws.send("joined \(room)")
            for try await message in ws.messages {
                if case .text = message { rooms.broadcast(message, in: room) }
            }
        }
        var groupLogger = Logger(label: "cluster-chat")
        groupLogger.logLevel = .error
        let group = ServiceGroup(configuration: .init(services: [.init(service: server), .init(service: rooms)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: groupLogger))
        try await group.run()
    }
}
