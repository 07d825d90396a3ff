import Foundation
import Logging
import Testing
import WebSocketTestSupport
@testable import WebSocketCore
@testable import WebSocketLogging

/// The server node on every record: a connection's (from its context) and a server's own (no
/// connection), in every format, schema-valid.
@Suite("node on every record")
struct NodeFieldTests {
    static let context = ConnectionContext(peerAddress: "127.0.0.1", peerPort: 5000, node: "web-2")
        .with(clientAddress: "203.0.113.7", source: "x-forwarded-for", requestHeaders: nil, traceContext: nil, path: "/rooms/a")
    static let records: [LogRecord] = [
        record(.connectionOpen(ConnectionOpenInfo(path: "/rooms/a")), connection: context),
        record(.connectionClosed(ConnectionClosedInfo(code: 1000, initiator: .remote, duration: 1)), connection: context),
        record(nil, message: "member joined", connection: context),
        LogRecord(level: .info, label: "websockets.server", message: "server closing", event: .serverClosing, node: "web-2"),
        LogRecord(level: .info, label: "websockets.server", message: "m",
                  event: .broadcastBackendRecovered(backend: "postgres", downFor: 1, notPublished: 2), node: "web-2"),
        LogRecord(level: .warning, label: "websockets.server", message: "m",
                  event: .broadcastMessagesMissed(backend: "postgres", fromNode: "web-1", missed: 3), node: "web-2"),
    ]

    @Test("JSON: event_data.node after connection_id, fields.node on a server record; schema-valid; none without a node")
    func json() async throws {
        let lines = try Self.records.map { try format($0) }
        for line in lines {
            let object = try parseJSON(line)
            let fields = (object["event_data"] ?? object["fields"]) as? [String: Any]
            #expect(fields?["node"] as? String == "web-2", "\(line)")
        }
        #expect(lines[0].contains("\"connection_id\":\"") && lines[0].contains("\",\"node\":\"web-2\",\"remote_addr\""), "\(lines[0])")
        let result = try await validateWithSchema(lines)
        #expect(result.status == 0, "\(result.output)")
        #expect(!(try format(record(.serverClosing))).contains("node"))
    }

    @Test("ECS service.node.name (schema-valid), plain and syslog node=")
    func otherFormats() async throws {
        let ecs = try Self.records.map { try format($0, ECSFormatter()) }
        for line in ecs {
            #expect(((try parseJSON(line)["service"] as? [String: Any])?["node"] as? [String: Any])?["name"] as? String == "web-2", "\(line)")
        }
        let result = try await validateWithSchema(ecs, schema: "ecs-record.schema.json")
        #expect(result.status == 0, "\(result.output)")
        for record in Self.records {
            #expect(try format(record, PlainFormatter()).contains(" node=web-2"))
            #expect(try format(record, SyslogFormatter(facility: .local0, appName: "ws", hostname: "h1")).contains("node=\"web-2\""))
        }
    }
}
