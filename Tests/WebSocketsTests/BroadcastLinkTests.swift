import Foundation
import Logging
import NIOCore
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

/// A backend that takes nothing (its rooms are not running): what waits to be published piles up.
struct StalledBackend: BroadcastBackend {
    var name: String { "stalled" }
    func publish(_ broadcast: RoomBroadcast) async throws {}
    func run(deliver: @escaping @Sendable (RoomBroadcast) -> Void, health: @escaping @Sendable (BroadcastBackendHealth) -> Void) async throws {}
}

/// The rooms' side of a broadcast backend, as a state machine (no I/O): when it reports down and
/// recovered, what it counts, and which broadcasts it delivers.
@Suite("Broadcast link state")
struct BroadcastLinkTests {
    static func broadcast(_ node: String, _ incarnation: UInt64, _ sequence: UInt64) -> RoomBroadcast {
        RoomBroadcast(node: node, incarnation: incarnation, sequence: sequence, room: "r", message: .text("m"))
    }

    @Test("down once, not-published counted, recovered once with the count and the time down")
    func downAndRecovered() {
        var link = BroadcastLinkState(node: "a", incarnation: 1)
        let t0 = ContinuousClock.now
        #expect(link.healthChanged(.up, at: t0) == .none, "the first up is not a recovery")
        #expect(link.publishFailed("connection refused", at: t0) == .reportDown(reason: "connection refused"))
        #expect(link.healthChanged(.down(reason: "closed"), at: t0) == .none, "one down record per outage")
        #expect(link.publishFailed("not connected", at: t0) == .none)
        #expect(link.publishFailed("not connected", at: t0) == .none)
        #expect(link.healthChanged(.up, at: t0 + .seconds(3)) == .reportRecovered(downFor: 3, notPublished: 3))
        #expect(link.published(at: t0 + .seconds(4)) == .none)
        #expect(link.healthChanged(.down(reason: "closed"), at: t0 + .seconds(5)) == .reportDown(reason: "closed"))
        #expect(link.published(at: t0 + .seconds(6)) == .reportRecovered(downFor: 1, notPublished: 0), "a publish that works is a recovery")
    }

    @Test("a failed publish before the backend was ever up is an outage too")
    func downAtStart() {
        var link = BroadcastLinkState(node: "a", incarnation: 1)
        #expect(link.publishFailed("not connected") == .reportDown(reason: "not connected"))
    }

    @Test("own broadcasts and repeats are not delivered; a gap in a node's sequence is counted; a new run of a node starts afresh")
    func delivery() {
        var link = BroadcastLinkState(node: "a", incarnation: 1)
        #expect(link.received(Self.broadcast("a", 1, 1)) == (false, 0), "own")
        #expect(link.received(Self.broadcast("a", 2, 1)) == (true, 0), "same name, another run: another node")
        #expect(link.received(Self.broadcast("b", 7, 10)) == (true, 0), "first heard: nothing known before")
        #expect(link.received(Self.broadcast("b", 7, 11)) == (true, 0))
        #expect(link.received(Self.broadcast("b", 7, 11)) == (false, 0), "a repeat")
        #expect(link.received(Self.broadcast("b", 7, 9)) == (false, 0), "an old one")
        #expect(link.received(Self.broadcast("b", 7, 16)) == (true, 4), "12 to 15 never came")
        #expect(link.received(Self.broadcast("b", 8, 1)) == (true, 0), "b restarted")
        #expect(link.received(Self.broadcast("b", 8, 2)) == (true, 0))
    }

    @Test("what waits to be published is bounded in bytes (16 MiB): beyond, broadcasts are not queued but counted, with a down record")
    func outboxBoundedInBytes() throws {
        let logs = MemorySink()
        let rooms = WebSocketRooms(backend: StalledBackend(), node: "a",
                                   logger: Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs) })
        let mebibyte = Message.binary(ByteBuffer(repeating: 7, count: 1 << 20))
        for _ in 0..<16 { rooms.broadcast(mebibyte, in: "r") }
        #expect(!logs.lines.contains { $0.contains("broadcast_backend_down") }, "16 MiB wait")
        rooms.broadcast(mebibyte, in: "r")
        let down = try #require(records(logs).first { $0["event"] as? String == "broadcast_backend_down" })
        #expect((down["fields"] as? [String: Any])?["reason"] as? String == "too many broadcast bytes waiting to be published")
        #expect((down["fields"] as? [String: Any])?["node"] as? String == "a")
    }
}
