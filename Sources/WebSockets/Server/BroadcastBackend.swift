import WebSocketCore

/// What carries room broadcasts between server nodes, so that the members of one room may be
/// connected to different servers (``WebSocketRooms/init(backend:node:logger:)``). The
/// PostgreSQL one is `PostgresBroadcastBackend` (package `Integrations/PostgresBroadcast`).
///
/// The rooms publish one broadcast at a time, in order, and deliver what ``run(deliver:health:)``
/// hands them; they skip their own broadcasts (their members got them at once), drop
/// duplicates, and count what is lost: broadcasts that could not be published
/// (`broadcast_backend_recovered`) and gaps in another node's sequence numbers
/// (`broadcast_messages_missed`).
public protocol BroadcastBackend: Sendable {
    /// A short name for the records (`postgres`).
    var name: String { get }
    /// Sends `broadcast` to every node. Throws when it could not: the rooms count it.
    func publish(_ broadcast: RoomBroadcast) async throws
    /// Runs until cancelled: calls `deliver` with every broadcast any node published (this
    /// one's included), in the order each node published them, and `health` each time the
    /// backend goes down or comes back up (first `.up` once it is ready).
    func run(deliver: @escaping @Sendable (RoomBroadcast) -> Void,
             health: @escaping @Sendable (BroadcastBackendHealth) -> Void) async throws
}

/// Whether a ``BroadcastBackend`` can carry broadcasts now.
public enum BroadcastBackendHealth: Sendable, Hashable {
    /// Ready: publishing and receiving.
    case up
    /// Not reachable, with the reason in words.
    case down(reason: String)
}

/// A room's message on its way between nodes.
public struct RoomBroadcast: Sendable, Hashable {
    /// The node that sent it (``ServerConfiguration/node``).
    public var node: String
    /// Which run of that node (random per ``WebSocketRooms``): a node restarted under the same
    /// name starts its sequence again.
    public var incarnation: UInt64
    /// 1, 2, 3… per node and incarnation, one per broadcast, those that could not be
    /// published included: a receiver sees a loss as a gap.
    public var sequence: UInt64
    /// The room.
    public var room: String
    /// The message.
    public var message: Message

    /// Creates the broadcast; each parameter sets the property of the same name.
    public init(node: String, incarnation: UInt64, sequence: UInt64, room: String, message: Message) {
        self.node = node
        self.incarnation = incarnation
        self.sequence = sequence
        self.room = room
        self.message = message
    }
}

/// The rooms' side of a backend, as a state machine: whether it is up, what could not be
/// published while down, and the last sequence number seen from each node.
struct BroadcastLinkState {
    enum Health {
        /// Not yet up: a failed publish before the first `.up` is an outage like any other.
        case starting
        case up
        case down(since: ContinuousClock.Instant, notPublished: Int)
    }

    /// What the I/O side does after a transition.
    enum Action: Equatable {
        case none
        case reportDown(reason: String)
        case reportRecovered(downFor: Double, notPublished: Int)
    }

    private(set) var health = Health.starting
    private var lastSeen: [String: (incarnation: UInt64, sequence: UInt64)] = [:]
    let node: String
    let incarnation: UInt64

    init(node: String, incarnation: UInt64) {
        self.node = node
        self.incarnation = incarnation
    }

    /// The backend said it is `now` up or down.
    mutating func healthChanged(_ new: BroadcastBackendHealth, at now: ContinuousClock.Instant = .now) -> Action {
        switch (health, new) {
        case (.starting, .up), (.up, .up):
            health = .up
            return .none
        case (.down(let since, let notPublished), .up):
            health = .up
            return .reportRecovered(downFor: Self.seconds(now - since), notPublished: notPublished)
        case (.down, .down):
            return .none
        case (.starting, .down(let reason)), (.up, .down(let reason)):
            health = .down(since: now, notPublished: 0)
            return .reportDown(reason: reason)
        }
    }

    /// A broadcast could not be published (`reason`): counted, and the backend is down if it was not.
    mutating func publishFailed(_ reason: String, at now: ContinuousClock.Instant = .now) -> Action {
        switch health {
        case .down(let since, let notPublished):
            health = .down(since: since, notPublished: notPublished + 1)
            return .none
        case .starting, .up:
            health = .down(since: now, notPublished: 1)
            return .reportDown(reason: reason)
        }
    }

    /// A broadcast was published: a backend that was down is up again.
    mutating func published(at now: ContinuousClock.Instant = .now) -> Action {
        healthChanged(.up, at: now)
    }

    /// Whether to deliver `broadcast` to this node's members, and how many broadcasts of its
    /// sender never arrived before it. Own broadcasts and repeats are not delivered.
    mutating func received(_ broadcast: RoomBroadcast) -> (deliver: Bool, missed: UInt64) {
        if broadcast.node == node && broadcast.incarnation == incarnation { return (false, 0) }
        guard let last = lastSeen[broadcast.node], last.incarnation == broadcast.incarnation else {
            lastSeen[broadcast.node] = (broadcast.incarnation, broadcast.sequence)  // a node (or run) not heard from before
            return (true, 0)
        }
        guard broadcast.sequence > last.sequence else { return (false, 0) }
        lastSeen[broadcast.node] = (broadcast.incarnation, broadcast.sequence)
        return (true, broadcast.sequence - last.sequence - 1)
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
