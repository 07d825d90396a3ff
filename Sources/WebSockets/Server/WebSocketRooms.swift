import Logging
import ServiceLifecycle
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
///
/// With a ``BroadcastBackend`` (``init(backend:node:logger:)``) a room spans server nodes: a
/// broadcast reaches this node's members at once, as without one, and the others' through the
/// backend, in the order each node sent them. Run the rooms as a service beside the server
/// (``run()``).
public final class WebSocketRooms: Service, Sendable {
    private let table = Mutex<[String: [ConnectionID: WebSocket]]>([:])
    private let link: Link?

    /// Rooms of this process only.
    public init() { link = nil }

    /// Rooms across the nodes that share `backend`. `node` names this one (its records and its
    /// broadcasts; the server's ``ServerConfiguration/node``); `logger` gets the backend's
    /// records (`broadcast_backend_down`, `broadcast_backend_recovered`, `broadcast_messages_missed`).
    public init(backend: some BroadcastBackend, node: String = ServerConfiguration.defaultNode,
                logger: Logger = Logger(label: "websockets.server")) {
        link = Link(backend: backend, node: node, logger: logger)
    }

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

    /// The members of `room` on this node now.
    public func members(of room: String) -> [WebSocket] {
        table.withLock { Array(($0[room] ?? [:]).values) }
    }

    /// Sends `message` to every member of `room` (the sender included, if a member): this
    /// node's at once, the other nodes' through the backend, if there is one.
    /// - Returns: how many members of this node the message was queued for.
    @discardableResult
    public func broadcast(_ message: Message, in room: String, logger: Logger? = nil) -> Int {
        link?.publish(message, in: room)
        return WebSockets.broadcast(message, to: members(of: room), logger: logger)
    }

    /// Carries broadcasts to and from the other nodes until graceful shutdown or cancellation;
    /// without a backend, only waits for either.
    public func run() async throws {
        guard let link else {
            try? await gracefulShutdown()
            return
        }
        try await cancelWhenGracefulShutdown {
            try await link.run { broadcast in
                WebSockets.broadcast(broadcast.message, to: self.members(of: broadcast.room), logger: link.logger)
            }
        }
    }

    /// The backend's side of the rooms: this node's broadcasts in order into the backend, the
    /// others' out of it, and the records of what went wrong.
    final class Link: Sendable {
        let backend: any BroadcastBackend
        let logger: Logger
        private let node: String
        private let incarnation = UInt64.random(in: 1...UInt64.max)
        private let log: WebSocketEventLogger
        private let state: Mutex<BroadcastLinkState>
        private let sequence = Atomic<UInt64>(0)
        /// Payload bytes of the broadcasts waiting to be published.
        private let waitingBytes = Atomic<Int>(0)
        private let outbox: AsyncStream<RoomBroadcast>
        private let inbox: AsyncStream<RoomBroadcast>.Continuation
        /// Broadcasts, and their payload bytes, waiting to be published at most; more while the
        /// backend is slow or not running are not published (counted), so memory stays bounded.
        static let outboxLimit = 10_000
        static let outboxBytes = 16 << 20

        init(backend: some BroadcastBackend, node: String, logger: Logger) {
            self.backend = backend
            self.logger = logger
            var log = WebSocketEventLogger(logger: logger)
            log.node = node
            self.log = log
            self.node = node
            state = Mutex(BroadcastLinkState(node: node, incarnation: incarnation))
            (outbox, inbox) = AsyncStream.makeStream(of: RoomBroadcast.self, bufferingPolicy: .bufferingOldest(Self.outboxLimit))
        }

        func publish(_ message: Message, in room: String) {
            let broadcast = RoomBroadcast(node: node, incarnation: incarnation, sequence: sequence.add(1, ordering: .relaxed).newValue,
                                          room: room, message: message)
            let size = message.payloadSize
            guard waitingBytes.add(size, ordering: .relaxed).newValue <= Self.outboxBytes else {
                waitingBytes.subtract(size, ordering: .relaxed)
                return act(state.withLock { $0.publishFailed("too many broadcast bytes waiting to be published") })
            }
            if case .dropped = inbox.yield(broadcast) {
                waitingBytes.subtract(size, ordering: .relaxed)
                act(state.withLock { $0.publishFailed("too many broadcasts waiting to be published") })
            }
        }

        func run(deliver: @escaping @Sendable (RoomBroadcast) -> Void) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await self.backend.run(deliver: { broadcast in
                        let (accepted, missed) = self.state.withLock { $0.received(broadcast) }
                        if missed > 0 {
                            self.log.emit(.broadcastMessagesMissed(backend: self.backend.name, fromNode: broadcast.node, missed: Int(missed)))
                        }
                        if accepted { deliver(broadcast) }
                    }, health: { health in
                        self.act(self.state.withLock { $0.healthChanged(health) })
                    })
                }
                group.addTask {
                    for await broadcast in self.outbox {  // one at a time: each node's order is kept
                        defer { self.waitingBytes.subtract(broadcast.message.payloadSize, ordering: .relaxed) }
                        do {
                            try await self.backend.publish(broadcast)
                            self.act(self.state.withLock { $0.published() })
                        } catch {
                            self.act(self.state.withLock { $0.publishFailed("\(error)") })
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }

        private func act(_ action: BroadcastLinkState.Action) {
            switch action {
            case .none: break
            case .reportDown(let reason): log.emit(.broadcastBackendDown(backend: backend.name, reason: reason))
            case .reportRecovered(let downFor, let notPublished):
                log.emit(.broadcastBackendRecovered(backend: backend.name, downFor: downFor, notPublished: notPublished))
            }
        }
    }
}
