import NIOCore
import NIOHTTP1
import Testing
import WebSocketTestSupport
@testable import WebSocketCore

func upgradeRequest(_ extra: [(String, String)] = [], removing: Set<String> = [], method: HTTPMethod = .GET,
                    version: HTTPVersion = .http1_1) -> HTTPRequestHead {
    var headers = HTTPHeaders()
    let base: [(String, String)] = [("Host", "server.example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
    for (n, v) in base where !removing.contains(n) { headers.add(name: n, value: v) }
    for (n, v) in extra { headers.add(name: n, value: v) }
    return HTTPRequestHead(version: version, method: method, uri: "/chat", headers: headers)
}

/// RFC 6455 §4.2: the server's side of the opening handshake.
@Suite("ServerHandshake: RFC 6455 §4.2")
struct ServerHandshakeTests {
    @Test("§1.3/§4.2.2 the RFC's example key gives the RFC's accept value")
    func acceptValue() {
        #expect(AcceptKey.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("the RFC's example request is accepted with a 101 and the right headers")
    func accepts() throws {
        let result = try ServerHandshake.accept(upgradeRequest()).get()
        #expect(result.response.status == .switchingProtocols)
        #expect(result.response.headers["Sec-WebSocket-Accept"] == ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])
        #expect(result.response.headers["Upgrade"] == ["websocket"])
        #expect(result.response.headers["Connection"] == ["Upgrade"])
        #expect(result.subprotocol == nil)
    }

    @Test("tokens are compared case-insensitively, in lists and across header lines")
    func tokenLists() throws {
        var req = upgradeRequest(removing: ["Upgrade", "Connection"])
        req.headers.add(name: "upgrade", value: "h2c, WebSocket")
        req.headers.add(name: "CONNECTION", value: "keep-alive")
        req.headers.add(name: "connection", value: " UPGRADE ")
        #expect((try? ServerHandshake.accept(req).get()) != nil)
    }

    static let rejections: [(String, HTTPRequestHead, HandshakeRejection.Kind, UInt)] = [
        ("POST", upgradeRequest(method: .POST), .invalidMethod, 405),
        ("HTTP/1.0", upgradeRequest(version: .http1_0), .invalidHTTPVersion, 505),
        ("no Host", upgradeRequest(removing: ["Host"]), .missingHost, 400),
        ("two Hosts", upgradeRequest([("Host", "b")]), .missingHost, 400),
        ("no Upgrade", upgradeRequest(removing: ["Upgrade"]), .invalidUpgrade, 426),
        ("Upgrade: h2c", upgradeRequest([("Upgrade", "h2c")], removing: ["Upgrade"]), .invalidUpgrade, 426),
        ("no Connection", upgradeRequest(removing: ["Connection"]), .invalidConnection, 426),
        ("Connection: keep-alive", upgradeRequest([("Connection", "keep-alive")], removing: ["Connection"]), .invalidConnection, 426),
        ("no key", upgradeRequest(removing: ["Sec-WebSocket-Key"]), .missingKey, 400),
        ("two keys", upgradeRequest([("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA==")]), .invalidKey, 400),
        ("key not base64", upgradeRequest([("Sec-WebSocket-Key", "not base64!!")], removing: ["Sec-WebSocket-Key"]), .invalidKey, 400),
        ("key of 15 bytes", upgradeRequest([("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4P")], removing: ["Sec-WebSocket-Key"]), .invalidKey, 400),
        ("no version", upgradeRequest(removing: ["Sec-WebSocket-Version"]), .unsupportedVersion, 426),
        ("version 8", upgradeRequest([("Sec-WebSocket-Version", "8")], removing: ["Sec-WebSocket-Version"]), .unsupportedVersion, 426),
        ("bad extensions", upgradeRequest([("Sec-WebSocket-Extensions", "permessage-deflate; =x")]), .invalidExtensions, 400),
    ]

    @Test("each invalid request gets its own status and reason", arguments: rejections)
    func rejects(name: String, request: HTTPRequestHead, kind: HandshakeRejection.Kind, status: UInt) {
        switch ServerHandshake.accept(request) {
        case .success: Issue.record("\(name) was accepted")
        case .failure(let rejection):
            #expect(rejection.kind == kind, "\(name)")
            #expect(rejection.status.code == status, "\(name)")
            #expect(!rejection.reason.isEmpty)
            let head = rejection.responseHead()
            #expect(head.headers["Content-Length"] == [String(rejection.body.utf8.count)])
        }
    }

    @Test("§4.2.2 an unsupported version gets 426 with Sec-WebSocket-Version: 13; POST gets Allow: GET")
    func rfcHeaders() {
        guard case .failure(let v) = ServerHandshake.accept(upgradeRequest([("Sec-WebSocket-Version", "8")], removing: ["Sec-WebSocket-Version"])) else {
            Issue.record("accepted"); return
        }
        #expect(v.responseHead().headers["Sec-WebSocket-Version"] == ["13"])
        guard case .failure(let m) = ServerHandshake.accept(upgradeRequest(method: .POST)) else { Issue.record("accepted"); return }
        #expect(m.responseHead().headers["Allow"] == ["GET"])
    }

    @Test("subprotocols: the first of the client's offer that the server speaks; none when nothing matches")
    func subprotocols() throws {
        let req = upgradeRequest([("Sec-WebSocket-Protocol", "chat, superchat"), ("Sec-WebSocket-Protocol", "v2")])
        let r1 = try ServerHandshake.accept(req, options: .init(subprotocols: ["v2", "chat"])).get()
        #expect(r1.subprotocol == "chat")
        #expect(r1.response.headers["Sec-WebSocket-Protocol"] == ["chat"])
        let r0 = try ServerHandshake.accept(req, options: .init(subprotocols: ["v2", "superchat"])).get()
        #expect(r0.subprotocol == "superchat")
        let r2 = try ServerHandshake.accept(req, options: .init(subprotocols: ["mqtt"])).get()
        #expect(r2.subprotocol == nil)
        #expect(r2.response.headers["Sec-WebSocket-Protocol"].isEmpty)
        let r3 = try ServerHandshake.accept(req, options: .init(selectSubprotocol: { offered, _ in offered.last })).get()
        #expect(r3.subprotocol == "v2")
        guard case .failure(let bad) = ServerHandshake.accept(req, options: .init(selectSubprotocol: { _, _ in "evil" })) else {
            Issue.record("a subprotocol the client did not offer was accepted"); return
        }
        #expect(bad.kind == .invalidSubprotocols)
    }

    @Test("the engine records the handshake and moves to OPEN or CLOSED")
    func engineHandshake() {
        var ok = WebSocketEngine(role: .server)
        ok.isTracing = true
        _ = ok.accept(upgradeRequest())
        #expect(ok.state == .open)
        #expect(ok.drainTraces().map(\.prefix) == ["<", ">", "="])
        var bad = WebSocketEngine(role: .server)
        _ = bad.accept(upgradeRequest(method: .POST))
        #expect(bad.state == .closed)
        bad.receive(clientFrame(opcode: 1, payload: [0x61]))
        #expect(bad.drainEvents().isEmpty)
    }
}

/// RFC 6455 §4.1: the client's side.
@Suite("ClientHandshake: RFC 6455 §4.1")
struct ClientHandshakeTests {
    func handshake(subprotocols: [String] = [], offers: [ExtensionOffer] = []) -> ClientHandshake {
        var rng = SeededGenerator(seed: 5)
        return ClientHandshake(host: "example.com:8765", target: "/chat?x=1", origin: "https://example.com",
                               subprotocols: subprotocols, extensionOffers: offers, generator: &rng)
    }

    @Test("the request carries every required header and a valid random key")
    func request() {
        let hs = handshake(subprotocols: ["chat", "v2"])
        let req = hs.request()
        #expect(req.method == .GET && req.version == .http1_1 && req.uri == "/chat?x=1")
        #expect(req.headers["Host"] == ["example.com:8765"])
        #expect(req.headers["Sec-WebSocket-Version"] == ["13"])
        #expect(req.headers["Sec-WebSocket-Protocol"] == ["chat, v2"])
        #expect(AcceptKey.isValidKey(hs.key))
        var a = SystemRandomNumberGenerator(), b = SystemRandomNumberGenerator()
        #expect(AcceptKey.randomKey(using: &a) != AcceptKey.randomKey(using: &b))
    }

    @Test("client request → server accept → client validate, end to end")
    func roundTrip() throws {
        let hs = handshake(subprotocols: ["v2"])
        let accepted = try ServerHandshake.accept(hs.request(), options: .init(subprotocols: ["v2"])).get()
        let result = try hs.validate(accepted.response)
        #expect(result.subprotocol == "v2")
    }

    func response(_ headers: [(String, String)], status: HTTPResponseStatus = .switchingProtocols) -> HTTPResponseHead {
        HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(headers))
    }

    @Test("invalid responses fail with a specific error")
    func invalidResponses() {
        let hs = handshake(subprotocols: ["v2"], offers: [ExtensionOffer(name: "permessage-deflate")])
        let accept = AcceptKey.acceptValue(forKey: hs.key)
        let good: [(String, String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]
        let cases: [(HTTPResponseHead, HandshakeError.Kind)] = [
            (response(good, status: .forbidden), .invalidStatus),
            (response(good.filter { $0.0 != "Upgrade" }), .invalidUpgrade),
            (response(good.filter { $0.0 != "Connection" }), .invalidConnection),
            (response(good.filter { $0.0 != "Sec-WebSocket-Accept" }), .invalidAccept),
            (response(good.filter { $0.0 != "Sec-WebSocket-Accept" } + [("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]), .invalidAccept),
            (response(good + [("Sec-WebSocket-Protocol", "chat")]), .unexpectedSubprotocol),
            (response(good + [("Sec-WebSocket-Protocol", "v2, v2")]), .unexpectedSubprotocol),
            (response(good + [("Sec-WebSocket-Extensions", "x-webkit-deflate-frame")]), .unexpectedExtension),
            (response(good + [("Sec-WebSocket-Extensions", "permessage-deflate; \"")]), .invalidExtensions),
        ]
        for (head, kind) in cases {
            #expect(throws: HandshakeError.self) { try hs.validate(head) }
            do { _ = try hs.validate(head) } catch { #expect(error.kind == kind) }
        }
        #expect((try? hs.validate(response(good + [("Sec-WebSocket-Extensions", "permessage-deflate")]))) != nil)
    }

    @Test("the engine opens on a valid response and processes frames that arrived with it")
    func engineProcessesEarlyFrames() throws {
        let hs = handshake()
        var engine = WebSocketEngine(role: .client)
        let req = engine.request(hs)
        let accepted = try ServerHandshake.accept(req).get()
        engine.receive(rawFrame(opcode: 1, payload: Array("early".utf8)))  // bytes right behind the 101
        #expect(engine.drainEvents().isEmpty)
        _ = try engine.processResponse(accepted.response, for: hs)
        #expect(engine.state == .open)
        #expect(engine.drainEvents() == [.message(.text("early"))])
    }
}

/// RFC 6455 §9.1: the Sec-WebSocket-Extensions grammar.
@Suite("ExtensionOffer: RFC 6455 §9.1")
struct ExtensionHeaderTests {
    @Test("parses names, parameters, quoted values and several offers across lines")
    func parses() throws {
        let offers = try ExtensionOffer.parse([
            "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\", permessage-deflate",
            " x-foo ;a=1 ; b",
        ])
        #expect(offers == [
            ExtensionOffer(name: "permessage-deflate", parameters: [("client_max_window_bits", nil), ("server_max_window_bits", "10")]),
            ExtensionOffer(name: "permessage-deflate"),
            ExtensionOffer(name: "x-foo", parameters: [("a", "1"), ("b", nil)]),
        ])
        #expect(offers[0].description == "permessage-deflate; client_max_window_bits; server_max_window_bits=10")
    }

    @Test("malformed headers are errors", arguments: ["; a", "x; =1", "x; a=\"1", "x y", "x; a=\"1 2\"", "x; a=\"\""])
    func malformed(value: String) {
        #expect(throws: ExtensionHeaderError.self) { try ExtensionOffer.parse([value]) }
    }
}
