// Chat rooms with `broadcast`: connect to ws://HOST:PORT/rooms/NAME; every text message is sent
// to everyone in the room. `broadcast` never waits for a slow member: a client whose write buffer
// is full is skipped for that message and the skip is logged at WARNING (`broadcast_skipped`).
//
//   swift run Chat [PORT]      (default 8765)
import Logging
import NIOHTTP1
import ServiceLifecycle
import UnixSignals
import WebSocketCore
import WebSocketLogging
import WebSockets

LoggingSystem.bootstrap({ label, provider in StructuredLogHandler.json(label: label, metadataProvider: provider) },
                        metadataProvider: ConnectionContext.metadataProvider)

let rooms = WebSocketRooms()
let logger = Logger(label: "chat")
let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8765
var configuration = ServerConfiguration()
configuration.connection.maxMessageSize = 64 * 1024
// Answer anything that is not /rooms/NAME with 404 instead of upgrading.
configuration.processRequest = { request, _ in
    let path = request.uri.split(separator: "?").first ?? ""
    return path.hasPrefix("/rooms/") && path.count > 7 ? nil : HTTPResponse(status: .notFound, body: "use /rooms/NAME")
}
let server = try await WebSocketServer.serve(host: "127.0.0.1", port: port, configuration: configuration) { ws in
    let room = String(ws.request.uri.split(separator: "?").first!.dropFirst("/rooms/".count))
    rooms.join(room, ws)
    defer { rooms.leave(room, ws) }
    logger.info("joined", metadata: ["room": "\(room)"])
    for try await message in ws.messages {
        guard case .text(let text) = message else { continue }
        let delivered = rooms.broadcast(.text(text), in: room)
        logger.debug("broadcast", metadata: ["room": "\(room)", "delivered": "\(delivered)"])
    }
}
let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "chat.lifecycle"))
try await group.run()
