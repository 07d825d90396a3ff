import Foundation
import Logging
import NIOCore
import NIOSSL
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

let peers = repositoryRoot.appendingPathComponent("Tests/Peers").path

/// A self-signed certificate for 127.0.0.1, made with openssl at test time.
func makeCertificate() async throws -> (cert: String, key: String) {
    let dir = NSTemporaryDirectory() + "ws-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let result = try await runCommand("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                                     "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                                                     "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                                                     "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem"])
    guard result.status == 0 else { throw WebSocketError(.handshakeFailed, "openssl failed: \(result.output)") }
    return (dir + "/cert.pem", dir + "/key.pem")
}

@Suite("Interoperability with third-party peers", .serialized, .timeLimit(.minutes(3)))
struct InteropTests {
    @Test("Python websockets client → our server: sizes, fragments, ping, subprotocol, close codes both ways, 403")
    func pythonClient() async throws {
        let server = try await startTestServer()
        let result = try await runCommand("/usr/bin/env", ["python3", peers + "/py_client.py", "ws://127.0.0.1:\(server.port)"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasSuffix("ok\n"), "\(result.output)")
        await server.shutdown()
    }

    @Test("our client → Python websockets server: sizes, fragments, ping, subprotocol, server close")
    func pythonServer() async throws {
        let port = freePort()
        let log = NSTemporaryDirectory() + "ws-pyserver-\(getpid()).log"
        let python = try ChildProcess("/usr/bin/env", ["python3", peers + "/py_server.py", String(port)], output: log)
        defer { python.stop() }
        await waitFor({ (try? String(contentsOfFile: log, encoding: .utf8))?.contains("listening") == true }, seconds: 15)
        var configuration = ClientConfiguration(subprotocols: ["chat"])
        configuration.connection.maxMessageSize = 8 << 20
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: configuration)
        #expect(ws.subprotocol == "chat")
        var it = ws.messages.makeAsyncIterator()
        for size in [0, 1, 125, 126, 65535, 65536, 4 << 20] {
            let text = String(repeating: "ü", count: size / 2)
            try await ws.send(text)
            #expect(try await it.next() == .text(text))
            let bytes = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0) })
            try await ws.send(bytes)
            #expect(try await it.next() == .binary(bytes))
        }
        let parts = AsyncStream<ByteBuffer> { c in
            c.yield(ByteBuffer(bytes: [1]))
            c.yield(ByteBuffer(bytes: [2, 3]))
            c.finish()
        }
        try await ws.send(fragments: parts, text: false)
        #expect(try await it.next() == .binary(ByteBuffer(bytes: [1, 2, 3])))
        _ = try await ws.ping(ByteBuffer(string: "swift"))
        await ws.close(code: CloseCode(4003), reason: "swift says bye")
        #expect(ws.closeCode == CloseCode(4003))
        #expect(ws.closeReason == "swift says bye")

        let closing = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/close/4004",
                                                        configuration: ClientConfiguration(subprotocols: ["chat"]))
        try await closing.send("trigger")
        await closing.waitUntilClosed()
        #expect(closing.closeCode == CloseCode(4004))
        #expect(closing.closeReason == "python says bye")
    }

    @Test("node ws client → our server")
    func nodeClient() async throws {
        let server = try await startTestServer()
        let result = try await runCommand("/usr/bin/env", ["NODE_PATH=/usr/share/nodejs:/usr/lib/nodejs", "node", peers + "/node_client.js",
                                                     "ws://127.0.0.1:\(server.port)"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasSuffix("ok\n"), "\(result.output)")
        await server.shutdown()
    }

    @Test("TLS: Python client → our wss server, our client → Python wss server, with a certificate made at test time")
    func tls() async throws {
        let (cert, key) = try await makeCertificate()
        let server = try await startTestServer { configuration in
            configuration.tls = .makeServerConfiguration(
                certificateChain: try! NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
                privateKey: .privateKey(try! NIOSSLPrivateKey(file: key, format: .pem)))
        }
        let result = try await runCommand("/usr/bin/env", ["python3", peers + "/py_client.py", "wss://127.0.0.1:\(server.port)", cert])
        #expect(result.status == 0, "\(result.output)")
        var trusting = ClientConfiguration(subprotocols: ["chat"])
        trusting.tls.trustRoots = .file(cert)
        let ws = try await WebSocketClient.connect(to: "wss://127.0.0.1:\(server.port)/echo", configuration: trusting)
        try await ws.send("over tls")
        var it = ws.messages.makeAsyncIterator()
        #expect(try await it.next() == .text("over tls"))
        await ws.close()
        // Without trusting the certificate the handshake fails.
        await #expect(throws: (any Error).self) { _ = try await WebSocketClient.connect(to: "wss://127.0.0.1:\(server.port)/echo") }
        await server.shutdown()

        let port = freePort()
        let log = NSTemporaryDirectory() + "ws-pytls-\(getpid()).log"
        let python = try ChildProcess("/usr/bin/env", ["python3", peers + "/py_server.py", String(port), cert, key], output: log)
        defer { python.stop() }
        await waitFor({ (try? String(contentsOfFile: log, encoding: .utf8))?.contains("listening") == true }, seconds: 15)
        let toPython = try await WebSocketClient.connect(to: "wss://127.0.0.1:\(port)/echo", configuration: trusting)
        try await toPython.send("tls to python")
        var it2 = toPython.messages.makeAsyncIterator()
        #expect(try await it2.next() == .text("tls to python"))
        await toPython.close()
    }
}

@Suite("Hostile and broken peers: clear errors, and the server keeps serving", .serialized, .timeLimit(.minutes(3)))
struct HostilePeerTests {
    func expectStillServing(_ server: WebSocketServer) async throws {
        let port = server.port
        let ws = try await bounded(10, "connect after the hostile peer") {
            try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
        }
        try await bounded(10, "send") { try await ws.send("still here") }
        let reply = try await bounded(10, "receive the echo") {
            var it = ws.messages.makeAsyncIterator()
            return try await it.next()
        }
        #expect(reply == .text("still here"))
        try await bounded(15, "close") { await ws.close() }
    }

    static let handshake = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    struct BadRequest: Sendable, CustomTestStringConvertible {
        var name: String
        var request: String
        var status: String
        var testDescription: String { name }
    }

    static let badRequests = [
        BadRequest(name: "garbage", request: "garbage\r\n\r\n", status: "400 Bad Request"),
        BadRequest(name: "no upgrade", request: "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", status: "426 Upgrade Required"),
        BadRequest(name: "POST", request: "POST /echo HTTP/1.1\r\nHost: x\r\n\r\n", status: "405 Method Not Allowed"),
        BadRequest(name: "version 8", request: handshake.replacingOccurrences(of: "Version: 13", with: "Version: 8"), status: "426 Upgrade Required"),
        BadRequest(name: "9000-byte target", request: "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n", status: "414 URI Too Long"),
        BadRequest(name: "200 headers", request: "GET / HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 200) + "\r\n",
                   status: "431 Request Header Fields Too Large"),
    ]

    @Test("bad HTTP gets a status and a reason", arguments: badRequests)
    func badHTTP(case bad: BadRequest) async throws {
        let request = bad.request, status = bad.status
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let raw = try RawSocket(port: server.port)
        raw.send(request)
        let response = String(decoding: await raw.readAllAsync(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 \(status)\r\n"), "\(response.prefix(200))")
        #expect(response.contains("Content-Length:"))
        try await expectStillServing(server)
        await waitFor { records(logs).contains { $0["event"] as? String == "connection_rejected" } }
        let rejected = records(logs).first { $0["event"] as? String == "connection_rejected" }
        #expect(rejected?["level"] as? String == "info")
        await server.shutdown()
    }

    static let badFrames: [([UInt8], UInt16)] = [
        ([0x81, 0x02, 0x68, 0x69], 1002),                                              // unmasked client frame
        ([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], 1002),                    // 2^63 length
        ([0x83, 0x80, 1, 2, 3, 4], 1002),                                              // reserved opcode
        ([0x81, 0x82, 0, 0, 0, 0, 0xC0, 0x80], 1007),                                 // invalid UTF-8
        ([0x82, 0xFF, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3, 4], 1009),                    // 256 MiB message
    ]

    @Test("a message that arrived before a violation is echoed before the close (Autobahn's strict behaviour)")
    func echoBeforeViolationClose() async throws {
        let server = try await startTestServer()
        let raw = try RawSocket(port: server.port)
        raw.send(Self.handshake)
        let head = String(decoding: try await bounded(10, "read the 101") { await raw.readHeadAsync() }, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        // One write: a masked text "hi", a frame with reserved opcode 6, a ping.
        raw.send([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2, 0x86, 0x80, 1, 2, 3, 4, 0x89, 0x80, 1, 2, 3, 4])
        let reply = try await bounded(10, "read until the server closes") { await raw.readAllAsync() }
        #expect(Array(reply.prefix(4)) == [0x81, 0x02, 0x68, 0x69], "the echo first: \(reply)")
        #expect(Array(reply.dropFirst(4).prefix(4)) == [0x88, UInt8(reply.count - 6), 0x03, 0xEA], "then close 1002, and no pong: \(reply)")
        try await expectStillServing(server)
        try await bounded(20, "shutdown") { await server.shutdown() }
    }

    @Test("invalid frames get the right close code", arguments: badFrames)
    func invalidFrames(frame: [UInt8], code: UInt16) async throws {
        let server = try await startTestServer()
        let raw = try RawSocket(port: server.port)
        raw.send(Self.handshake)
        let head = String(decoding: try await bounded(10, "read the 101") { await raw.readHeadAsync() }, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        raw.send(frame)
        let reply = try await bounded(10, "read until the server closes") { await raw.readAllAsync() }
        // The last bytes are the close frame: 0x88, length, code.
        let close = Array(reply.suffix(from: reply.lastIndex(of: 0x88) ?? reply.endIndex))
        #expect(close.count >= 4, "no close frame in \(reply)")
        if close.count >= 4 { #expect(UInt16(close[2]) << 8 | UInt16(close[3]) == code) }
        try await expectStillServing(server)
        try await bounded(20, "shutdown") { await server.shutdown() }
    }
}
