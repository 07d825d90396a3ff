import Foundation
import Instrumentation
import Logging
import NIOHTTP1
import NIOPosix
import NIOCore
import Synchronization
import Testing
import W3CTraceContext
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

/// W3C trace context on the opening handshake: a real OpenTelemetry SDK client (Python
/// `opentelemetry-sdk`) against `websockets serve`, and a swift-distributed-tracing instrument
/// bootstrapped in process.
@Suite("W3C trace context", .serialized, .timeLimit(.minutes(2)))
struct TraceContextTests {
    static let peers = repositoryRoot.appendingPathComponent("Tests/Peers").path

    @Test("an OpenTelemetry SDK client's traceparent is on every record of its connection (open, DEBUG traces, close), schema-valid",
          arguments: ["json", "ecs"])
    func openTelemetryClient(format: String) async throws {
        let server = try await ServeProcess(["--log-level", "debug", "--log-format", format])
        let result = try await runCommand("/usr/bin/env", ["python3", Self.peers + "/otel_client.py", "ws://127.0.0.1:\(server.port)/traced"])
        #expect(result.status == 0, "\(result.output)")
        let sent = try #require(result.output.split(separator: "\n").last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }, "\(result.output)")
        let traceID = try #require(sent["trace_id"] as? String), spanID = try #require(sent["span_id"] as? String)
        #expect(traceID == "0af7651916cd43dd8448eb211c80319c", "the span continues the upstream trace")
        #expect(await server.stop() == 0)

        let lines = try String(contentsOfFile: server.log, encoding: .utf8).split(separator: "\n").map { String($0) + "\n" }
        let validation = try await validateWithSchema(lines, schema: format == "ecs" ? "ecs-record.schema.json" : "log-record.schema.json")
        #expect(validation.status == 0, "\(validation.output)")
        let records = server.records
        // The connection's records: those with a connection id.
        let connectionRecords: [(event: String, trace: String?, span: String?, flags: String?)] = records.compactMap { r in
            if format == "ecs" {
                guard let ws = r["websocket"] as? [String: Any], ws["connection_id"] != nil else { return nil }
                let event = ((r["event"] as? [String: Any])?["action"] as? String) ?? ""
                return (event, (r["trace"] as? [String: Any])?["id"] as? String, (r["span"] as? [String: Any])?["id"] as? String, "01")
            }
            guard let data = r["event_data"] as? [String: Any], data["connection_id"] != nil else { return nil }
            return (r["event"] as? String ?? "", data["trace_id"] as? String, data["span_id"] as? String, data["trace_flags"] as? String)
        }
        // Every record from the request on: the CONNECTING state change is logged at accept,
        // before there is a request to read a trace context from.
        let fromRequest = connectionRecords.drop { $0.event != "handshake_request" }
        #expect(connectionRecords.count - fromRequest.count == 1 && connectionRecords.first?.event == "state_changed")
        let events = Set(fromRequest.map(\.event))
        #expect(events.isSuperset(of: ["connection_open", "connection_closed", "handshake_request"]), "\(events)")
        #expect(connectionRecords.contains { $0.event.hasPrefix("frame") }, "DEBUG frame traces: \(events)")
        for record in fromRequest {
            #expect(record.trace == traceID && record.span == spanID && record.flags == "01", "\(record)")
        }
        if format == "json" {  // the README's recipe, as written, on this log
            let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
            let recipe = try #require(readme.split(separator: "\n").first { $0.hasPrefix("jq ") && $0.contains(".event_data.trace_id ==") })
            let (status, output) = try await shell(String(recipe).replacingOccurrences(of: "0af7651916cd43dd8448eb211c80319c", with: traceID)
                .replacingOccurrences(of: "ws.jsonl", with: server.log))
            #expect(status == 0 && output.split(separator: "\n").count == fromRequest.count, "\(recipe): \(output)")
        }
    }

    @Test("a malformed traceparent is ignored: the connection works, no trace fields, the raw header is not logged")
    func invalidHeader() async throws {
        let server = try await ServeProcess(["--log-level", "debug"])
        let result = try await runCommand("/usr/bin/env", ["python3", Self.peers + "/otel_client.py", "ws://127.0.0.1:\(server.port)/", "invalid"])
        #expect(result.status == 0, "\(result.output)")
        #expect(await server.stop() == 0)
        let text = try String(contentsOfFile: server.log, encoding: .utf8)
        #expect(server.records("connection_closed").count == 1)
        #expect(!text.contains("trace_id") && !text.contains("span_id"), "no trace fields from an invalid header")
        #expect(!text.contains("raw-secret"), "the invalid value is not logged")
        #expect(text.contains("traceparent: [invalid: ignored]"), "the DEBUG handshake line says it was ignored")
    }

    @Test("parsing: one valid traceparent, tracestate kept when valid, anything else ignored")
    func parsing() {
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        func parse(_ headers: [(String, String)]) -> TraceContext? { TracePropagation.traceContext(in: HTTPHeaders(headers)) }
        let context = parse([("traceparent", valid), ("tracestate", "rojo=00f067aa0ba902b7"), ("TraceState", "congo=t61rcWkgMzE")])
        #expect(context?.traceID.description == "4bf92f3577b34da6a3ce929d0e0e4736" && context?.spanID.description == "00f067aa0ba902b7")
        #expect(context?.flags == .sampled && context?.traceStateHeaderValue == "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE", "\(String(describing: context?.traceStateHeaderValue))")
        #expect(parse([("traceparent", valid), ("tracestate", "not valid ===")])?.traceStateHeaderValue == nil, "a bad tracestate alone is dropped")
        #expect(parse([("traceparent", valid), ("tracestate", "not valid ===")])?.traceID.description == "4bf92f3577b34da6a3ce929d0e0e4736")
        for bad in ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
                    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", String(repeating: "0", count: 100_000)] {
            #expect(parse([("traceparent", bad)]) == nil, "\(bad.prefix(60))")
        }
        #expect(parse([("traceparent", valid), ("traceparent", valid)]) == nil, "two traceparent headers are invalid")
        #expect(parse([]) == nil)
    }

    @Test("with a swift-distributed-tracing instrument: the client injects ServiceContext.current, the handler task runs in the extracted context, both sides log the ids")
    func instrument() async throws {
        TestPropagator.bootstrapOnce
        let serverLogs = MemorySink(), clientLogs = MemorySink()
        let seen = Mutex<[String]>([])
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: serverLogs) }
        let server = try await WebSocketServer.serve(host: "127.0.0.1", port: 0, configuration: configuration) { ws in
            let fromTask = ServiceContext.current?[TestPropagator.Key.self] ?? "none"
            seen.withLock { $0 = [fromTask, ws.serviceContext?[TestPropagator.Key.self] ?? "none", ws.traceContext?.spanID.description ?? "none"] }
            for try await message in ws.messages { try await ws.send(message) }
        }
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        var context = ServiceContext.topLevel
        context[TestPropagator.Key.self] = traceparent
        var client = ClientConfiguration()
        client.logger = Logger(label: "websockets.client") { StructuredLogHandler.json(label: $0, sink: clientLogs) }
        let ws = try await ServiceContext.withValue(context) {
            try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/", configuration: client)
        }
        try await ws.send("x")
        _ = try await nextMessage(ws, "echo")
        await ws.close()
        #expect(ws.traceContext?.traceID.description == "4bf92f3577b34da6a3ce929d0e0e4736", "the client knows what it sent")
        #expect(seen.withLock { $0 } == [traceparent, traceparent, "00f067aa0ba902b7"])
        await server.shutdown()
        for logs in [serverLogs, clientLogs] {
            let opened = try #require(records(logs).first { $0["event"] as? String == "connection_open" })
            #expect((opened["event_data"] as? [String: Any])?["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        }
    }
}

/// A minimal W3C propagator standing in for a tracer: extracts `traceparent` into a context
/// key, injects it back. Bootstrapped once for the test process (bootstrap may not run twice).
enum TestPropagator: Instrument {
    case instance

    enum Key: ServiceContextKey {
        typealias Value = String
    }

    static let bootstrapOnce: Void = InstrumentationSystem.bootstrap(TestPropagator.instance)

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        if let value = extractor.extract(key: "traceparent", from: carrier) { context[Key.self] = value }
    }

    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        if let value = context[Key.self] { injector.inject(value, forKey: "traceparent", into: &carrier) }
    }
}

/// Whose trace context the server believes (`ServerConfiguration.traceContext`, `serve --trace-context`).
@Suite("Trace context trust", .serialized, .timeLimit(.minutes(2)))
struct TraceContextTrustTests {
    static let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    /// The trace ids on the server's connection_open and connection_closed records for a client sending a traceparent.
    func traceIDs(_ arguments: [String]) async throws -> [String?] {
        let server = try await ServeProcess(arguments)
        var client = ClientConfiguration()
        client.additionalHeaders = ["traceparent": Self.traceparent]
        let configuration = client, url = "ws://127.0.0.1:\(server.port)/t"
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: url, configuration: configuration) }
        await ws.close()
        #expect(await server.stop() == 0)
        let records = server.records.filter { ["connection_open", "connection_closed"].contains($0["event"] as? String) }
        #expect(records.count == 2)
        return records.map { ($0["event_data"] as? [String: Any])?["trace_id"] as? String }
    }

    @Test("serve --trace-context: accept (the default) takes anyone's; ignore takes nobody's; proxies only a trusted proxy's")
    func policies() async throws {
        let id = "0af7651916cd43dd8448eb211c80319c"
        #expect(try await traceIDs([]) == [id, id])
        #expect(try await traceIDs(["--trace-context", "accept"]) == [id, id])
        #expect(try await traceIDs(["--trace-context", "ignore"]) == [nil, nil])
        #expect(try await traceIDs(["--trace-context", "proxies"]) == [nil, nil], "127.0.0.1 is not a trusted proxy")
        #expect(try await traceIDs(["--trace-context", "proxies", "--trusted-proxy", "127.0.0.1/32"]) == [id, id])
    }

    @Test("serve --trace-context with a value it does not know is refused, naming the choices")
    func badValue() async throws {
        let run = try await runCommand(productBinary("websockets"), ["serve", "--trace-context", "sometimes"])
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains("accept") && run.output.contains("proxies") && run.output.contains("ignore"), "\(run.output)")
    }

    @Test("the mounted decision applies the same policy")
    func mounted() async throws {
        for (policy, expected) in [(TraceContextPolicy.accept, true), (.ignore, false), (.proxies, false)] {
            var configuration = ServerConfiguration()
            configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: MemorySink()) }
            configuration.traceContext = policy
            let upgrader = WebSocketHTTPUpgrader(configuration: configuration) { _ in }
            let request = try OneRuleTests.parsedRequest(upgradeRequest(extraHeaders: "traceparent: \(Self.traceparent)\r\n"))
            guard case .upgrade(let accepted) = await upgrader.decide(request, remoteAddress: try .init(ipAddress: "127.0.0.1", port: 5),
                                                                     on: MultiThreadedEventLoopGroup.singleton.next()) else {
                Issue.record("not upgraded"); continue
            }
            #expect((accepted.opening.logContext.traceContext != nil) == expected, "\(policy)")
            #expect(accepted.opening.extractsServiceContext == expected, "\(policy)")
        }
    }
}
