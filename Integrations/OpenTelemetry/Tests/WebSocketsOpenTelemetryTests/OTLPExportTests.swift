import Foundation
import Logging
import ServiceLifecycle
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets
@testable import WebSocketsOpenTelemetry

/// The Python receiver (`Tests/Peers/otlp_receiver.py`): decodes with PyPI opentelemetry-proto.
final class Receiver {
    let process: ChildProcess
    let out = NSTemporaryDirectory() + "otlp-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
    let log = NSTemporaryDirectory() + "otlp-receiver-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
    let port: Int

    init(failFirst: Int = 0, mode: String = "", tls: (cert: String, key: String)? = nil) async throws {
        let script = repositoryRoot.appendingPathComponent("Tests/Peers/otlp_receiver.py").path
        process = try ChildProcess("/usr/bin/env", ["OTLP_MODE=\(mode)", "python3", script, out, String(failFirst)]
                                   + (tls.map { [$0.cert, $0.key] } ?? []), output: log)
        var port: Int?
        for _ in 0..<200 where port == nil {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            port = text.split(separator: "\n").first { $0.hasPrefix("listening ") }.flatMap { Int($0.dropFirst(10)) }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        self.port = try #require(port, "the receiver did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    var lines: [[String: Any]] {
        ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
    var records: [[String: Any]] { lines.filter { $0["event_name"] != nil } }

    deinit {
        process.stop()
        unlink(out)
        unlink(log)
    }
}

/// A typed attribute value as the receiver wrote it (`{"int": 5}`).
func attribute(_ record: [String: Any], _ key: String) -> (type: String, value: Any)? {
    guard let typed = (record["attributes"] as? [String: Any])?[key] as? [String: Any], let (type, value) = typed.first else { return nil }
    return (type, value)
}

@Suite("OTLP log export, decoded by the official protobuf definitions", .serialized, .timeLimit(.minutes(2)))
struct OTLPExportTests {
    static let peers = repositoryRoot.appendingPathComponent("Tests/Peers").path

    @Test("Every record of a traced connection arrives with typed attributes, severity, event name and trace context; the JSON log has the same records")
    func everyRecordTyped() async throws {
        let receiver = try await Receiver()
        let exporter = try OTLPLogExporter(configuration: .init(
            endpoint: try #require(OTLPEndpoint("http://127.0.0.1:\(receiver.port)/v1/logs")), headers: [("X-Api-Key", "k1")],
            resource: ["service.name": "ws-test", "deployment.environment.name": "ci"], scheduleDelay: .milliseconds(100)))
        let json = MemorySink()
        let handlers = { (label: String) -> any LogHandler in
            MultiplexLogHandler([StructuredLogHandler.json(label: label, sink: json, logLevel: .debug),
                                 OTLPLogHandler(label: label, exporter: exporter, logLevel: .debug)])
        }
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server", factory: handlers)
        configuration.logger.logLevel = .debug
        configuration.statsInterval = .seconds(3600)  // one window, written at shutdown
        configuration.node = "web-7"
        let appLogger = Logger(label: "app", factory: handlers)
        let server = try await WebSocketServer.serve(host: "127.0.0.1", port: 0, configuration: configuration) { ws in
            appLogger.info("echoing", metadata: ["answer": .stringConvertible(42), "ratio": .stringConvertible(0.5), "tag": "x"])
            for try await message in ws.messages { try await ws.send(message) }
        }
        var groupLogger = Logger(label: "group")
        groupLogger.logLevel = .critical
        let group = ServiceGroup(services: [exporter, server], logger: groupLogger)
        let running = Task { try await group.run() }

        let client = try await runCommand("/usr/bin/env", ["python3", Self.peers + "/otel_client.py", "ws://127.0.0.1:\(server.port)/traced?token=secret&room=1"])
        #expect(client.status == 0, "\(client.output)")
        let sent = try #require(client.output.split(separator: "\n").last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }, "\(client.output)")
        let raw = try RawSocket(port: server.port)
        raw.send("GET /nokey HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
        _ = await raw.readAllAsync()
        await group.triggerGracefulShutdown()
        try await running.value  // the exporter exports what is left before it returns

        let jsonRecords = json.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let otlp = receiver.records
        #expect(receiver.lines.allSatisfy { $0["error"] == nil }, "the receiver decoded every request: \(receiver.lines.filter { $0["error"] != nil })")
        #expect(exporter.droppedCount == 0 && exporter.exportedCount == otlp.count)
        #expect(otlp.count == jsonRecords.count, "every record: OTLP \(otlp.count), JSON \(jsonRecords.count)")
        // The same records in the same order per logger (a request groups records by logger,
        // one scope each): event name, logger, severity and message.
        let levels: [String: (Int, String)] = ["debug": (5, "DEBUG"), "info": (9, "INFO"), "warning": (13, "WARN"), "error": (17, "ERROR")]
        for (j, o) in zip(Self.byLogger(jsonRecords, "logger"), Self.byLogger(otlp, "scope")) {
            let event = j["event"] as? String ?? ""
            #expect((o["event_name"] as? String ?? "") == (event == "log" ? "" : event), "\(j) / \(o)")
            #expect(o["scope"] as? String == j["logger"] as? String)
            let level = try #require(levels[j["level"] as? String ?? ""])
            #expect(o["severity_number"] as? Int == level.0 && o["severity_text"] as? String == level.1)
            #expect((o["body"] as? [String: Any])?["string"] as? String == j["message"] as? String)
            #expect((o["resource"] as? [String: Any])?["service.name"] as? [String: String] == ["string": "ws-test"])
            #expect(o["api_key"] as? String == "k1")
            if let data = j["event_data"] as? [String: Any] {  // a connection record
                #expect(attribute(o, "websockets.connection.id")?.value as? String == data["connection_id"] as? String)
                #expect(attribute(o, "network.peer.port")?.type == "int")
                #expect(attribute(o, "network.peer.port")?.value as? Int == data["peer_port"] as? Int)
                #expect(attribute(o, "network.peer.address")?.value as? String == "127.0.0.1")
                #expect(attribute(o, "client.address")?.value as? String == data["remote_addr"] as? String)
                #expect(attribute(o, "network.protocol.name")?.value as? String == "websocket")
                if let trace = data["trace_id"] as? String {
                    #expect(o["trace_id"] as? String == trace && o["span_id"] as? String == data["span_id"] as? String)
                    #expect(o["flags"] as? Int == 1)
                }
            }
        }
        let byEvent = { (name: String) in otlp.first { $0["event_name"] as? String == name } }
        let open = try #require(byEvent("connection_open"))
        #expect(attribute(open, "url.path")?.value as? String == "/traced")
        #expect(attribute(open, "url.query")?.value as? String == "token=[REDACTED]&room=1")
        #expect(open["trace_id"] as? String == sent["trace_id"] as? String && open["span_id"] as? String == sent["span_id"] as? String)
        #expect(attribute(open, "websockets.handshake_duration")?.type == "double")
        let closed = try #require(byEvent("connection_closed"))
        #expect(attribute(closed, "websockets.close_code").map { "\($0.type)=\($0.value)" } == "int=1000")
        #expect(attribute(closed, "websockets.messages_in")?.value as? Int == 1)
        #expect(attribute(closed, "websockets.duration")?.type == "double")
        #expect(attribute(closed, "websockets.initiator")?.value as? String == "remote")
        let rejected = try #require(byEvent("connection_rejected"))
        #expect(attribute(rejected, "http.response.status_code").map { "\($0.type)=\($0.value)" } == "int=400")
        #expect(attribute(rejected, "websockets.rejection")?.value as? String == "missing_key")
        let frame = try #require(byEvent("frame_received"))
        #expect(attribute(frame, "websockets.fin")?.type == "bool" && attribute(frame, "websockets.size")?.type == "int")
        let app = try #require(otlp.first { $0["scope"] as? String == "app" })
        #expect(attribute(app, "answer").map { "\($0.type)=\($0.value)" } == "int=42")
        #expect(attribute(app, "ratio")?.type == "double" && attribute(app, "tag")?.type == "string")
        #expect(attribute(app, "websockets.connection.id") != nil, "an application record inside a handler carries its connection")
        #expect(app["trace_id"] as? String == sent["trace_id"] as? String)
        #expect(attribute(app, "code.line.number")?.type == "int")
        #expect(!otlp.contains { ($0["attributes"] as? [String: Any]).map { "\($0)".contains("secret") } ?? false }, "redacted")
        #expect(otlp.contains { $0["event_name"] as? String == "server_closed" }, "the records of the shutdown itself are exported")
        let stats = try #require(byEvent("server_stats"))
        #expect(attribute(stats, "websockets.connections_opened").map { "\($0.type)=\($0.value)" } == "int=1")
        #expect(attribute(stats, "websockets.handshakes_rejected")?.value as? Int == 1)
        #expect(attribute(stats, "websockets.window")?.type == "double")
        #expect(attribute(stats, "websockets.connection.id") == nil, "a server record, no connection")
        #expect(attribute(stats, "service.instance.id")?.value as? String == "web-7", "the node on a server record")
        #expect(attribute(closed, "service.instance.id")?.value as? String == "web-7", "and on a connection's")
    }

    /// `records` grouped by the logger field `key`, each group in its original order.
    static func byLogger(_ records: [[String: Any]], _ key: String) -> [[String: Any]] {
        records.enumerated().sorted { a, b in
            let (la, lb) = (a.element[key] as? String ?? "", b.element[key] as? String ?? "")
            return la != lb ? la < lb : a.offset < b.offset
        }.map(\.element)
    }

    @Test("A framework route's connection: http.route (its pattern) beside url.path on its records; none on an unrouted one")
    func routeAttribute() async throws {
        let receiver = try await Receiver()
        let exporter = try OTLPLogExporter(configuration: .init(
            endpoint: try #require(OTLPEndpoint("http://127.0.0.1:\(receiver.port)")), scheduleDelay: .seconds(60)))
        let base = ConnectionContext(peerAddress: "127.0.0.1", peerPort: 4000)
        for (path, route) in [("/rooms/lobby", "/rooms/:room" as String?), ("/ws", nil)] {
            var logger = Logger(label: "app") { OTLPLogHandler(label: $0, exporter: exporter) }
            logger[metadataKey: ConnectionContext.metadataKey] = .stringConvertible(base.with(
                clientAddress: nil, source: "peer", requestHeaders: nil, traceContext: nil, path: path, route: route))
            logger.info("member joined")
        }
        await exporter.flush()
        let records = receiver.records
        #expect(records.count == 2, "\(receiver.lines)")
        #expect(records.map { attribute($0, "url.path")?.value as? String } == ["/rooms/lobby", "/ws"])
        #expect(records.map { attribute($0, "http.route")?.value as? String } == ["/rooms/:room", nil])
    }

    @Test("A collector answering 503 is retried; nothing is lost")
    func retriesUnavailable() async throws {
        let receiver = try await Receiver(failFirst: 2)
        let exporter = try OTLPLogExporter(configuration: .init(
            endpoint: try #require(OTLPEndpoint("http://127.0.0.1:\(receiver.port)")), scheduleDelay: .seconds(60)))
        let logger = Logger(label: "t") { OTLPLogHandler(label: $0, exporter: exporter) }
        for i in 0..<5 { logger.info("record \(i)") }
        await exporter.flush()
        #expect(receiver.lines.filter { $0["refused"] != nil }.count == 2, "\(receiver.lines)")
        #expect(receiver.records.map { ($0["body"] as? [String: Any])?["string"] as? String } == (0..<5).map { "record \($0)" })
        #expect(exporter.droppedCount == 0 && exporter.exportedCount == 5, "\(receiver.lines)")
    }

    @Test("A collector that is down: the records are counted as dropped and reported by a WARNING naming the endpoint")
    func collectorDown() async throws {
        let port = freePort()
        let exporter = try OTLPLogExporter(
            configuration: .init(endpoint: try #require(OTLPEndpoint("http://127.0.0.1:\(port)/v1/logs")), exportTimeout: .seconds(2)),
            diagnostics: Logger(label: "diagnostics") { StructuredLogHandler.json(label: $0, sink: DiagnosticsSink.shared) })
        let logger = Logger(label: "t") { OTLPLogHandler(label: $0, exporter: exporter) }
        for i in 0..<3 { logger.info("record \(i)") }
        await exporter.flush()
        #expect(exporter.droppedCount == 3 && exporter.exportedCount == 0)
        await exporter.flush()  // the next cycle reports the drop
        let lines = DiagnosticsSink.shared.lines
        #expect(lines.contains { $0.contains("OTLP export to http://127.0.0.1:\(port)/v1/logs failed") && $0.contains("3 records dropped") }, "\(lines)")
        #expect(lines.contains { $0.contains("\"event\":\"log_records_dropped\"") && $0.contains("\"dropped\":3") }, "\(lines)")
    }

    @Test("The standard variables configure the exporter; a wrong one is named with the reason")
    func environment() throws {
        let c = try OTLPLogExporter.Configuration.fromEnvironment([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/base/", "OTEL_SERVICE_NAME": "chat",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod,team=a%20b", "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc",
        ])
        #expect(c.endpoint.description == "http://collector:4318/base/v1/logs")
        #expect(c.resource == ["service.name": "chat", "deployment.environment.name": "prod", "team": "a b"])
        #expect(c.headers.map { "\($0.0)=\($0.1)" } == ["x-api-key=abc"])
        let logs = try OTLPLogExporter.Configuration.fromEnvironment(["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://otel.example:443/custom"])
        #expect(logs.endpoint.secure && logs.endpoint.path == "/custom" && logs.endpoint.port == 443)
        #expect(try OTLPLogExporter.Configuration.fromEnvironment([:]).endpoint.description == "http://localhost:4318/v1/logs")
        #expect { try OTLPLogExporter.Configuration.fromEnvironment(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]) } throws: {
            "\($0)" == "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: only http/protobuf is supported"
        }
        #expect { try OTLPLogExporter.Configuration.fromEnvironment(["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "collector:4318"]) } throws: {
            "\($0)".hasPrefix("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=collector:4318: not an http(s) URL")
        }
        #expect { try OTLPLogExporter.Configuration.fromEnvironment(["OTEL_RESOURCE_ATTRIBUTES": "novalue"]) } throws: {
            "\($0)".contains("'novalue' is not key=value")
        }
        #expect(OTLPEndpoint("http://[::1]:4318/v1/logs")?.host == "::1")
        #expect(OTLPEndpoint("http://host:0/") == nil && OTLPEndpoint("ftp://host/") == nil)
    }

    @Test("OTEL_EXPORTER_OTLP_LOGS_HEADERS overrides OTEL_EXPORTER_OTLP_HEADERS key by key; a bad headers variable is named without its value; only two hex digits decode")
    func headerVariables() throws {
        let c = try OTLPLogExporter.Configuration.fromEnvironment([
            "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=general,x-team=a", "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "X-Api-Key=logs",
        ])
        #expect(c.headers.map { "\($0.0)=\($0.1)" } == ["X-Api-Key=logs", "x-team=a"], "\(c.headers)")
        #expect { try OTLPLogExporter.Configuration.fromEnvironment(["OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer s3cret,broken"]) } throws: {
            let text = "\($0)"
            return text.contains("OTEL_EXPORTER_OTLP_HEADERS") && text.contains("item 2 is not key=value") && !text.contains("s3cret")
        }
        #expect { try OTLPLogExporter.Configuration.fromEnvironment(["OTEL_EXPORTER_OTLP_HEADERS": "x=a%0D%0AInjected:%201"]) } throws: {
            "\($0)".contains("decodes to a CR, LF or NUL") && !"\($0)".contains("Injected")
        }
        let literal = try OTLPLogExporter.Configuration.fromEnvironment(["OTEL_EXPORTER_OTLP_HEADERS": "x=%+a%zz%41"])
        #expect(literal.headers.first?.1 == "%+a%zzA", "only %XX with two hex digits decodes: \(literal.headers)")
        #expect { try OTLPLogExporter.Configuration.fromEnvironment(["OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent.pem"]) } throws: {
            "\($0)" == "OTEL_EXPORTER_OTLP_CERTIFICATE=/nonexistent.pem: not a readable PEM certificate file"
        }
    }

    @Test("https to an IP address (no SNI for an IP) with the collector's CA from OTEL_EXPORTER_OTLP_CERTIFICATE: records arrive")
    func httpsToIP() async throws {
        let dir = NSTemporaryDirectory() + "otlp-tls-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try await runCommand("/usr/bin/env", ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                                                         "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem", "-subj", "/CN=otlp-test",
                                                         "-addext", "subjectAltName=IP:127.0.0.1"])
        #expect(made.status == 0, "\(made.output)")
        let receiver = try await Receiver(tls: (dir + "/cert.pem", dir + "/key.pem"))
        var configuration = try OTLPLogExporter.Configuration.fromEnvironment([
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://127.0.0.1:\(receiver.port)/v1/logs", "OTEL_EXPORTER_OTLP_CERTIFICATE": dir + "/cert.pem",
        ])
        configuration.scheduleDelay = .seconds(60)
        let exporter = try OTLPLogExporter(configuration: configuration)
        let logger = Logger(label: "t") { OTLPLogHandler(label: $0, exporter: exporter) }
        for i in 0..<3 { logger.info("secure \(i)") }
        await exporter.flush()
        #expect(exporter.exportedCount == 3 && exporter.droppedCount == 0, "\(receiver.lines)")
        #expect(receiver.records.count == 3)
    }

    @Test("429 with Retry-After: waited for, then delivered; a Retry-After past the export timeout gives up at once, counted")
    func retryAfter() async throws {
        let receiver = try await Receiver(mode: "retry429:1:1")
        let exporter = try OTLPLogExporter(configuration: .init(
            endpoint: try #require(OTLPEndpoint("http://127.0.0.1:\(receiver.port)")), scheduleDelay: .seconds(60), exportTimeout: .seconds(10)))
        let logger = Logger(label: "t") { OTLPLogHandler(label: $0, exporter: exporter) }
        for i in 0..<2 { logger.info("later \(i)") }
        await exporter.flush()
        #expect(exporter.exportedCount == 2 && receiver.lines.filter { $0["refused"] != nil }.count == 1, "\(receiver.lines)")

        let far = try await Receiver(mode: "retry429:9:30")
        let sink = MemorySink()
        let impatient = try OTLPLogExporter(
            configuration: .init(endpoint: try #require(OTLPEndpoint("http://127.0.0.1:\(far.port)")), scheduleDelay: .seconds(60),
                                 exportTimeout: .seconds(2)),
            diagnostics: Logger(label: "diagnostics") { StructuredLogHandler.json(label: $0, sink: sink) })
        let other = Logger(label: "t") { OTLPLogHandler(label: $0, exporter: impatient) }
        other.info("never")
        await impatient.flush()
        #expect(impatient.droppedCount == 1)
        #expect(far.lines.filter { $0["request"] != nil }.count == 1, "no retry when the collector asks for longer than the timeout")
        #expect(sink.lines.contains { $0.contains("Retry-After 30 s is past the export timeout") }, "\(sink.lines)")
    }

    @Test("partial_success: the records the collector rejected are counted as dropped, its message in the WARNING")
    func partialSuccess() async throws {
        let receiver = try await Receiver(mode: "partial:2:too old")
        let sink = MemorySink()
        let exporter = try OTLPLogExporter(
            configuration: .init(endpoint: try #require(OTLPEndpoint("http://127.0.0.1:\(receiver.port)")), scheduleDelay: .seconds(60)),
            diagnostics: Logger(label: "diagnostics") { StructuredLogHandler.json(label: $0, sink: sink) })
        let logger = Logger(label: "t") { OTLPLogHandler(label: $0, exporter: exporter) }
        for i in 0..<5 { logger.info("r \(i)") }
        await exporter.flush()
        #expect(exporter.exportedCount == 3 && exporter.droppedCount == 2)
        #expect(sink.lines.contains { $0.contains("rejected 2 of 5 records: too old") }, "\(sink.lines)")
    }

    @Test("a collector that accepts and never answers: one export takes the export timeout in all, not one per attempt")
    func exportTimeoutInAll() async throws {
        let receiver = try await Receiver(mode: "hang")
        let exporter = try OTLPLogExporter(configuration: .init(
            endpoint: try #require(OTLPEndpoint("http://127.0.0.1:\(receiver.port)")), scheduleDelay: .seconds(60), exportTimeout: .seconds(2)))
        let logger = Logger(label: "t") { OTLPLogHandler(label: $0, exporter: exporter) }
        logger.info("stuck")
        await exporter.flush()
        #expect(exporter.droppedCount == 1)
        #expect(receiver.lines.filter { $0["request"] != nil }.count == 1, "the first attempt used the whole timeout: \(receiver.lines)")
    }
}

enum DiagnosticsSink {
    static let shared = MemorySink()
}
