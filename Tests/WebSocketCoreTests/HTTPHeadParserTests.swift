import NIOCore
import NIOHTTP1
import Testing
@testable import WebSocketCore

/// RFC 9112 §2–5 as far as a WebSocket handshake needs it, with limits.
@Suite("HTTPHeadParser: RFC 9112 heads with limits")
struct HTTPHeadParserTests {
    let request = "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    @Test("a request parses the same fed whole or byte by byte; bytes after the head stay")
    func dripFeed() throws {
        var whole = ByteBuffer(string: request)
        whole.writeBytes([0x81, 0x00])
        var parser = HTTPHeadParser()
        let head = try #require(try parser.parseRequest(&whole))
        #expect(head.method == .GET && head.uri == "/chat?x=1" && head.version == .http1_1)
        #expect(head.headers["Sec-WebSocket-Version"] == ["13"])
        #expect(whole.readableBytes == 2)
        var drip = HTTPHeadParser()
        var pending = ByteBuffer()
        var result: HTTPRequestHead?
        for byte in request.utf8 {
            #expect(result == nil)
            pending.writeInteger(byte)
            result = try drip.parseRequest(&pending)
        }
        #expect(result == head)
        #expect(try ServerHandshake.accept(head).get().response.status == .switchingProtocols)
    }

    @Test("bare LF line ends and leading empty lines are accepted")
    func lenient() throws {
        var buffer = ByteBuffer(string: "\r\n" + request.split(separator: "\r\n", omittingEmptySubsequences: false).joined(separator: "\n"))
        var parser = HTTPHeadParser()
        #expect(try parser.parseRequest(&buffer)?.headers["Host"] == ["example.com"])
    }

    @Test("bytes as sent: UTF-8 values kept, OWS trimmed, names' case kept, leading empty lines drip-fed; idle until a head starts")
    func bytesAsSent() throws {
        let head = "\r\n\r\nGET /caf%C3%A9 HTTP/1.1\r\nHost: \t example.com \t\r\nX-Name: Zoë – “quoted”\r\n"
            + "content-length:0\r\nEmpty:\r\n\r\n"
        var parser = HTTPHeadParser()
        var pending = ByteBuffer()
        var result: HTTPRequestHead?
        for (i, byte) in head.utf8.enumerated() {
            #expect(result == nil)
            pending.writeInteger(byte)
            result = try parser.parseRequest(&pending)
            if i == 1 || i == 3 { #expect(parser.isIdle && pending.readableBytes == 0, "leading empty lines are consumed") }
            if i == 4 { #expect(!parser.isIdle) }
        }
        let request = try #require(result)
        #expect(request.uri == "/caf%C3%A9")
        #expect(Array(request.headers.map(\.name)) == ["Host", "X-Name", "content-length", "Empty"])
        #expect(request.headers["Host"] == ["example.com"])
        #expect(request.headers["x-name"] == ["Zoë – “quoted”"])
        #expect(request.headers["Empty"] == [""])
        #expect(pending.readableBytes == 0 && parser.isIdle)
        var other = ByteBuffer(string: "PATCH / HTTP/1.0\r\n\r\n")
        let patch = try #require(try parser.parseRequest(&other))
        #expect(patch.method == .PATCH && patch.version == .http1_0)
    }

    static let bad: [(String, HTTPHeadError.Kind, UInt)] = [
        ("GET / HTTP/1.1\r\nHost: a\r\n Folded: x\r\n\r\n", .obsoleteLineFolding, 400),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", .malformedHeader, 400),
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", .malformedHeader, 400),
        ("GET / HTTP/1.1\r\nX: a\u{1}b\r\n\r\n", .malformedHeader, 400),
        ("GET /  HTTP/1.1\r\n\r\n", .malformedStartLine, 400),
        ("GARBAGE\r\n\r\n", .malformedStartLine, 400),
        ("GET / HTTP/2.0\r\n\r\n", .unsupportedVersion, 505),
        ("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", .unexpectedBody, 400),
        ("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", .unexpectedBody, 400),
        ("GET / HTTP/1.1\r\nCONTENT-LENGTH: 00\r\n\r\n", .unexpectedBody, 400),
        ("GET / HTTP/1.1\r\n: empty name\r\n\r\n", .malformedHeader, 400),
        ("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", .malformedHeader, 400),
        ("GET / HTTP/1.1 extra\r\n\r\n", .malformedStartLine, 400),
        ("G(T / HTTP/1.1\r\n\r\n", .malformedStartLine, 400),
        ("GET / HTTP/1.10\r\n\r\n", .malformedStartLine, 400),
        ("GET / http/1.1\r\n\r\n", .malformedStartLine, 400),
        // The header lines are checked before the start line, as the first version of the parser did.
        ("GARBAGE\r\nNoColon\r\n\r\n", .malformedHeader, 400),
    ]

    @Test("malformed heads are rejected with a specific error and status", arguments: bad)
    func malformed(input: String, kind: HTTPHeadError.Kind, status: UInt) {
        var buffer = ByteBuffer(string: input)
        var parser = HTTPHeadParser()
        do {
            _ = try parser.parseRequest(&buffer)
            Issue.record("accepted: \(input.debugDescription)")
        } catch {
            #expect(error.kind == kind)
            #expect(error.status.code == status)
            #expect(error.rejection.responseHead().status.code == status)
        }
    }

    @Test("the request target is kept byte for byte: raw UTF-8 accepted, invalid UTF-8 and control bytes refused with 400")
    func requestTargetBytes() throws {
        var parser = HTTPHeadParser(limits: HTTPHeadLimits(maxStartLineLength: 24))
        var raw = ByteBuffer(bytes: Array("GET /café/ü HTTP/1.1\r\n\r\n".utf8))
        let head = try #require(try parser.parseRequest(&raw))
        #expect(head.uri == "/café/ü")
        let refused: [[UInt8]] = [
            Array("GET /".utf8) + [0xFF, 0xFE] + Array(" HTTP/1.1\r\n\r\n".utf8),
            Array("GET /".utf8) + [0xC3] + Array(" HTTP/1.1\r\n\r\n".utf8),  // truncated sequence
            Array("GET /a\u{7F}b HTTP/1.1\r\n\r\n".utf8),
            Array("GET /a\rb HTTP/1.1\r\n\r\n".utf8),
            Array("GET /a\tb HTTP/1.1\r\n\r\n".utf8),
        ]
        for bytes in refused {
            var buffer = ByteBuffer(bytes: bytes)
            var parser = HTTPHeadParser(limits: HTTPHeadLimits(maxStartLineLength: 24))
            do {
                _ = try parser.parseRequest(&buffer)
                Issue.record("accepted: \(bytes)")
            } catch {
                #expect(error.kind == .malformedStartLine && error.status.code == 400, "\(bytes)")
            }
        }
    }

    @Test("limits are enforced while bytes arrive, before the line ends: 414 and 431")
    func limits() {
        let limits = HTTPHeadLimits(maxStartLineLength: 100, maxHeaderLineLength: 50, maxHeaderCount: 3)
        var longTarget = ByteBuffer(string: "GET /" + String(repeating: "a", count: 200))  // no line end yet
        var p1 = HTTPHeadParser(limits: limits)
        #expect(throws: HTTPHeadError.self) { _ = try p1.parseRequest(&longTarget) }
        var longHeader = ByteBuffer(string: "GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 60))
        var p2 = HTTPHeadParser(limits: limits)
        do { _ = try p2.parseRequest(&longHeader); Issue.record("accepted") } catch { #expect(error.status.code == 431) }
        var many = ByteBuffer(string: "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n")
        var p3 = HTTPHeadParser(limits: limits)
        do { _ = try p3.parseRequest(&many); Issue.record("accepted") } catch { #expect(error.kind == .tooManyHeaders) }
        var longStart = ByteBuffer(string: "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\n\r\n")
        var p4 = HTTPHeadParser(limits: limits)
        do { _ = try p4.parseRequest(&longStart); Issue.record("accepted") } catch { #expect(error.status.code == 414) }
    }

    @Test("responses: status line, reason with spaces, leftover frames")
    func responses() throws {
        var buffer = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        buffer.writeBytes([0x81, 0x02, 0x68, 0x69])
        var parser = HTTPHeadParser()
        let head = try #require(try parser.parseResponse(&buffer))
        #expect(head.status == .switchingProtocols && head.status.reasonPhrase == "Switching Protocols")
        #expect(buffer.readableBytes == 4)
        for bad in ["HTTP/1.1 1x1 Nope", "HTTP/1.1 99 Low", "HTTP/1.1 600 High", "HTTP/1.1 1010 Long", "HTTP/1.1", "HTTP/2.0 101 X"] {
            var buffer = ByteBuffer(string: bad + "\r\n\r\n")
            var p = HTTPHeadParser()
            #expect(throws: HTTPHeadError.self, "\(bad)") { _ = try p.parseResponse(&buffer) }
        }
        var bare = ByteBuffer(string: "HTTP/1.1 204\r\n\r\n")
        var p = HTTPHeadParser()
        let noReason = try #require(try p.parseResponse(&bare))
        #expect(noReason.status == .noContent)
    }

    @Test("random bytes never crash the parser", arguments: [1, 2, 3])
    func fuzz(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let alphabet = Array("GET / HTTP/1.1\r\n:ab \t\u{0}\u{7f}é".utf8)
        for _ in 0..<2000 {
            var buffer = ByteBuffer(bytes: (0..<Int.random(in: 0...120, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            var parser = HTTPHeadParser(limits: .init(maxStartLineLength: 64, maxHeaderLineLength: 64, maxHeaderCount: 4))
            _ = try? parser.parseRequest(&buffer)
        }
    }
}
