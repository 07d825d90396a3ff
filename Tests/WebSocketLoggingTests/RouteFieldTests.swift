import Foundation
import Logging
import Testing
import WebSocketTestSupport
@testable import WebSocketCore
@testable import WebSocketLogging

/// A connection taken by a framework's route carries the route's pattern beside its path, in
/// every format, on every record (events with a path of their own included).
@Suite("route beside path on a routed connection's records")
struct RouteFieldTests {
    static let routed = fixedContext().with(clientAddress: "127.0.0.1", source: "peer", requestHeaders: nil, traceContext: nil,
                                            path: "/rooms/lobby", route: "/rooms/:room")
    static let records: [LogRecord] = [
        record(.connectionOpen(ConnectionOpenInfo(path: "/rooms/lobby", handshakeDuration: 0.001)), connection: routed),
        record(.connectionClosed(ConnectionClosedInfo(code: 1009, initiator: .local, duration: 1)), connection: routed),
        record(.httpResponseSent(HTTPResponseSentInfo(status: 401, reason: "Unauthorized", path: "/rooms/lobby")), connection: routed),
        record(nil, message: "member joined", connection: routed),
    ]

    @Test("JSON: event_data.route on every record, path once; schema-valid")
    func json() async throws {
        let lines = try Self.records.map { try format($0) }
        for line in lines {
            let data = try #require(try parseJSON(line)["event_data"] as? [String: Any], "\(line)")
            #expect(data["route"] as? String == "/rooms/:room" && data["path"] as? String == "/rooms/lobby", "\(line)")
            #expect(line.components(separatedBy: "\"path\":").count == 2, "one path: \(line)")
        }
        let result = try await validateWithSchema(lines)
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("ECS websocket.route, syslog route=, and none of it on an unrouted connection")
    func otherFormats() async throws {
        let ecs = try Self.records.map { try format($0, ECSFormatter()) }
        for line in ecs {
            #expect((try parseJSON(line)["websocket"] as? [String: Any])?["route"] as? String == "/rooms/:room", "\(line)")
        }
        let ecsResult = try await validateWithSchema(ecs, schema: "ecs-record.schema.json")
        #expect(ecsResult.status == 0, "\(ecsResult.output)")
        let syslog = try format(Self.records[1], SyslogFormatter(facility: .local0, appName: "app", hostname: "h"))
        #expect(syslog.contains("route=\"/rooms/:room\"") && syslog.contains("path=\"/rooms/lobby\""), "\(syslog)")
        let plain = fixedContext().with(clientAddress: nil, source: "peer", requestHeaders: nil, traceContext: nil, path: "/ws")
        let unrouted = try format(record(.connectionClosed(ConnectionClosedInfo(code: 1000, initiator: .remote, duration: 1)), connection: plain))
        #expect(!unrouted.contains("route") && unrouted.contains("\"path\":\"/ws\""), "\(unrouted)")
        #expect(!(try format(record(nil, message: "x", connection: plain), ECSFormatter())).contains("route"))
    }

    @Test("the route survives a later context copy (client address from a proxy)")
    func copies() {
        let copy = Self.routed.with(clientAddress: "203.0.113.7", source: "x-forwarded-for", requestHeaders: nil)
        #expect(copy.route == "/rooms/:room" && copy.path == "/rooms/lobby" && copy.id == Self.routed.id)
    }
}
