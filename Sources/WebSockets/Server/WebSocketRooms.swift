import Logging
import Synchronization
import WebSocketCore
import WebSocketLogging

/// Named groups of open connections ("rooms"), for chat-like fan-out: a handler joins its
/// connection to a room, and ``broadcast(_:in:logger:)`` sends to every member at once, with
/// the guarantees of ``broadcast(_:to:logger:)`` (never waits for a slow member; a skip is
/// logged at WARNING). Handlers run concurrently: the table is behind a lock.
///
/// ```swift
/// rooms.join(room, ws)
/// defer { rooms.leave(room, ws) }
/// for try await message in ws.messages { rooms.broadcast(message, in: room) }
/// ```
public final class WebSocketRooms: Sendable {
    private let table = Mutex<[String: [ConnectionID: WebSocket]]>([:])

    /// No rooms yet.
    public init() {}

    /// `ws` becomes a member of `room`.
    public func join(_ room: String, _ ws: WebSocket) {
        table.withLock { $0[room, default: [:]][ws.id] = ws }
    }

    /// `ws` leaves `room` (the room goes when its last member leaves).
    public func leave(_ room: String, _ ws: WebSocket) {
        table.withLock { rooms in
            rooms[room]?[ws.id] = nil
            if rooms[room]?.isEmpty == true { rooms[room] = nil }
        }
    }

    /// The members of `room` now.
    public func members(of room: String) -> [WebSocket] {
        table.withLock { Array(($0[room] ?? [:]).values) }
    }

    /// Sends `message` to every member of `room` (the sender included, if a member).
    /// - Returns: how many members the message was queued for.
    @discardableResult
    public func broadcast(_ message: Message, in room: String, logger: Logger? = nil) -> Int {
        WebSockets.broadcast(message, to: members(of: room), logger: logger)
    }
}
