import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import WebSocketCore
import WebSockets

/// Rooms across server nodes over PostgreSQL: a broadcast is a `NOTIFY` on one channel, and each
/// node `LISTEN`s on it over one connection of its own (the same connection publishes, one
/// broadcast at a time, so each node's order is the order its members see).
///
/// ```swift
/// let backend = try PostgresBroadcastBackend(url: "postgres://chat@127.0.0.1:5432/chat")
/// let rooms = WebSocketRooms(backend: backend, node: configuration.node)
/// // run `rooms` beside the server: ServiceGroup(services: [server, rooms], …)
/// ```
///
/// - A node receives its own notifications and the rooms skip them (its members got the message
///   at once); repeats are dropped, so every member gets a message exactly once.
/// - PostgreSQL limits a notification to 8,000 bytes: a larger broadcast is stored as a row of
///   `websockets_broadcast` (made if missing) whose id is notified; receivers read it, and rows
///   older than a minute are deleted. Messages up to the server's `maxMessageSize` go through.
/// - When the connection fails the backend reports itself down, reconnects with backoff (0.1 s
///   doubling to 2 s), `LISTEN`s again and reports itself up; broadcasts meanwhile fail at once
///   (the rooms count them: `broadcast_backend_recovered`'s `not_published`), and notifications
///   sent while a node was not listening are lost to it (counted by the receivers as gaps:
///   `broadcast_messages_missed`).
public final class PostgresBroadcastBackend: BroadcastBackend {
    /// `postgres`.
    public let name = "postgres"
    /// How to reach the server.
    public let configuration: PostgresConnection.Configuration
    /// The notification channel every node of the cluster uses.
    public let channel: String
    private let logger: Logger
    private let connection = NIOLockedValueBox<PostgresConnection?>(nil)
    private let largeCount = NIOLockedValueBox(0)
    private static let connectionIDs = NIOLockedValueBox(0)
    /// The largest notification payload sent as one (PostgreSQL's limit is 8,000 bytes).
    static let notifyLimit = 7_900

    /// A backend on `configuration`'s server and `channel`; `logger` gets postgres-nio's own records.
    public init(configuration: PostgresConnection.Configuration, channel: String = "websockets_rooms",
                logger: Logger = Logger(label: "websockets.postgres")) {
        self.configuration = configuration
        self.channel = channel
        self.logger = logger
    }

    /// A backend on `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (no TLS: a server on the
    /// same network; give a configuration for TLS).
    /// - Throws: ``PostgresURLError`` naming what is wrong with the URL.
    public convenience init(url: String, channel: String = "websockets_rooms") throws {
        self.init(configuration: try Self.configuration(url: url), channel: channel)
    }

    /// The configuration a `postgres://` URL names.
    public static func configuration(url text: String) throws(PostgresURLError) -> PostgresConnection.Configuration {
        guard let url = URLComponents(string: text), url.scheme == "postgres" || url.scheme == "postgresql" else {
            throw PostgresURLError(url: text, problem: "expected postgres://USER@HOST:PORT/DATABASE")
        }
        guard let host = url.host, !host.isEmpty else { throw PostgresURLError(url: text, problem: "no host") }
        guard let user = url.user, !user.isEmpty else { throw PostgresURLError(url: text, problem: "no user") }
        let database = String(url.path.drop { $0 == "/" })
        return PostgresConnection.Configuration(host: host, port: url.port ?? 5432, username: user, password: url.password,
                                                database: database.isEmpty ? nil : database, tls: .disable)
    }

    /// Notifies every node of `broadcast` (through a stored row when it is larger than a notification).
    /// - Throws: ``PostgresBroadcastError`` when not connected or the statement failed.
    public func publish(_ broadcast: RoomBroadcast) async throws {
        guard let connection = connection.withLockedValue({ $0 }) else { throw PostgresBroadcastError("not connected") }
        let text = try Envelope(broadcast).encoded()
        do {
            if text.utf8.count <= Self.notifyLimit {
                try await connection.query("SELECT pg_notify(\(channel), \(text))", logger: logger)
                return
            }
            try await connection.query("""
                WITH stored AS (INSERT INTO websockets_broadcast (payload) VALUES (\(text)) RETURNING id)
                SELECT pg_notify(\(channel), '{"ref":' || id || '}') FROM stored
                """, logger: logger)
            let prune = largeCount.withLockedValue { count in
                count += 1
                return count % 100 == 1
            }
            if prune {
                try await connection.query("DELETE FROM websockets_broadcast WHERE created_at < now() - interval '1 minute'", logger: logger)
            }
        } catch {
            throw PostgresBroadcastError(Self.describe(error))
        }
    }

    /// Connects, `LISTEN`s and delivers until cancelled, reconnecting with backoff; `health`
    /// hears `.up` once listening and `.down` with the reason when the connection fails.
    public func run(deliver: @escaping @Sendable (RoomBroadcast) -> Void,
                    health: @escaping @Sendable (BroadcastBackendHealth) -> Void) async throws {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            let id = Self.connectionIDs.withLockedValue { $0 += 1; return $0 }
            var opened: PostgresConnection?
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
                opened = connection
                try await Self.createTable(connection, logger: logger)
                try await connection.listen(on: channel) { notifications in
                    self.connection.withLockedValue { $0 = connection }
                    health(.up)
                    backoff = .milliseconds(100)
                    for try await notification in notifications {
                        if let broadcast = try await self.broadcast(in: notification.payload, via: connection) { deliver(broadcast) }
                    }
                }
                throw PostgresBroadcastError("the server closed the connection")
            } catch {
                connection.withLockedValue { $0 = nil }
                try? await opened?.close()
                if Task.isCancelled { break }
                health(.down(reason: Self.describe(error)))
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
        connection.withLockedValue { $0 = nil }
    }

    /// The broadcast a notification carries, read from its row when it was stored; `nil` for a
    /// row already gone or a payload that is not ours.
    private func broadcast(in payload: String, via connection: PostgresConnection) async throws -> RoomBroadcast? {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(payload.utf8)) else { return nil }
        guard let ref = envelope.ref else { return envelope.broadcast }
        let rows = try await connection.query("SELECT payload FROM websockets_broadcast WHERE id = \(ref)", logger: logger)
        for try await text in rows.decode(String.self) {
            return (try? JSONDecoder().decode(Envelope.self, from: Data(text.utf8)))?.broadcast
        }
        return nil
    }

    private static func createTable(_ connection: PostgresConnection, logger: Logger) async throws {
        do {
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS websockets_broadcast (
                    id bigserial PRIMARY KEY, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" || error.serverInfo?[.sqlState] == "42P07" {
            // Another node made it at the same moment.
        }
    }

    /// An error in words, without postgres-nio's generic text.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        var text = "\(error.code)"
        if let message = error.serverInfo?[.message] { text += ": " + message }
        if let underlying = error.underlying { text += ": \(underlying)" }
        return text
    }

    /// A broadcast as notified (`n` node, `i` incarnation, `s` sequence, `r` room, `t` text or
    /// `b` base64 binary), or a stored one's row id (`ref`).
    struct Envelope: Codable {
        var n: String?
        var i: UInt64?
        var s: UInt64?
        var r: String?
        var t: String?
        var b: String?
        var ref: Int64?

        init(_ broadcast: RoomBroadcast) {
            n = broadcast.node
            i = broadcast.incarnation
            s = broadcast.sequence
            r = broadcast.room
            switch broadcast.message {
            case .text(let text): t = text
            case .binary(let bytes): b = Data(bytes.readableBytesView).base64EncodedString()
            }
        }

        func encoded() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }

        var broadcast: RoomBroadcast? {
            guard let n, let i, let s, let r else { return nil }
            let message: Message
            if let t {
                message = .text(t)
            } else if let b, let data = Data(base64Encoded: b) {
                message = .binary(ByteBuffer(bytes: data))
            } else {
                return nil
            }
            return RoomBroadcast(node: n, incarnation: i, sequence: s, room: r, message: message)
        }
    }
}

/// A broadcast that could not be published, in words.
public struct PostgresBroadcastError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A `postgres://` URL that does not name a server: the URL and what is wrong.
public struct PostgresURLError: Error, CustomStringConvertible {
    /// The URL given.
    public let url: String
    /// What is wrong with it.
    public let problem: String
    public var description: String { "\(url): \(problem)" }
}
