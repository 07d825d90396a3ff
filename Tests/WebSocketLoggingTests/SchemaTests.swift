import Foundation
import Logging
import Testing
import WebSocketTestSupport
@testable import WebSocketCore
@testable import WebSocketLogging

/// One example of every event, with values at their edges.
let everyEvent: [WebSocketLogEvent] = [
    .serverListening(ServerListeningInfo(address: "[::1]:8765", host: "::1", port: 8765, tls: true)), .tlsHandshakeFailed(reason: "certificate verify failed"), .serverClosing, .serverClosed,
    .connectionOpen(ConnectionOpenInfo(path: "/chat?token=[REDACTED]", subprotocol: "v2", subprotocolsOffered: "v1, v2", extensions: "permessage-deflate", handshakeDuration: 0.001)),
    .connectionOpen(ConnectionOpenInfo(path: "/")),
    .connectionRejected(ConnectionRejectedInfo(status: 426, reason: "unsupported Sec-WebSocket-Version", rejection: "unsupported_version", path: "/", subprotocolsOffered: "chat")),
    .httpResponseSent(HTTPResponseSentInfo(status: 200, reason: "OK", path: "/health")),
    .connectionClosed(sampleClosed),
    .connectionClosed(ConnectionClosedInfo(code: 1006, initiator: .abnormal, duration: 0)),
    .clientReconnecting(ClientReconnectingInfo(attempt: 2, delay: 3.1, cause: "connection refused", url: "ws://127.0.0.1:1/")),
    .serverStats(ServerStatsInfo(window: 60, connectionsActive: 12, connectionsOpened: 40, closed: [.normal: 30, .abnormal: 2, .application: 1],
                                 handshakesRejected: 3, httpResponses: 5, messagesIn: 1200, messagesOut: 1180, bytesIn: 65536, bytesOut: 70000,
                                 handshakeDuration: .init(p50: 0.0012, p99: 0.02), connectionDuration: .init(p50: 4.2, p99: 58),
                                 recordsSuppressed: 7, recordsDropped: 0)),
    .serverStats(ServerStatsInfo(window: 0.4)),
    .broadcastBackendDown(backend: "postgres", reason: "server: terminating connection due to administrator command"),
    .broadcastBackendRecovered(backend: "postgres", downFor: 3.2, notPublished: 5),
    .broadcastMessagesMissed(backend: "postgres", fromNode: "web-2:4242", missed: 5),
    .broadcastSkipped(reason: "write buffer above high mark"), .broadcastFailed(error: "EPIPE"), .logRecordsDropped(count: 12),
    .logRecordsSuppressed(event: "connection_rejected", count: 1234, interval: 1),
    .handlerFailed(errorType: "MyApp.Failure", description: "boom\n"), .internalError(description: "bug"),
    .stateChanged(.connecting), .stateChanged(.closed),
    .handshakeRequest(.requestLine(method: "GET", target: "/"), .received),
    .handshakeRequest(.header(name: "Authorization", value: "[REDACTED]"), .received),
    .handshakeResponse(.statusLine(status: 101, reason: "Switching Protocols"), .sent),
    .handshakeResponse(.header(name: "Upgrade", value: "websocket"), .sent),
    .frameSent(FrameInfo(opcode: .text, fin: true, rsv1: false, size: 2, preview: "'hi'")),
    .frameReceived(FrameInfo(opcode: .text, fin: true, rsv1: true, size: 7, preview: "'hello'", inflatedSize: 5)),
    .frameReceived(FrameInfo(opcode: .continuation, fin: false, rsv1: true, size: 0, preview: "")),
    .closeStep(step: "closing TCP connection", code: nil, reason: nil),
    .closeStep(step: "failing connection with 1002 (protocol error)", code: 1002, reason: "invalid opcode 3"),
    .pingSent, .pongReceived(roundTrip: 0.0004), .keepaliveTimeout(timeout: 20),
    .timedOut(waitingFor: "the closing handshake", timeout: 10),
    .errorHandled(error: "reserved_opcode: invalid opcode 3", code: 1002, reason: "invalid opcode 3"),
]

@Suite("schemas/log-record.schema.json")
struct SchemaTests {
    @Test("every event, with and without a connection, with metadata and errors, is schema-valid")
    func everyEventValidates() async throws {
        var lines: [String] = []
        for event in everyEvent {
            lines.append(try format(record(event, level: event.defaultLevel)))
            lines.append(try format(record(event, level: event.defaultLevel, connection: fixedContext(client: "203.0.113.5"),
                                           metadata: ["tenant": "acme", "n": .stringConvertible(3), "ok": .stringConvertible(true)],
                                           error: SampleError())))
        }
        lines.append(try format(record(nil, message: "application line", metadata: ["nested": ["a": ["b", "c"]]])))
        lines.append(try format(record(nil, message: String(repeating: "x", count: 20000), connection: fixedContext()), JSONFormatter(maxLineLength: 1024)))
        var many: Logger.Metadata = [:]
        for i in 0..<400 { many["k\(i)"] = "v" }
        lines.append(try format(record(.serverClosing, metadata: many), JSONFormatter(maxLineLength: 1024)))
        let result = try await validateWithSchema(lines)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("validated \(lines.count) lines, 0 invalid"))
    }

    @Test("the validator rejects lines the schema forbids (the check can fail)")
    func negativeControl() async throws {
        let good = try format(record(.connectionClosed(sampleClosed), connection: fixedContext()))
        let bad = [
            good.replacingOccurrences(of: ".123456Z", with: "Z"),                       // timestamp precision
            good.replacingOccurrences(of: "\"close_code\":1000,", with: ""),            // required field
            good.replacingOccurrences(of: "\"initiator\":\"remote\"", with: "\"initiator\":\"x\""),
            good.replacingOccurrences(of: "\"event\":\"connection_closed\"", with: "\"event\":\"nope\""),
            good.replacingOccurrences(of: "{\"timestamp\"", with: "{\"extra\":1,\"timestamp\""),
            try format(record(.serverClosing)).replacingOccurrences(of: "}\n", with: ",\"event_data\":{}}\n"),
        ]
        let result = try await validateWithSchema(bad)
        #expect(result.status != 0)
        #expect(result.output.contains("validated 6 lines, 6 invalid"))
    }

    @Test("the schema names exactly the events the library can emit")
    func schemaEventNames() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("schemas/log-record.schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let event = try #require((schema["properties"] as? [String: Any])?["event"] as? [String: Any])
        let names = try #require(event["enum"] as? [String])
        #expect(Set(names) == Set(WebSocketLogEvent.allNames + ["log"]))
        #expect(Set(everyEvent.map(\.name)) == Set(WebSocketLogEvent.allNames))
    }
}
