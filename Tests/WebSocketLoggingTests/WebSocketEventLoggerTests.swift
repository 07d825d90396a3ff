import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
@testable import WebSocketCore
@testable import WebSocketLogging

@Suite("WebSocketEventLogger: levels, traces, redaction")
struct WebSocketEventLoggerTests {
    func setup(level: Logger.Level, levels: EventLevels = .default) -> (WebSocketEventLogger, MemorySink) {
        let sink = MemorySink()
        var logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: sink) }
        logger.logLevel = level
        return (WebSocketEventLogger(logger: logger, levels: levels).with(connection: fixedContext()), sink)
    }

    @Test("default levels follow the Python design")
    func defaultLevels() {
        #expect(WebSocketLogEvent.connectionOpen(.init(path: "/")).defaultLevel == .info)
        #expect(WebSocketLogEvent.broadcastSkipped(reason: "x").defaultLevel == .warning)
        #expect(WebSocketLogEvent.handlerFailed(errorType: "E", description: "d").defaultLevel == .error)
        #expect(WebSocketLogEvent.stateChanged(.open).defaultLevel == .debug)
        let (events, sink) = setup(level: .info)
        events.emit(.stateChanged(.open))
        events.emit(.connectionOpen(.init(path: "/")))
        #expect(sink.lines.count == 1)
        #expect(!events.wantsTraces)
    }

    @Test("events reach a pipeline handler directly with the same record swift-log's route makes, and follow later changes of the logger")
    func directRoute() throws {
        let provider = Logger.MetadataProvider { ["request_id": "r-7", "attempt": .stringConvertible(3)] }
        let directSink = MemorySink(), viaSwiftLogSink = MemorySink()
        // A multiplexing handler is not a pipeline handler: its events take the swift-log route.
        let direct = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: directSink, metadataProvider: provider) }
        let viaSwiftLog = Logger(label: "websockets.server") {
            MultiplexLogHandler([StructuredLogHandler.json(label: $0, sink: viaSwiftLogSink, metadataProvider: provider)])
        }
        let base = WebSocketEventLogger(logger: direct)
        var a = base.with(connection: fixedContext())
        var b = WebSocketEventLogger(logger: viaSwiftLog).with(connection: fixedContext())
        #expect(a.route != nil && b.route == nil)
        #expect(a.route === base.route, "connections share the server's route")
        for events in [a, b] {
            events.emit(.connectionOpen(.init(path: "/chat", subprotocol: "v2", handshakeDuration: 0.0025)))
            events.emit(.handlerFailed(errorType: "E", description: "boom"), error: CancellationError())
            events.emit(.stateChanged(.open))  // DEBUG: below the level, in both
        }
        // Later changes of the logger: a metadata key, then a lower level.
        a.logger[metadataKey: "tenant"] = "blue"
        b.logger[metadataKey: "tenant"] = "blue"
        a.logger.logLevel = .debug
        b.logger.logLevel = .debug
        a.emit(.stateChanged(.closing))
        b.emit(.stateChanged(.closing))
        #expect(directSink.lines.count == 3)
        func withoutTime(_ line: String) throws -> NSDictionary {
            var object = try parseJSON(line)
            #expect(object.removeValue(forKey: "timestamp") != nil)
            return object as NSDictionary
        }
        #expect(directSink.lines.count == viaSwiftLogSink.lines.count)
        for (x, y) in zip(directSink.lines, viaSwiftLogSink.lines) {
            #expect(try withoutTime(x) == withoutTime(y), "\(x)\n\(y)")
        }
        let last = try parseJSON(directSink.lines[2])
        #expect((last["metadata"] as? [String: Any])?["tenant"] as? String == "blue")
        #expect((last["metadata"] as? [String: Any])?["attempt"] as? Int == 3)
        #expect((last["event_data"] as? [String: Any])?["connection_id"] as? String == fixedContext().id.description)
    }

    @Test("levels are configurable per event")
    func overrides() throws {
        let (events, sink) = setup(level: .info, levels: .lifecycleAtDebug)
        events.emit(.connectionOpen(.init(path: "/")))
        events.emit(.connectionClosed(sampleClosed))
        events.emit(.serverListening(ServerListeningInfo(address: "x")))
        #expect(sink.lines.count == 1)
        var custom = EventLevels.default
        custom[.frameReceived] = .notice
        let (loud, loudSink) = setup(level: .info, levels: custom)
        #expect(loud.wantsTraces)
        loud.emit(.frameReceived(FrameInfo(opcode: .ping, fin: true, rsv1: false, size: 0, preview: "''")))
        #expect(try parseJSON(loudSink.lines[0])["level"] as? String == "notice")
    }

    @Test("levels from text (a configuration file): names and levels parsed, a typo is an error naming it")
    func levelsFromText() throws {
        let levels = try EventLevels(parsing: ["connection_open": "debug", "frame_sent": "notice"])
        #expect(levels[.connectionOpen] == .debug && levels[.frameSent] == .notice && levels.overrides.count == 2)
        #expect(throws: UnknownEventName(text: "conection_open")) { try EventLevels(parsing: ["conection_open": "debug"]) }
        #expect(throws: UnknownLevelName(text: "verbose")) { try EventLevels(parsing: ["connection_open": "verbose"]) }
        #expect("\(UnknownEventName(text: "x"))".contains("connection_open"), "the message lists the valid names")
        #expect(WebSocketLogEvent.Name.allCases.count == WebSocketLogEvent.allNames.count + 1, "every event has a name, plus log")
        for event in everyEvent { #expect(try WebSocketLogEvent.Name(parsing: event.name) == event.kind) }
    }

    @Test("an engine session renders as the Python-style DEBUG transcript")
    func traceTranscript() throws {
        let (events, sink) = setup(level: .debug)
        var engine = WebSocketEngine(role: .server, state: .open)
        engine.isTracing = events.wantsTraces
        var client = WebSocketEngine(role: .client, state: .open)
        try client.sendText("hi\n")
        try client.sendBinary(ByteBuffer(bytes: Array(0..<40)))
        try client.close(code: .normalClosure, reason: "bye\nFAKE")
        while let b = client.nextOutput() { engine.receive(b) }
        engine.receiveEOF()
        while let t = engine.nextTrace() { events.emit(trace: t) }
        let messages = try sink.lines.map { try parseJSON($0)["message"] as! String }
        #expect(messages == [
            "< TEXT 'hi\\n' [3 bytes]",
            "< BINARY 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f … 1f 20 21 22 23 24 25 26 27 [40 bytes]",
            "< CLOSE 1000 (OK) bye\\nFAKE [10 bytes]",
            "> CLOSE 1000 (OK) bye\\nFAKE [10 bytes]",
            "= connection is CLOSING",
            "x closing TCP connection",
            "x EOF received",
            "= connection is CLOSED",
        ])
        #expect(sink.lines.allSatisfy { $0.filter { $0 == "\n" }.count == 1 })
    }

    @Test("a secret in headers or the query string never reaches the sink")
    func redaction() throws {
        let secrets = ["Bearer s3cr3t-token", "session=hunter2", "qs-secret-123", "key-secret-456"]
        let path = NSTemporaryDirectory() + "ws-redaction-\(getpid()).log"
        unlink(path)
        let file = try #require(StreamSink(path: path))
        var logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: file) }
        logger.logLevel = .trace
        let events = WebSocketEventLogger(logger: logger).with(connection: fixedContext())
        var handshake = ClientHandshake(host: "localhost", target: "/ws?room=1&token=\(secrets[2])&api%5Fkey=\(secrets[3])",
                                        additionalHeaders: ["Authorization": secrets[0], "Cookie": secrets[1]])
        handshake.userAgent = "test"
        var server = WebSocketEngine(role: .server)
        server.isTracing = true
        var client = WebSocketEngine(role: .client)
        client.isTracing = true
        let request = client.request(handshake)
        guard case .success(let accepted) = server.accept(request) else { Issue.record("rejected"); return }
        _ = try client.processResponse(accepted.response, for: handshake)
        while let t = server.nextTrace() { events.emit(trace: t) }
        while let t = client.nextTrace() { events.emit(trace: t) }
        events.emit(.connectionOpen(.init(path: events.redaction.target(request.uri))))
        file.close()
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(written.contains("[REDACTED]"))
        #expect(written.contains("room=1"))
        for secret in secrets + [handshake.key, AcceptKey.acceptValue(forKey: handshake.key)] {
            #expect(!written.contains(secret), "leaked \(secret)")
        }
        #expect(written.split(separator: "\n").count >= 20)
    }

    @Test("previews escape text, elide the middle and respect the configured length")
    func previews() {
        let long = String(repeating: "a", count: 50) + "MIDDLE" + String(repeating: "z", count: 50)
        let p = FramePreview.render(Frame(opcode: .text, payload: ByteBuffer(string: long)), limit: 30)
        #expect(p.count <= 32)
        #expect(p.hasPrefix("'aaaa") && p.hasSuffix("zzz'") && p.contains("…") && !p.contains("MIDDLE"))
        #expect(FramePreview.render(Frame(opcode: .ping, payload: ByteBuffer(bytes: [0xFF, 0x00])), limit: 75) == "ff 00")
        #expect(FramePreview.render(Frame(opcode: .text, payload: ByteBuffer(string: "it's\u{1B}")), limit: 75) == "'it\\'s\\u{1b}'")
    }
}
