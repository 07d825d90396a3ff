import Foundation
import Logging
import Testing
import WebSocketTestSupport
@testable import WebSocketCore
@testable import WebSocketLogging

@Suite("ECSFormatter (Elastic Common Schema)")
struct ECSFormatterTests {
    @Test("every event, with and without a connection, and application records: valid against schemas/ecs-record.schema.json, @timestamp, log.level, message first")
    func everyEventValidates() async throws {
        var lines: [String] = []
        for event in everyEvent {
            lines.append(try format(record(event, level: event.defaultLevel, connection: fixedContext(client: "203.0.113.7")), ECSFormatter()))
            lines.append(try format(record(event, level: event.defaultLevel), ECSFormatter()))
        }
        lines.append(try format(record(nil, message: "app says hi", metadata: ["user": "ann", "n": .stringConvertible(3)]), ECSFormatter()))
        for line in lines {
            #expect(line.hasPrefix("{\"@timestamp\":\""), "\(line)")
            let keys = line.matches(of: #/"(@timestamp|log\.level|message)":/#).prefix(3).map { String($0.1) }
            #expect(keys == ["@timestamp", "log.level", "message"], "\(line)")
            #expect(line.hasSuffix("}\n") && line.dropLast().firstIndex(of: "\n") == nil)
        }
        let result = try await validateWithSchema(lines, schema: "ecs-record.schema.json")
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("the ECS mapping: client (resolved) and source (peer), url split and redacted, event.duration in ns, http status, typed websocket fields")
    func mapping() throws {
        let context = ConnectionContext(peerAddress: "10.0.0.2", peerPort: 40000)
            .with(clientAddress: "203.0.113.7", source: "x-forwarded-for", requestHeaders: nil)
        let open = try parseJSON(try format(record(.connectionOpen(ConnectionOpenInfo(path: "/chat?token=[REDACTED]&room=1",
                                                                                      handshakeDuration: 0.0025)),
                                                   connection: context), ECSFormatter()))
        #expect((open["client"] as? [String: Any])?["ip"] as? String == "203.0.113.7")
        #expect((open["source"] as? [String: Any])?["ip"] as? String == "10.0.0.2")
        #expect((open["source"] as? [String: Any])?["port"] as? Int == 40000)
        #expect((open["url"] as? [String: Any])?["path"] as? String == "/chat")
        #expect((open["url"] as? [String: Any])?["query"] as? String == "token=[REDACTED]&room=1")
        #expect((open["event"] as? [String: Any])?["duration"] as? Int == 2_500_000)
        #expect((open["event"] as? [String: Any])?["action"] as? String == "connection_open")
        #expect((open["websocket"] as? [String: Any])?["connection_id"] as? String == context.id.description)
        let closed = try parseJSON(try format(record(.connectionClosed(sampleClosed), connection: context), ECSFormatter()))
        #expect((closed["websocket"] as? [String: Any])?["close_code"] as? Int == sampleClosed.code, "numbers stay numbers")
        let unix = try parseJSON(try format(record(.connectionOpen(ConnectionOpenInfo(path: "/")),
                                                   connection: ConnectionContext(peerAddress: "/run/ws.sock")), ECSFormatter()))
        #expect((unix["client"] as? [String: Any])?["ip"] == nil, "a socket path is not an ip")
        #expect((unix["client"] as? [String: Any])?["address"] as? String == "/run/ws.sock")
        #expect(unix["source"] == nil)
        let rejected = try parseJSON(try format(record(.connectionRejected(ConnectionRejectedInfo(status: 426, reason: "no", rejection: "invalid_upgrade", path: "/x")),
                                                       connection: context), ECSFormatter()))
        #expect(((rejected["http"] as? [String: Any])?["response"] as? [String: Any])?["status_code"] as? Int == 426)
    }

    @Test("metadata becomes keyword labels: strings, nested keys joined with _, dots replaced")
    func labels() throws {
        let line = try format(record(nil, message: "m", metadata: ["a.b": "x", "n": .stringConvertible(42), "nested": ["k": "v"]]), ECSFormatter())
        let labels = try #require(try parseJSON(line)["labels"] as? [String: Any])
        #expect(labels["a_b"] as? String == "x")
        #expect(labels["n"] as? String == "42")
        #expect(labels["nested_k"] as? String == "v")
    }

    @Test("a line never exceeds maxLineLength; the structure is never cut")
    func capped() async throws {
        let huge = String(repeating: "é", count: 20_000)
        let formatter = ECSFormatter(maxLineLength: 1024)
        let lines = [try format(record(nil, message: huge), formatter),
                     try format(record(.handlerFailed(errorType: huge, description: huge), connection: fixedContext()), formatter)]
        for line in lines { #expect(line.utf8.count <= 1024, "\(line.utf8.count)") }
        // The smallest limit, a long logger label (written twice) and a long message: the
        // fallback line still fits (found by the formatter fuzzer).
        for event in everyEvent {
            let smallest = try format(record(event, message: String(repeating: "\u{2028}", count: 100), level: .critical,
                                             connection: fixedContext(), label: String(repeating: "\"", count: 63)),
                                      ECSFormatter(maxLineLength: 512))
            #expect(smallest.utf8.count <= 512, "\(event.name): \(smallest.utf8.count)")
        }
        let result = try await validateWithSchema(lines, schema: "ecs-record.schema.json")
        #expect(result.status == 0, "\(result.output)")
    }
}
