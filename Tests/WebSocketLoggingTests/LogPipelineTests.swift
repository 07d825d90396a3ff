import Foundation
import Logging
import NIOHTTP1
import Testing
import WebSocketTestSupport
@testable import WebSocketCore
@testable import WebSocketLogging

struct Boom: Error {}

struct ThrowingFormatter: LogFormatter {
    func format(_ record: LogRecord, into line: inout LogLine) throws { throw Boom() }
}

struct MultiLineFormatter: LogFormatter {
    func format(_ record: LogRecord, into line: inout LogLine) {
        line.appendRaw("first\nsecond\n")
    }
}

@Suite("LogPipeline: enrichers, filters, faults")
struct LogPipelineTests {
    @Test("a throwing enricher is skipped, a throwing filter lets the record through; both are counted")
    func throwingStages() throws {
        let sink = MemorySink()
        let pipeline = LogPipeline(formatter: JSONFormatter(), sink: sink,
                                   enrichers: [LogEnricher { _ in throw Boom() }, .constant(["service": "chat"])],
                                   filters: [LogFilter { _ in throw Boom() }])
        pipeline.log(record(.serverClosing))
        #expect(sink.lines.count == 1)
        #expect(try parseJSON(sink.lines[0])["metadata"] as? [String: String] == ["service": "chat"])
        #expect(pipeline.faultCount == 2)
    }

    @Test("a throwing or multi-line formatter is replaced by a minimal safe JSON line")
    func badFormatters() throws {
        for formatter in [ThrowingFormatter() as any LogFormatter, MultiLineFormatter()] {
            let sink = MemorySink()
            let pipeline = LogPipeline(formatter: formatter, sink: sink)
            pipeline.log(record(.connectionOpen(.init(path: "/")), connection: fixedContext()))
            #expect(pipeline.faultCount == 1)
            let line = try #require(sink.lines.first)
            #expect(line.filter { $0 == "\n" }.count == 1)
            let parsed = try parseJSON(line)
            #expect(parsed["event"] as? String == "connection_open")
            #expect((parsed["event_data"] as? [String: Any])?["connection_id"] as? String == fixedContext().id.description)
        }
    }

    @Test("a line is accepted only with one newline, at its end, and no carriage return", arguments: [
        ("{}\n", true), ("\n", true), (String(repeating: "x", count: 5000) + "\n", true),
        ("", false), ("{}", false), ("{}\r\n", false), ("a\nb\n", false), ("a\rb\n", false),
        (String(repeating: "x", count: 4000) + "\r" + String(repeating: "x", count: 100) + "\n", false),
    ])
    func singleLineCheck(text: String, accepted: Bool) {
        #expect(Array(text.utf8).withUnsafeBytes(LogPipeline.isSingleLine) == accepted)
    }

    @Test("filters: level, label, events")
    func filters() {
        let sink = MemorySink()
        let pipeline = LogPipeline(formatter: JSONFormatter(), sink: sink,
                                   filters: [.minimumLevel(.info), .labels(["websockets"]), .excludingEvents([.serverClosed])])
        pipeline.log(record(.serverClosing))                                           // kept
        pipeline.log(record(.serverClosed))                                            // event excluded
        pipeline.log(record(.stateChanged(.open), level: .debug))                      // level
        pipeline.log(record(.serverClosing, label: "websockets.client"))               // kept (child label)
        pipeline.log(record(.serverClosing, label: "myapp"))                           // label
        #expect(sink.lines.count == 2)
        let only = MemorySink()
        LogPipeline(formatter: JSONFormatter(), sink: only, filters: [.onlyEvents([.log])]).log(record(.serverClosing))
        #expect(only.lines.isEmpty)
        let none = MemorySink()
        LogPipeline(formatter: JSONFormatter(), sink: none, filters: [.dropAll]).log(record(nil, message: "x"))
        #expect(none.lines.isEmpty)
    }

    @Test("DEBUG sampling keeps the first N frame records per connection, and all other records")
    func sampling() {
        let sink = MemorySink()
        let pipeline = LogPipeline(formatter: JSONFormatter(), sink: sink, filters: [.firstFrames(perConnection: 3)])
        let a = fixedContext(), b = ConnectionContext(peerAddress: "::1")
        let frame = WebSocketLogEvent.frameReceived(FrameInfo(opcode: .text, fin: true, rsv1: false, size: 1, preview: "'x'"))
        for _ in 0..<10 {
            pipeline.log(record(frame, level: .debug, connection: a))
            pipeline.log(record(frame, level: .debug, connection: b))
            pipeline.log(record(.stateChanged(.open), level: .debug, connection: a))
        }
        #expect(sink.lines.filter { $0.contains("frame_received") }.count == 6)
        #expect(sink.lines.filter { $0.contains("state_changed") }.count == 10)
        // The counter survives the context update made when the client address is resolved.
        pipeline.log(record(frame, level: .debug, connection: a.with(clientAddress: "1.2.3.4", source: "x-forwarded-for", requestHeaders: nil)))
        #expect(sink.lines.filter { $0.contains("frame_received") }.count == 6)
    }

    @Test("the request-header enricher is safe with missing and repeated headers")
    func headerEnricher() throws {
        let sink = MemorySink()
        let pipeline = LogPipeline(formatter: JSONFormatter(), sink: sink, enrichers: [.requestHeader("X-Tenant", as: "tenant")])
        let repeated = fixedContext(headers: ["X-Tenant": "a", "x-tenant": "b"])
        pipeline.log(record(.connectionOpen(.init(path: "/")), connection: repeated))
        pipeline.log(record(.connectionOpen(.init(path: "/")), connection: fixedContext(headers: [:])))
        pipeline.log(record(.serverClosing))
        #expect(try parseJSON(sink.lines[0])["metadata"] as? [String: String] == ["tenant": "a, b"])
        #expect(try parseJSON(sink.lines[1])["metadata"] == nil)
        #expect(sink.lines.count == 3)
        #expect(pipeline.faultCount == 0)
    }
}

@Suite("StructuredLogHandler (json and plain) with swift-log")
struct HandlerTests {
    @Test("the library's typed event and context are read back from metadata, by type")
    func typedEvent() throws {
        let sink = MemorySink()
        let logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: sink, logLevel: .debug) }
        let events = WebSocketEventLogger(logger: logger).with(connection: fixedContext())
        events.emit(.connectionClosed(sampleClosed))
        let parsed = try parseJSON(sink.lines[0])
        #expect(parsed["event"] as? String == "connection_closed")
        #expect(parsed["metadata"] == nil, "library keys are not repeated as metadata")
        #expect((parsed["event_data"] as? [String: Any])?["close_code"] as? Int == 1000)
    }

    @Test("application logs inside a connection handler carry its context automatically")
    func taskLocalContext() async throws {
        let sink = MemorySink()
        let logger = Logger(label: "myapp") { StructuredLogHandler.plain(label: $0, sink: sink) }
        await ConnectionContext.$current.withValue(fixedContext(client: "198.51.100.4")) {
            await Task.yield()  // an async handler, as in a server: the context survives suspension
            logger.info("user joined", metadata: ["room": "lobby"])
        }
        logger.info("outside")
        #expect(sink.lines[0].contains("myapp [\(fixedContext().id) 198.51.100.4] user joined room=lobby"))
        #expect(sink.lines[1].contains("INFO myapp outside"))
    }

    @Test("a logger's own connection wins over the ambient one of the task that logs (a broadcast skip names the skipped connection)")
    func loggerConnectionBeatsAmbient() throws {
        let sink = MemorySink()
        var rng = FixedRNG()
        let broadcaster = ConnectionContext(id: ConnectionID(using: &rng), peerAddress: "127.0.0.1", peerPort: 1111)
        let skipped = ConnectionContext(id: ConnectionID(using: &rng), peerAddress: "127.0.0.2", peerPort: 2222)
        let logger = Logger(label: "websockets.server") {
            StructuredLogHandler.json(label: $0, sink: sink, metadataProvider: ConnectionContext.metadataProvider)
        }
        ConnectionContext.$current.withValue(broadcaster) {
            WebSocketEventLogger(logger: logger).with(connection: skipped).emit(.broadcastSkipped(reason: "write buffer above high mark"))
            logger.info("the handler's own line")
        }
        let data = try sink.lines.map { try #require(parseJSON($0)["event_data"] as? [String: Any]) }
        #expect(data[0]["connection_id"] as? String == skipped.id.description)
        #expect(data[0]["peer_port"] as? Int == 2222)
        #expect(data[1]["connection_id"] as? String == broadcaster.id.description, "without a connection of its own, the ambient one")
    }

    @Test("handlers that do not know our types still see the event and context as metadata")
    func foreignHandler() {
        let collector = CollectingHandler()
        let logger = Logger(label: "websockets.server") { _ in collector }
        let events = WebSocketEventLogger(logger: logger).with(connection: fixedContext(client: "203.0.113.9"))
        events.emit(.connectionRejected(ConnectionRejectedInfo(status: 403, reason: "origin not allowed", rejection: "refused")))
        let entry = collector.entries.first
        #expect(entry?.message == "connection rejected (403 origin not allowed)")
        #expect(entry?.metadata["ws.event"] == "connection_rejected status=403 reason=\"origin not allowed\" rejection=refused")
        #expect(entry?.metadata["ws.connection"] == "\(fixedContext().id) 203.0.113.9")
    }

    @Test("handler metadata, metadata providers and call metadata merge; the call wins")
    func metadataMerge() throws {
        let sink = MemorySink()
        let provider = Logger.MetadataProvider { ["trace_id": "abc", "k": "provider"] }
        var logger = Logger(label: "app") { StructuredLogHandler.json(label: $0, sink: sink, metadataProvider: provider) }
        logger[metadataKey: "k"] = "handler"
        logger[metadataKey: "region"] = "eu"
        logger.info("m", metadata: ["k": "call"])
        #expect(try parseJSON(sink.lines[0])["metadata"] as? [String: String] == ["k": "call", "region": "eu", "trace_id": "abc"])
    }
}
