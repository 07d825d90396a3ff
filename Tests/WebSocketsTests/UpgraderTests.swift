import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

/// The plain HTTP side of a test application: `GET /health` 200, `/ws` without an upgrade 426,
/// anything else 404 — what a framework's routes would answer.
final class PlainRoutes: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private var head: HTTPRequestHead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let (status, body, extra): (HTTPResponseStatus, String, [(String, String)]) = switch head.uri {
            case "/health": (.ok, "ok\n", [])
            case "/ws/forbidden": (.forbidden, "no entry\n", [])
            case "/ws": (.upgradeRequired, "this is a WebSocket endpoint\n", [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")])
            default: (.notFound, "not found\n", [])
            }
            var headers = HTTPHeaders(extra)
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "Content-Type", value: "text/plain")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            self.head = nil
        }
    }
}

/// An HTTP/1 server of our own on SwiftNIO with the upgrader mounted: NIO's untyped pipeline
/// (what Vapor uses) or its typed one (what Hummingbird uses).
func startHTTPServer(upgrader: WebSocketHTTPUpgrader, typed: Bool) async throws -> any Channel {
    try await startHTTPServer(typed: typed ? upgrader.typed { channel in channel.eventLoop.makeSucceededFuture(true) } : nil,
                              untyped: upgrader)
}

/// NIO's typed pipeline with `typed`, or its untyped one with `untyped`.
func startHTTPServer(typed: TypedWebSocketHTTPUpgrader<Bool>?, untyped: WebSocketHTTPUpgrader? = nil) async throws -> any Channel {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            if let typed {
                let configuration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: .init(
                    upgraders: [typed],
                    notUpgradingCompletionHandler: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(PlainRoutes())
                            return false
                        }
                    }))
                return channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
                }
            }
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: untyped.map { [$0] } ?? [], completionHandler: { context in
                        // As Vapor removes its HTTP handler.
                        if let routes = try? context.pipeline.syncOperations.handler(type: PlainRoutes.self) {
                            context.pipeline.syncOperations.removeHandler(routes, promise: nil)
                        }
                    }))
                try channel.pipeline.syncOperations.addHandler(PlainRoutes())
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
}

@Suite("WebSocketHTTPUpgrader: mounted in another SwiftNIO HTTP/1 server", .serialized, .timeLimit(.minutes(2)))
struct UpgraderTests {
    static let peers = repositoryRoot.appendingPathComponent("Tests/Peers").path

    @Test("HTTP and WebSocket on one port: /health 200, /ws without an upgrade 426, Python websockets echoes with deflate, a declined path answered, the same records as the standalone server",
          arguments: [false, true])
    func onePort(typed: Bool) async throws {
        let logs = MemorySink()
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .debug) }
        configuration.logger.logLevel = .debug
        configuration.trustedProxies = TrustedProxies(ranges: [CIDR("127.0.0.1/32")!])
        configuration.handshake.subprotocols = ["chat"]
        configuration.connection.maxMessageSize = 8 << 20
        if typed {  // NIO's untyped pipeline cannot run it (see untypedRefusesProcessRequest)
            configuration.processRequest = { request, _ in
                request.uri == "/ws/secret" ? HTTPResponse(status: .unauthorized, body: "token required\n") : nil
            }
        }
        // The routes decide what is a WebSocket: /ws/forbidden is theirs (403).
        let upgrader = WebSocketHTTPUpgrader(configuration: configuration,
                                         shouldUpgrade: { $0.uri.hasPrefix("/ws") && $0.uri != "/ws/forbidden" }) { ws in
            if ws.request.uri.hasPrefix("/ws/close/"), let code = UInt16(ws.request.uri.dropFirst(10)) {
                for try await _ in ws.messages { break }
                await ws.close(code: CloseCode(code), reason: "server says bye")
                return
            }
            for try await message in ws.messages { try await ws.send(message) }
        }
        let server = try await startHTTPServer(upgrader: upgrader, typed: typed)
        let port = server.localAddress!.port!

        let health = try RawSocket(port: port)
        health.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(String(decoding: await health.readHeadAsync(), as: UTF8.self).hasPrefix("HTTP/1.1 200 OK"))
        let plain = try RawSocket(port: port)
        plain.send("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
        let refused = String(decoding: await plain.readHeadAsync(), as: UTF8.self)
        #expect(refused.hasPrefix("HTTP/1.1 426 Upgrade Required") && refused.contains("Upgrade: websocket"), "\(refused)")

        let result = try await runCommand("/usr/bin/env", ["python3", Self.peers + "/echo_once.py", "ws://127.0.0.1:\(port)/ws", "4000"])
        #expect(result.status == 0 && result.output.contains("permessage-deflate"), "\(result.output)")
        // /ws/forbidden is the routes' (403) in the untyped pipeline; in the typed one NIO has
        // consumed an upgrade request it did not upgrade, and the upgrader answers 404.
        let forbidden = try RawSocket(port: port)
        forbidden.send(upgradeRequest(path: "/ws/forbidden"))
        let answer = String(decoding: await forbidden.readHeadAsync(), as: UTF8.self)
        #expect(answer.hasPrefix(typed ? "HTTP/1.1 404 Not Found" : "HTTP/1.1 403 Forbidden"), "\(answer)")
        // A bad handshake on the WebSocket route: refused and logged. Untyped: the request goes
        // on to the routes (426 here); typed: NIO has consumed it, and the upgrader answers as
        // the standalone server does (400 naming the header).
        let bad = try RawSocket(port: port)
        bad.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n")
        let badAnswer = String(decoding: await bad.readAllAsync(), as: UTF8.self)
        #expect(badAnswer.hasPrefix(typed ? "HTTP/1.1 400 Bad Request" : "HTTP/1.1 426"), "\(badAnswer)")
        if typed {
            #expect(badAnswer.contains("Sec-WebSocket-Key"), "the reason names what is missing: \(badAnswer)")
            // processRequest answers an upgrade request (a missing token): its response.
            let secret = try RawSocket(port: port)
            secret.send(upgradeRequest(path: "/ws/secret"))
            let secretAnswer = String(decoding: await secret.readAllAsync(), as: UTF8.self)
            #expect(secretAnswer.hasPrefix("HTTP/1.1 401 Unauthorized") && secretAnswer.hasSuffix("\r\n\r\ntoken required\n"), "\(secretAnswer)")
        }
        await upgrader.shutdown()
        try await server.close()

        let lines = logs.lines
        let validation = try await validateWithSchema(lines)
        #expect(validation.status == 0, "\(validation.output)")
        let all = records(logs)
        let opened = all.filter { $0["event"] as? String == "connection_open" }
        let closed = all.filter { $0["event"] as? String == "connection_closed" }
        #expect(opened.count >= 1 && opened.count == closed.count, "\(all.map { $0["event"] ?? "" })")
        let open = try #require(opened.first?["event_data"] as? [String: Any])
        #expect(open["handshake_duration"] as? Double != nil)
        #expect((open["extensions"] as? String)?.contains("permessage-deflate") == true)
        #expect(open["path"] as? String == "/ws")
        let close = try #require(closed.first?["event_data"] as? [String: Any])
        #expect(close["messages_in"] as? Int == 2 && close["messages_out"] as? Int == 2 && close["close_code"] as? Int == 4000, "\(close)")
        #expect(all.contains { $0["event"] as? String == "handshake_request" } && all.contains { $0["event"] as? String == "frame_received" },
                "DEBUG traces")
        let rejected = try #require(all.first { $0["event"] as? String == "connection_rejected" }?["event_data"] as? [String: Any])
        #expect(rejected["rejection"] as? String == "missing_key" && rejected["remote_addr"] as? String == "203.0.113.9",
                "the trusted proxy's client address: \(rejected)")
        if typed {
            let sent = try #require(all.first { $0["event"] as? String == "http_response_sent" }?["event_data"] as? [String: Any])
            #expect(sent["status"] as? Int == 401 && sent["path"] as? String == "/ws/secret", "\(sent)")
        }
    }

    @Test("NIO's untyped pipeline with processRequest configured: upgrades are refused (fail closed), the routes answer, one ERROR record says why")
    func untypedRefusesProcessRequest() async throws {
        let logs = MemorySink()
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .info) }
        configuration.processRequest = { _, _ in nil }
        let upgrader = WebSocketHTTPUpgrader(configuration: configuration, shouldUpgrade: WebSocketHTTPUpgrader.paths("/ws")) { _ in }
        let server = try await startHTTPServer(upgrader: upgrader, typed: false)
        for _ in 0..<2 {
            let socket = try RawSocket(port: server.localAddress!.port!)
            socket.send(upgradeRequest(path: "/ws"))
            let answer = String(decoding: await socket.readHeadAsync(), as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 426"), "the routes' answer, no upgrade: \(answer)")
        }
        await upgrader.shutdown()
        try await server.close()
        let errors = records(logs).filter { $0["event"] as? String == "internal_error" }
        #expect(errors.count == 1 && records(logs).allSatisfy { $0["event"] as? String != "connection_open" }, "\(records(logs))")
        #expect(((errors.first?["fields"] as? [String: Any])?["error_message"] as? String)?.contains("processRequest") == true, "\(errors)")
    }
}

@Suite("WebSocketHTTPUpgrader: deciding before the framework answers")
struct UpgraderDecisionTests {
    static func head(_ uri: String, _ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: HTTPHeaders(headers))
    }

    static let valid = [("Host", "x"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]

    @Test("paths(_:) picks the request target's path, whatever the query", arguments: [
        ("/ws", true), ("/ws?token=1", true), ("/chat", true), ("/wsx", false), ("/ws/", false), ("/", false),
    ])
    func paths(uri: String, picked: Bool) {
        #expect(WebSocketHTTPUpgrader.paths("/ws", "/chat")(Self.head(uri, [])) == picked)
    }

    func upgrader(_ logs: MemorySink, processRequest: (@Sendable (HTTPRequestHead, ConnectionContext) async -> HTTPResponse?)? = nil)
        -> WebSocketHTTPUpgrader {
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .info) }
        configuration.trustedProxies = TrustedProxies(ranges: [CIDR("127.0.0.1/32")!])
        configuration.processRequest = processRequest
        return WebSocketHTTPUpgrader(configuration: configuration) { _ in }
    }

    static let peer = try! SocketAddress(ipAddress: "127.0.0.1", port: 4000)

    @Test("decide: a valid handshake is accepted (nothing logged yet); a bad one is answered as the standalone server answers it (400 naming the header), logged with the trusted proxy's client address")
    func refusal() async throws {
        let logs = MemorySink()
        let upgrader = upgrader(logs)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        guard case .upgrade = await upgrader.decide(Self.head("/ws", Self.valid), remoteAddress: Self.peer, on: loop) else {
            Issue.record("a valid handshake was not accepted")
            return
        }
        #expect(records(logs).isEmpty, "a valid handshake is logged when it opens, not when it is checked")

        let missingKey = Self.valid.filter { $0.0 != "Sec-WebSocket-Key" } + [("X-Forwarded-For", "203.0.113.9")]
        guard case .answer(let answer) = await upgrader.decide(Self.head("/ws", missingKey), remoteAddress: Self.peer, on: loop) else {
            Issue.record("a handshake without a key was accepted")
            return
        }
        let body = String(buffer: answer.body)
        #expect(answer.head.status == .badRequest && body.contains("Sec-WebSocket-Key"), "\(answer)")
        #expect(answer.head.headers["Content-Length"] == [String(answer.body.readableBytes)])
        #expect(answer.head.headers["Connection"] == ["close"])
        let rejected = try #require(records(logs).first { $0["event"] as? String == "connection_rejected" }?["event_data"] as? [String: Any])
        #expect(rejected["rejection"] as? String == "missing_key" && rejected["remote_addr"] as? String == "203.0.113.9", "\(rejected)")
    }

    @Test("decide: processRequest runs before the handshake; its response is the answer, logged as http_response_sent; a valid token upgrades; the hook sees the client address")
    func processRequest() async throws {
        let logs = MemorySink()
        let upgrader = upgrader(logs) { request, context in
            guard context.clientAddress == "203.0.113.9" else { return HTTPResponse(status: .forbidden, body: "who are you\n") }
            return request.uri.hasSuffix("token=good") ? nil : HTTPResponse(status: .unauthorized, body: "bad token\n")
        }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let forwarded = Self.valid + [("X-Forwarded-For", "203.0.113.9")]
        guard case .answer(let answer) = await upgrader.decide(Self.head("/ws?token=bad", forwarded), remoteAddress: Self.peer, on: loop) else {
            Issue.record("processRequest's answer was not used")
            return
        }
        #expect(answer.head.status == .unauthorized && String(buffer: answer.body) == "bad token\n", "\(answer)")
        #expect(answer.head.headers["Content-Length"] == ["10"] && answer.head.headers["Content-Type"] == ["text/plain; charset=utf-8"])
        let sent = try #require(records(logs).first { $0["event"] as? String == "http_response_sent" }?["event_data"] as? [String: Any])
        #expect(sent["status"] as? Int == 401 && sent["remote_addr"] as? String == "203.0.113.9", "\(sent)")
        guard case .upgrade = await upgrader.decide(Self.head("/ws?token=good", forwarded), remoteAddress: Self.peer, on: loop) else {
            Issue.record("a good token did not upgrade")
            return
        }
    }
}
