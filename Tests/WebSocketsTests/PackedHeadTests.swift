import NIOHTTP1
import Testing
@testable import WebSockets
@testable import WebSocketCore

/// `ws.request` and `ws.response` are kept packed and rebuilt on access: every part must come
/// back as it went in, in order, repeated names included.
@Suite("PackedHead: request and response heads round-trip")
struct PackedHeadTests {
    static let long = String(repeating: "v", count: 20_000)  // lengths of three varint bytes

    @Test("a request: method, target, version, every header in order")
    func request() {
        var headers = HTTPHeaders([("Host", "example.com:8765"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                   ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
                                   ("X-Empty", ""), ("Cookie", "a=1"), ("Cookie", "b=2"), ("X-Unicode", "héllo 日本 😀")])
        headers.add(name: "X-Long", value: Self.long)
        for method in [HTTPMethod.GET, .CONNECT, .RAW(value: "PURGE")] {
            let head = HTTPRequestHead(version: .http1_1, method: method, uri: "/chat?room=\(Self.long.prefix(200))", headers: headers)
            let back = PackedHead(head).request
            #expect(back.method == method)
            #expect(back.uri == head.uri)
            #expect(back.version == .http1_1)
            #expect(back.headers.map { "\($0.name)=\($0.value)" } == headers.map { "\($0.name)=\($0.value)" })
        }
        let bare = PackedHead(HTTPRequestHead(version: .init(major: 1, minor: 0), method: .GET, uri: "")).request
        #expect(bare.uri == "" && bare.headers.isEmpty && bare.version == .http1_0)
    }

    @Test("a response: status code and reason, version, headers")
    func response() {
        let headers = HTTPHeaders([("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                   ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), ("X-Long", Self.long)])
        for status in [HTTPResponseStatus.switchingProtocols, .init(statusCode: 299, reasonPhrase: "Mine ✓"), .init(statusCode: 101, reasonPhrase: "")] {
            let back = PackedHead(HTTPResponseHead(version: .http1_1, status: status, headers: headers)).response
            #expect(back.status.code == status.code && back.status.reasonPhrase == status.reasonPhrase)
            #expect(back.version == .http1_1)
            #expect(back.headers.map { "\($0.name)=\($0.value)" } == headers.map { "\($0.name)=\($0.value)" })
        }
    }
}

@Suite("PackedHead: headers alone, and one header looked up")
struct PackedHeadersTests {
    @Test("headers alone round-trip; values(of:) is case-insensitive, keeps repeats in order, finds nothing missing")
    func headersAlone() {
        let headers = HTTPHeaders([("X-Request-ID", "abc"), ("Cookie", "a=1"), ("cookie", "b=2"), ("X-Long", PackedHeadTests.long)])
        let packed = PackedHead(headers: headers)
        #expect(packed.headers.map { "\($0.name)=\($0.value)" } == headers.map { "\($0.name)=\($0.value)" })
        #expect(packed.values(of: "COOKIE") == ["a=1", "b=2"])
        #expect(packed.values(of: "x-request-id") == ["abc"])
        #expect(packed.values(of: "x-long") == [PackedHeadTests.long])
        #expect(packed.values(of: "X-Request-I").isEmpty && packed.values(of: "Missing").isEmpty)
        let lineOnly = PackedHead(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/x", headers: headers), withHeaders: false)
        #expect(lineOnly.request.uri == "/x" && lineOnly.request.headers.isEmpty)
    }
}
