import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

/// HTTP heads are written from validated bytes: a CR, LF or NUL in a value (checked over the
/// UTF-8 bytes: `"\r\n"` is one `Character`) or a name that is not a token refuses the head
/// whole; nothing is rewritten.
@Suite("HTTP heads from validated bytes")
struct HTTPHeadWriterTests {
    /// Pieces of header values: the CR LF pair (one Character), lone CR, LF, NUL, multi-byte characters.
    static let pieces = ["a", " ", "\r\n", "\r", "\n", "\0", "é", "✓", "𝄞", "\u{2028}", ":", "\t"]

    @Test("property: a value is refused exactly when its bytes hold CR, LF or NUL; what is written parses back to the same headers")
    func propertyOverValues() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let value = (0..<Int.random(in: 0...8, using: &rng)).map { _ in Self.pieces.randomElement(using: &rng)! }.joined()
            let forbidden = value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "X-Value", value: value)
            var buffer = ByteBuffer()
            do {
                try HTTPHeadValidation.validate(head)  // what the server's decision checks before writing
                buffer.writeHTTPResponseHead(head)
                #expect(!forbidden, "written with a forbidden byte: \(Array(value.utf8))")
                var parser = HTTPHeadParser(limits: .init())
                let parsed = try #require(try parser.parseResponse(&buffer))
                // HTTP trims optional whitespace around a value (RFC 9110 §5.5).
                #expect(parsed.headers["X-Value"].first == value.trimmedOWS, "\(Array(value.utf8))")
            } catch let error as InvalidHTTPHead {
                #expect(forbidden, "refused a clean value \(Array(value.utf8)): \(error)")
                #expect(buffer.readableBytes == 0, "nothing written for a refused head")
                #expect(error.part == .headerValue && error.header == "X-Value")
            }
        }
    }

    @Test("names must be tokens; reason phrases and targets carry no CR, LF, NUL (a target no space)", arguments: [
        ("X-Ok", "GET", "/a?b=c", "OK", nil),
        ("X Bad", "GET", "/", "OK", InvalidHTTPHead.Part.headerName),
        ("X-Bad\r\n", "GET", "/", "OK", .headerName),
        ("", "GET", "/", "OK", .headerName),
        ("X-Ok", "GET", "/a\r\nX-Injected: 1", "OK", .target),
        ("X-Ok", "GET", "/a b", "OK", .target),
        ("X-Ok", "G T", "/", "OK", .method),
        ("X-Ok", "GET", "/", "OK\r\nX-Injected: 1", .reasonPhrase),
    ] as [(String, String, String, String, InvalidHTTPHead.Part?)])
    func partsChecked(name: String, method: String, target: String, reason: String, expected: InvalidHTTPHead.Part?) throws {
        var request = HTTPRequestHead(version: .http1_1, method: .RAW(value: method), uri: target)
        request.headers.add(name: name, value: "v")
        let response = HTTPResponseHead(version: .http1_1, status: .custom(code: 200, reasonPhrase: reason), headers: [name: "v"])
        var requestError: InvalidHTTPHead?
        do { try HTTPHeadValidation.validate(request) } catch { requestError = error }
        var responseError: InvalidHTTPHead?
        do { try HTTPHeadValidation.validate(response) } catch { responseError = error }
        switch expected {
        case nil: #expect(requestError == nil && responseError == nil)
        case .reasonPhrase?: #expect(responseError?.part == .reasonPhrase && requestError == nil)
        case let part?: #expect(requestError?.part == part)
        }
    }

    @Test("the client refuses a subprotocol with CR LF before connecting (nothing listens on the port, and it is not asked)")
    func clientRefusesBeforeConnecting() async throws {
        var configuration = ClientConfiguration(subprotocols: ["chat\r\nX-Injected: 1"])
        configuration.connection.openTimeout = .seconds(2)
        let error = await #expect(throws: WebSocketError.self) {
            _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:1/", configuration: configuration)
        }
        #expect(error?.kind == .invalidConfiguration, "\(String(describing: error))")
        #expect(error?.message.contains("header value of Sec-WebSocket-Protocol contains CR (0x0D)") == true, "\(String(describing: error))")
    }

    static let injected = "a\r\nX-Injected: 1"

    @Test("server: a processResponse header with CR LF is answered 500 (never sent, never rewritten), with an ERROR naming the header")
    func serverProcessResponse() throws {
        let h = try ConnectionHandlerTests().harness { $0.processResponse = { _, response in response.headers.add(name: "X-Evil", value: Self.injected) } }
        try h.send(upgradeRequest())
        let out = String(decoding: try h.written(), as: UTF8.self)
        #expect(out.hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"), "\(out)")
        #expect(!out.contains("X-Injected"))
        let error = try #require(records(h.logs).first { $0["level"] as? String == "error" })
        let message = ((error["event_data"] as? [String: Any])?["error_message"] as? String) ?? ""
        #expect(message.contains("header value of X-Evil contains CR (0x0D)"), "\(error)")
        #expect(h.events().contains("connection_rejected"))
    }

    @Test("server: a processRequest answer with a bad header, or extra handshake headers with LF, is answered 500 on both paths")
    func serverAnswersAndExtraHeaders() async throws {
        for mounted in [false, true] {
            for configure in [
                { (c: inout ServerConfiguration) in c.processRequest = { _, _ in HTTPResponse(status: .unauthorized, headers: ["WWW-Authenticate": Self.injected]) } },
                { (c: inout ServerConfiguration) in c.handshake.extraHeaders = ["X-Extra": "a\nb"] },
            ] {
                let logs = MemorySink()
                var configuration = ServerConfiguration()
                configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .info) }
                configure(&configuration)
                let status: UInt
                if mounted {
                    let upgrader = WebSocketHTTPUpgrader(configuration: configuration) { _ in }
                    let request = try Self.parsedRequest()
                    let loop = MultiThreadedEventLoopGroup.singleton.next()
                    guard case .answer(let answer) = await upgrader.decide(request, remoteAddress: nil, on: loop) else {
                        Issue.record("upgraded"); continue
                    }
                    status = answer.head.status.code
                } else {
                    let server = try await WebSocketServer.serve(host: "127.0.0.1", port: 0, configuration: configuration) { _ in }
                    let raw = try RawSocket(port: server.port)
                    raw.send(upgradeRequest())
                    let out = String(decoding: try await bounded(10, "read the answer") { await raw.readHeadAsync() }, as: UTF8.self)
                    #expect(!out.contains("X-Injected") && !out.contains("X-Extra"), "\(out)")
                    status = out.hasPrefix("HTTP/1.1 500 ") ? 500 : 0
                    await server.shutdown()
                }
                #expect(status == 500, "mounted: \(mounted)")
                #expect(records(logs).contains { $0["level"] as? String == "error" }, "an ERROR record says which header")
            }
        }
    }
}
