import Foundation
import NIOSSL
import Logging
import NIOCore
import NIOHTTP1
import Testing
@testable import WebSocketCompression
import WebSocketCore
import WebSocketLogging
import Synchronization
import WebSocketTestSupport
@testable import WebSockets

@Suite("Hostile and broken peers: clear errors, and the server keeps serving", .serialized, .timeLimit(.minutes(3)))
struct HostilePeerTests {
    func expectStillServing(_ server: WebSocketServer) async throws {
        let port = server.port
        let ws = try await bounded(10, "connect after the hostile peer") {
            try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
        }
        try await bounded(10, "send") { try await ws.send("still here") }
        #expect(try await nextMessage(ws, "receive the echo") == .text("still here"))
        try await bounded(15, "close") { await ws.close() }
    }

    /// The `connection_closed` record, once it is logged (waits at most 5 s).
    func closedRecord(_ logs: MemorySink) async -> [String: Any]? {
        await waitFor { records(logs).contains { $0["event"] as? String == "connection_closed" } }
        return records(logs).first { $0["event"] as? String == "connection_closed" }
    }

    static let handshake = upgradeRequest()

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
        BadRequest(name: "obsolete line folding (RFC 9112 §5.2)", request: handshake.replacingOccurrences(of: "Host: x\r\n", with: "Host: x\r\n folded\r\n"),
                   status: "400 Bad Request"),
        BadRequest(name: "two Sec-WebSocket-Key headers", request: handshake.replacingOccurrences(of: "Host: x\r\n", with: "Host: x\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"),
                   status: "400 Bad Request"),
        BadRequest(name: "no Sec-WebSocket-Key", request: handshake.replacingOccurrences(of: "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", with: ""),
                   status: "400 Bad Request"),
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

    @Test("§4.2.1 header names and tokens in any case, spread over lines: accepted over a socket")
    func caseVariations() async throws {
        let server = try await startTestServer()
        let raw = try RawSocket(port: server.port)
        raw.send("GET /echo HTTP/1.1\r\nhOsT: x\r\nuPgRaDe: WebSocket\r\nconnection: keep-alive\r\nCONNECTION: UPGRADE\r\n"
            + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n")
        let head = String(decoding: try await bounded(10, "101") { await raw.readHeadAsync() }, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(head)")
        #expect(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        raw.shutdownBoth()
        try await expectStillServing(server)
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

    /// Reads one unmasked server frame: (opcode byte, payload).
    func readFrame(_ raw: RawSocket) async throws -> (UInt8, [UInt8]) {
        let frame = try #require(try await raw.readFrameAsync(), "connection closed before a frame")
        return (frame.first, frame.payload)
    }

    func openRaw(_ server: WebSocketServer, extraHeaders: String = "", receiveBufferSize: Int32? = nil) async throws -> (RawSocket, String) {
        let raw = try RawSocket(port: server.port, receiveBufferSize: receiveBufferSize)
        raw.send(upgradeRequest(extraHeaders: extraHeaders))
        let head = String(decoding: try await bounded(10, "read the 101") { await raw.readHeadAsync() }, as: UTF8.self)
        try #require(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(head)")
        return (raw, head)
    }

    @Test("slowloris: a handshake trickling in a byte at a time is answered 408 at the open timeout, and logged")
    func slowloris() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs) { $0.connection.openTimeout = .seconds(2) }
        let raw = try RawSocket(port: server.port)
        let bytes = Array(Self.handshake.utf8)
        let trickle = Task {
            for byte in bytes.prefix(40) {   // bounded: 40 bytes, 0.25 s apart
                raw.send([byte])
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        let response = String(decoding: try await bounded(15, "the 408") { await raw.readAllAsync() }, as: UTF8.self)
        trickle.cancel()
        #expect(response.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(response)")
        await waitFor { records(logs).contains { ($0["event_data"] as? [String: Any])?["rejection"] as? String == "timeout" } }
        let rejected = records(logs).first { ($0["event_data"] as? [String: Any])?["rejection"] as? String == "timeout" }
        #expect(rejected?["level"] as? String == "info")
        #expect((rejected?["event_data"] as? [String: Any])?["status"] as? Int == 408)
        try await expectStillServing(server)
        await server.shutdown()
    }

    @Test("10,000 one-byte fragments make one 10,000-byte message")
    func tenThousandFragments() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let (raw, _) = try await openRaw(server)
        var frames: [UInt8] = []
        for i in 0..<10_000 {
            frames += clientFrame(fin: i == 9_999, opcode: i == 0 ? 0x1 : 0x0, payload: [0x61])
        }
        raw.send(frames)
        let (opcode, payload) = try await readFrame(raw)
        #expect(opcode == 0x81)
        #expect(payload.count == 10_000 && payload.allSatisfy { $0 == 0x61 })
        raw.send(clientFrame(opcode: 0x8, payload: [0x03, 0xE8]))
        let (closeOpcode, _) = try await readFrame(raw)
        #expect(closeOpcode == 0x88)
        let closed = await closedRecord(logs)?["event_data"] as? [String: Any]
        #expect(closed?["messages_in"] as? Int == 1 && closed?["close_code"] as? Int == 1000)
        try await expectStillServing(server)
        await server.shutdown()
    }

    @Test("a peer that never answers our close frame is disconnected at the close timeout, and logged")
    func unansweredClose() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs) { $0.connection.closeTimeout = .seconds(1) }
        let raw = try RawSocket(port: server.port)
        raw.send(upgradeRequest(path: "/close/4001"))
        _ = try await bounded(10, "101") { await raw.readHeadAsync() }
        raw.send(clientFrame(opcode: 0x1, payload: Array("bye".utf8)))    // the route closes after one message
        let (opcode, payload) = try await readFrame(raw)
        #expect(opcode == 0x88 && Array(payload.prefix(2)) == [0x0F, 0xA1])
        let rest = try await bounded(15, "EOF at the close timeout") { await raw.readAllAsync() }
        #expect(rest.isEmpty, "nothing after the close frame, then EOF")
        let closed = await closedRecord(logs)?["event_data"] as? [String: Any]
        #expect(closed?["close_code_sent"] as? Int == 4001)
        #expect(closed?["close_code_received"] == nil)
        #expect(closed?["initiator"] as? String == "local")
        try await expectStillServing(server)
        await server.shutdown()
    }

    @Test("§7.1.1 half-close: a close frame followed by FIN still gets its close reply, and the close is clean")
    func closeThenHalfClose() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let (raw, _) = try await openRaw(server)
        raw.send(clientFrame(opcode: 0x8, payload: [0x0F, 0xA2] + Array("done".utf8)))   // close 4002 "done"
        raw.shutdownWrite()
        let reply = try await bounded(10, "read until the server closes") { await raw.readAllAsync() }
        #expect(reply == [0x88, 0x06, 0x0F, 0xA2] + Array("done".utf8), "the close echoed, then EOF: \(reply)")
        let closed = await closedRecord(logs)?["event_data"] as? [String: Any]
        #expect(closed?["close_code_received"] as? Int == 4002)
        #expect(closed?["close_code_sent"] as? Int == 4002)
        #expect(closed?["initiator"] as? String == "remote")
        try await expectStillServing(server)
        await server.shutdown()
    }

    @Test("§7.1.5 FIN without a close frame: closed as 1006 (abnormal), nothing sent, logged")
    func halfCloseWithoutCloseFrame() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let (raw, _) = try await openRaw(server)
        raw.shutdownWrite()
        let reply = try await bounded(10, "read until the server closes") { await raw.readAllAsync() }
        #expect(reply.isEmpty, "1006 is never sent on the wire: \(reply)")
        let closed = await closedRecord(logs)
        #expect(closed?["level"] as? String == "info")
        let data = closed?["event_data"] as? [String: Any]
        #expect(data?["close_code"] as? Int == 1006)
        #expect(data?["initiator"] as? String == "abnormal")
        #expect(data?["close_code_sent"] == nil)
        try await expectStillServing(server)
        await server.shutdown()
    }

    @Test("a client that never reads: send suspends at the write buffer's high mark, memory stays bounded")
    func clientNeverReads() async throws {
        let sent = Atomic<Int>(0)
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: MemorySink()) }
        configuration.compression = nil
        let chunk = ByteBuffer(repeating: 0x2A, count: 64 << 10)
        let server = try await WebSocketServer.serve(port: 0, configuration: configuration) { ws in
            if ws.request.uri == "/flood" {
                for _ in 0..<2_000 {   // bounded: 125 MiB if nothing held it back
                    try await ws.send(chunk)
                    sent.add(1, ordering: .relaxed)
                }
            }
            for try await message in ws.messages { try await ws.send(message) }
        }
        let raw = try RawSocket(port: server.port, receiveBufferSize: 4096)
        raw.send(upgradeRequest(path: "/flood"))
        _ = try await bounded(10, "101") { await raw.readHeadAsync() }
        // Wait until sending stalls: the same count over 1 s (bounded: 10 s).
        var last = -1
        for _ in 0..<10 {
            let now = sent.load(ordering: .relaxed)
            if now == last { break }
            last = now
            try await Task.sleep(for: .seconds(1))
        }
        let stalled = sent.load(ordering: .relaxed)
        #expect(stalled < 2_000, "send never suspended")
        #expect(stalled * (64 << 10) < 32 << 20, "\(stalled) messages of 64 KiB were accepted for a peer that reads nothing")
        raw.shutdownBoth()
        try await expectStillServing(server)
        await server.shutdown()
    }

    @Test("a zip bomb (16 MiB of zeros in a few KiB) closes with 1009 while inflating, and is logged")
    func zipBomb() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)   // maxMessageSize 8 MiB
        let (raw, head) = try await openRaw(server, extraHeaders: "Sec-WebSocket-Extensions: permessage-deflate\r\n")
        #expect(head.contains("permessage-deflate"))
        let bomb = try HostilePathsTests.zipBomb()
        #expect(bomb.readableBytes < 64 << 10)
        raw.send(clientFrame(rsv: 0b100, opcode: 0x2, payload: Array(bomb.readableBytesView)))
        let (opcode, payload) = try await readFrame(raw)
        #expect(opcode == 0x88 && Array(payload.prefix(2)) == [0x03, 0xF1], "close 1009: \(payload)")
        let closed = await closedRecord(logs)?["event_data"] as? [String: Any]
        #expect(closed?["close_code"] as? Int == 1009)
        #expect((closed?["payload_bytes_in"] as? Int ?? .max) == 0, "the bomb was never delivered")
        try await expectStillServing(server)
        await server.shutdown()
    }

    @Test("a flood of handshakes with invalid keys: each gets 400, rejections are logged at most N per second plus a suppressed count")
    func handshakeFlood() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs) { $0.rejectionLogLimit = 5 }
        let total = 200
        for i in 0..<total {
            let raw = try RawSocket(port: server.port)
            raw.send(Self.handshake.replacingOccurrences(of: "dGhlIHNhbXBsZSBub25jZQ==", with: "not-a-key-\(i)"))
            let response = String(decoding: try await bounded(10, "400 #\(i)") { await raw.readAllAsync() }, as: UTF8.self)
            #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(response.prefix(100))")
        }
        let accounted = { () -> (logged: Int, suppressed: Int) in
            let all = records(logs)
            let logged = all.filter { $0["event"] as? String == "connection_rejected" }.count
            let suppressed = all.filter { $0["event"] as? String == "log_records_suppressed" }
                .compactMap { ($0["fields"] as? [String: Any])?["suppressed"] as? Int }.reduce(0, +)
            return (logged, suppressed)
        }
        await waitFor({ accounted().logged + accounted().suppressed == total }, seconds: 10)
        let (logged, suppressed) = accounted()
        #expect(logged + suppressed == total, "every rejection is either logged or counted")
        #expect(suppressed > 0 && logged < total)
        let reports = records(logs).filter { $0["event"] as? String == "log_records_suppressed" }
        #expect(reports.allSatisfy { $0["level"] as? String == "warning" && ($0["fields"] as? [String: Any])?["suppressed_event"] as? String == "connection_rejected" })
        #expect(logged <= 5 * (reports.count + 1), "at most 5 per one-second window")
        try await expectStillServing(server)
        await server.shutdown()
    }

    @Test("a flood of plain HTTP on a TLS port: tls_handshake_failed at INFO at most N per second, the rest counted by the time the server stops")
    func tlsFailureFlood() async throws {
        let logs = MemorySink()
        let certificate = try await makeCertificate()
        let server = try await startTestServer(logSink: logs) { configuration in
            configuration.rejectionLogLimit = 3
            configuration.tls = .makeServerConfiguration(
                certificateChain: try! NIOSSLCertificate.fromPEMFile(certificate.cert).map { .certificate($0) },
                privateKey: .privateKey(try! NIOSSLPrivateKey(file: certificate.key, format: .pem)))
        }
        let total = 40
        for i in 0..<total {
            let raw = try RawSocket(port: server.port)
            raw.send(Self.handshake)
            _ = try await bounded(10, "closed #\(i)") { await raw.readAllAsync() }
        }
        await server.shutdown()
        let all = records(logs)
        let failures = all.filter { $0["event"] as? String == "tls_handshake_failed" }
        let suppressed = all.filter { $0["event"] as? String == "log_records_suppressed" }
            .filter { ($0["fields"] as? [String: Any])?["suppressed_event"] as? String == "tls_handshake_failed" }
            .compactMap { ($0["fields"] as? [String: Any])?["suppressed"] as? Int }.reduce(0, +)
        #expect(failures.count + suppressed == total, "logged \(failures.count) + suppressed \(suppressed)")
        #expect(failures.count >= 3 && failures.count < total)
        #expect(failures.allSatisfy { $0["level"] as? String == "info" })
        let reasons = failures.compactMap { ($0["event_data"] as? [String: Any])?["reason"] as? String }
        #expect(reasons.allSatisfy { $0.hasPrefix("http request (not TLS") }, "\(reasons)")
        #expect(all.last?["event"] as? String == "server_closed")
    }
}
