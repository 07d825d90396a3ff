import Foundation
import Synchronization
import Testing
import WebSocketCore
import WebSocketTestSupport
import WebSockets

/// A member of a room on one node: a real client of a real `ClusterChat` process, keeping every
/// text message it receives after its `joined ROOM`.
final class Member: Sendable {
    let ws: WebSocket
    let node: String
    private let inbox = Inbox()
    private let reader: Task<Void, Never>

    final class Inbox: Sendable {
        let received = Mutex<[String]>([])
    }

    init(_ app: MountedApp, node: String, room: String) async throws {
        ws = try await bounded(10, "join \(room) on \(node)") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(app.port)/rooms/\(room)") }
        self.node = node
        let ws = ws, inbox = inbox
        reader = Task {
            do {
                for try await message in ws.messages {
                    if case .text(let text) = message, !text.hasPrefix("joined ") { inbox.received.withLock { $0.append(text) } }
                }
            } catch {}
        }
    }

    var messages: [String] { inbox.received.withLock { $0 } }

    func close() async {
        await ws.close()
        reader.cancel()
    }
}

/// Waits (bounded) until `condition` holds; the condition's failure message otherwise.
func eventually(_ seconds: Double, _ what: String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        try #require(ContinuousClock.now < deadline, "\(what) within \(seconds) s")
        try await Task.sleep(for: .milliseconds(50))
    }
}

/// Three `ClusterChat` nodes on one PostgreSQL, started as users start them.
struct Cluster {
    let postgres: PostgresServer
    let nodes: [String: MountedApp]

    static func start() async throws -> Cluster {
        let postgres = try await PostgresServer()
        var nodes: [String: MountedApp] = [:]
        for name in ["a", "b", "c"] {
            nodes[name] = try await MountedApp("ClusterChat", ["--postgres", postgres.url, "--node", name])
        }
        let cluster = Cluster(postgres: postgres, nodes: nodes)
        try await cluster.waitUntilListening()
        return cluster
    }

    /// Every node hears every other: probes in a room of their own until each arrived everywhere
    /// (a broadcast sent before a node listens would be lost to it, and not counted).
    func waitUntilListening() async throws {
        var probes: [Member] = []
        for (name, app) in nodes.sorted(by: { $0.key < $1.key }) { probes.append(try await Member(app, node: name, room: "probe")) }
        for _ in 0..<100 where !probes.allSatisfy({ Set($0.messages).count == 3 }) {  // at most 20 s
            for probe in probes { try await probe.ws.send(.text("probe from \(probe.node)")) }
            try await Task.sleep(for: .milliseconds(200))
        }
        try #require(probes.allSatisfy { Set($0.messages).count == 3 }, "every node hears the others")
        for probe in probes { await probe.close() }
    }

    func records(_ node: String, _ event: String) -> [[String: Any]] {
        nodes[node]!.records(event).compactMap { ($0["fields"] ?? $0["event_data"]) as? [String: Any] }
    }

    func stop() async {
        for app in nodes.values { _ = await app.terminate() }
        await postgres.remove()
    }
}

@Suite("Rooms across three nodes on a real PostgreSQL", .serialized, .timeLimit(.minutes(3)))
struct ClusterTests {
    @Test("every message reaches every member of its room exactly once, each sender's in order, none another room; 20 KB through the table; every record names its node, schema-valid")
    func threeNodes() async throws {
        let cluster = try await Cluster.start()
        var lobby: [Member] = []
        for name in ["a", "b", "c"] {
            for _ in 0..<2 { lobby.append(try await Member(cluster.nodes[name]!, node: name, room: "lobby")) }
        }
        let other = try await Member(cluster.nodes["b"]!, node: "b", room: "other")
        let perSender = 20
        let big = String(repeating: "0123456789abcdef", count: 1_280)  // 20,480 bytes: above NOTIFY's 8,000
        await withTaskGroup(of: Void.self) { group in
            for (index, member) in lobby.enumerated() {
                group.addTask {
                    for i in 0..<perSender { try? await member.ws.send(.text("m \(index) \(i)")) }
                    if index == 0 { try? await member.ws.send(.text(big)) }
                }
            }
        }
        let expected = lobby.count * perSender + 1
        try await eventually(30, "\(expected) messages at every member") { lobby.allSatisfy { $0.messages.count >= expected } }
        try await Task.sleep(for: .milliseconds(300))  // anything extra (a duplicate) would arrive by now
        for member in lobby {
            let got = member.messages
            #expect(got.count == expected, "node \(member.node): \(got.count) messages")
            #expect(got.filter { $0 == big }.count == 1, "the 20 KB message once, intact, at a member on \(member.node)")
            for sender in lobby.indices {
                let numbers = got.filter { $0.hasPrefix("m \(sender) ") }.compactMap { Int($0.split(separator: " ")[2]) }
                #expect(numbers == Array(0..<perSender), "sender \(sender) at a member on \(member.node): \(numbers)")
            }
        }
        #expect(other.messages.isEmpty, "another room: \(other.messages.prefix(3))")
        for member in lobby + [other] { await member.close() }
        await cluster.stop()
        for (name, app) in cluster.nodes {
            let records = app.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(!records.isEmpty)
            for record in records {
                let fields = (record["event_data"] ?? record["fields"]) as? [String: Any]
                if record["event"] as? String != "log" { #expect(fields?["node"] as? String == name, "\(record)") }
            }
            #expect(cluster.records(name, "broadcast_backend_down").isEmpty, "no outage on \(name)")
            try await app.expectSchemaValid()
        }
    }

    @Test("PostgreSQL stopped and started mid-run: down and recovered on every node, what was not published equals what the other nodes' members missed and what they counted missing; delivery resumes without a restart")
    func outage() async throws {
        let cluster = try await Cluster.start()
        var members: [String: [Member]] = [:]
        for name in ["a", "b", "c"] {
            members[name] = [try await Member(cluster.nodes[name]!, node: name, room: "lobby"),
                             try await Member(cluster.nodes[name]!, node: name, room: "lobby")]
        }
        try await cluster.postgres.stop()
        for name in ["a", "b", "c"] {
            try await eventually(15, "broadcast_backend_down on \(name)") { !cluster.records(name, "broadcast_backend_down").isEmpty }
        }
        let during = ["a": 3, "b": 2, "c": 0]
        for (name, count) in during {
            for i in 0..<count { try await members[name]![0].ws.send(.text("during \(name) \(i)")) }
        }
        // This node's members get them at once; the others' cannot.
        try await eventually(10, "local delivery during the outage") {
            during.allSatisfy { name, count in members[name]!.allSatisfy { $0.messages.count == count } }
        }
        try await cluster.postgres.start()
        for name in ["a", "b", "c"] {
            try await eventually(30, "broadcast_backend_recovered on \(name)") { !cluster.records(name, "broadcast_backend_recovered").isEmpty }
        }
        for name in ["a", "b", "c"] { try await members[name]![1].ws.send(.text("after \(name)")) }
        let all = members.values.flatMap { $0 }
        try await eventually(30, "delivery resumes: every after message everywhere") {
            all.allSatisfy { member in ["a", "b", "c"].allSatisfy { member.messages.contains("after \($0)") } }
        }
        for (name, count) in during {
            let recovered = try #require(cluster.records(name, "broadcast_backend_recovered").first)
            #expect(recovered["not_published"] as? Int == count, "\(name): \(recovered)")
            #expect((recovered["down_for"] as? Double ?? 0) > 0)
        }
        for (name, nodeMembers) in members {
            let missedFrom = Dictionary(grouping: cluster.records(name, "broadcast_messages_missed"), by: { $0["from_node"] as? String ?? "" })
                .mapValues { $0.reduce(0) { $0 + ($1["missed"] as? Int ?? 0) } }
            for (sender, count) in during where sender != name {
                #expect((missedFrom[sender] ?? 0) == count, "node \(name) counted \(missedFrom[sender] ?? 0) missing from \(sender)")
                for member in nodeMembers {
                    let got = member.messages.filter { $0.hasPrefix("during \(sender) ") }.count
                    #expect(got == 0 && count - got == (missedFrom[sender] ?? 0), "what a member on \(name) missed from \(sender) is what \(name) counted")
                }
            }
            #expect(missedFrom[name] == nil)
        }
        for member in all { await member.close() }
        await cluster.stop()
        for app in cluster.nodes.values { try await app.expectSchemaValid() }
    }
}
