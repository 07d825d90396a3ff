import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
@testable import WebSocketCompression
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

/// A server on a free port, handled on one of the paths: the standalone server with a handler
/// task or with callbacks, an upgrader mounted in a SwiftNIO HTTP/1 server of our own (NIO's
/// typed pipeline, as Hummingbird's), or a route's upgrader deciding there with the handler
/// given per request (as Hummingbird's and Vapor's routes do), each echoing.
struct HostileTarget {
    /// The callbacks' echo. A text "log me" first writes a user record through `ws.logger`; a
    /// text "heads?" is answered with `ws.request` and `ws.response` as the server sees them.
    struct LoggingEcho: WebSocketCallbacks {
        static func reply(to message: Message, _ ws: WebSocket) -> Message {
            switch message {
            case .text("log me"):
                ws.logger.info("user record", metadata: ["mine": "yes"])
            case .text("heads?"):
                let request = ws.request, response = ws.response
                let lines = ["\(request.method) \(request.uri) \(request.version)"] + request.headers.map { "\($0.name): \($0.value)" }
                    + ["\(response.status.code) \(response.version)"] + response.headers.map { "\($0.name): \($0.value)" }
                return .text(lines.joined(separator: "\n"))
            default: break
            }
            return message
        }
        func received(_ message: Message, on ws: WebSocket) throws {
            try ws.write(Self.reply(to: message, ws))
        }
    }

    let port: Int
    let shutdown: @Sendable () async -> Void

    /// `idle`: a handler task that never asks for a message (callbacks echo: they queue nothing).
    static func start(_ path: OneRuleTests.Path, logs: MemorySink = MemorySink(), idle: Bool = false,
                      configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> HostileTarget {
        let echo: @Sendable (WebSocket) async throws -> Void = { ws in
            if idle { return await ws.waitUntilClosed() }
            for try await message in ws.messages { try await ws.send(LoggingEcho.reply(to: message, ws)) }
        }
        var configuration = ServerConfiguration()
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: logs, logLevel: .info) }
        configuration.connection.maxMessageSize = 8 << 20
        configuration.connection.pingInterval = nil
        configure(&configuration)
        switch path {
        case .task:
            let server = try await WebSocketServer.serve(host: "127.0.0.1", port: 0, configuration: configuration, handler: echo)
            return HostileTarget(port: server.port, shutdown: { await server.shutdown() })
        case .callbacks:
            let server = try await WebSocketServer.serve(host: "127.0.0.1", port: 0, configuration: configuration,
                                                         callbacks: LoggingEcho())
            return HostileTarget(port: server.port, shutdown: { await server.shutdown() })
        case .mounted:
            let upgrader = WebSocketHTTPUpgrader(configuration: configuration, handler: echo)
            let channel = try await startHTTPServer(upgrader: upgrader, typed: true)
            return HostileTarget(port: channel.localAddress?.port ?? 0, shutdown: {
                await upgrader.shutdown()
                try? await channel.close()
            })
        case .routed:  // as the integrations do: one registry of route upgraders
            let routes = WebSocketRouteUpgraders(configuration: configuration)
            let channel = try await startHTTPServer(typed: WebSocketHTTPUpgrader.typed(deciding: { head, channel in
                await routes.upgrader(for: "/:anything", .init())
                    .decide(head, remoteAddress: channel.remoteAddress, on: channel.eventLoop, handler: echo)
            }) { $0.eventLoop.makeSucceededFuture(true) })
            return HostileTarget(port: channel.localAddress?.port ?? 0, shutdown: {
                await routes.shutdown()
                try? await channel.close()
            })
        }
    }
}

@Suite("Hostile peers on every path: callbacks, handler task, mounted upgrader, route upgrader", .serialized, .timeLimit(.minutes(3)))
struct HostilePathsTests {
    func openRaw(_ target: HostileTarget, extraHeaders: String = "", receiveBufferSize: Int32? = nil) async throws -> RawSocket {
        let raw = try RawSocket(port: target.port, receiveBufferSize: receiveBufferSize)
        raw.send(upgradeRequest(extraHeaders: extraHeaders))
        let head = String(decoding: try await bounded(10, "read the 101") { await raw.readHeadAsync() }, as: UTF8.self)
        try #require(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(head)")
        return raw
    }

    func expectStillServing(_ target: HostileTarget) async throws {
        let ws = try await bounded(10, "connect after the hostile peer") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(target.port)/echo") }
        try await bounded(10, "send") { try await ws.send("still here") }
        #expect(try await nextMessage(ws, "receive the echo") == .text("still here"))
        try await bounded(15, "close") { await ws.close() }
    }

    @Test("invalid frames: the close frame with the right code is on the wire before the server closes",
          arguments: OneRuleTests.Path.allCases, HostilePeerTests.badFrames)
    func invalidFrames(path: OneRuleTests.Path, bad: ([UInt8], UInt16)) async throws {
        let target = try await HostileTarget.start(path)
        let raw = try await openRaw(target)
        raw.send(bad.0)
        let reply = try await bounded(10, "read until the server closes") { await raw.readAllAsync() }
        #expect(reply.count >= 4 && reply[0] == 0x88, "no close frame, only \(reply)")
        if reply.count >= 4 { #expect(UInt16(reply[2]) << 8 | UInt16(reply[3]) == bad.1) }
        #expect(reply.count == 2 + Int(reply.count > 1 ? reply[1] : 0), "exactly one close frame: \(reply)")
        try await expectStillServing(target)
        await target.shutdown()
    }

    /// 16 MiB of zeros deflated into a few KiB: one permessage-deflate message payload.
    static func zipBomb() throws -> ByteBuffer {
        let deflater = try #require(Deflater(windowBits: 15, memLevel: 8, level: 9))
        var bomb = ByteBuffer()
        for i in 0..<16 {
            var part = deflater.compress(ByteBuffer(repeating: 0, count: 1 << 20), allocator: ByteBufferAllocator())
            bomb.writeBuffer(&part)
            if i < 15 { bomb.writeBytes([0, 0, 0xFF, 0xFF]) }
        }
        return bomb
    }

    @Test("a zip bomb closes with 1009 on the wire", arguments: OneRuleTests.Path.allCases)
    func zipBomb(path: OneRuleTests.Path) async throws {
        let target = try await HostileTarget.start(path)
        let raw = try await openRaw(target, extraHeaders: "Sec-WebSocket-Extensions: permessage-deflate\r\n")
        raw.send(clientFrame(rsv: 0b100, opcode: 0x2, payload: Array(try Self.zipBomb().readableBytesView)))
        let reply = try await bounded(10, "read until the server closes") { await raw.readAllAsync() }
        #expect(Array(reply.prefix(4)) == [0x88, UInt8(max(reply.count, 2) - 2), 0x03, 0xF1], "close 1009: \(reply)")
        try await expectStillServing(target)
        await target.shutdown()
    }

    @Test("a peer that pings and never reads: the server stops reading once its pongs pass the write buffer's high mark",
          arguments: OneRuleTests.Path.allCases)
    func pingFloodNeverRead(path: OneRuleTests.Path) async throws {
        let target = try await HostileTarget.start(path)
        let raw = try await openRaw(target, receiveBufferSize: 4096)
        let ping = clientFrame(opcode: 9, payload: Array(repeating: 0x55, count: 125))
        let batch = Array((0..<64).map { _ in ping }.joined())  // 8.3 KiB
        // Bounded: at most 64 MiB offered, at most 10 s; done once the server takes nothing for 1 s.
        var taken = 0
        var idleSince = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(10)
        while taken < 64 << 20, ContinuousClock.now < deadline, ContinuousClock.now - idleSince < .seconds(1) {
            let n = raw.trySend(batch)
            if n > 0 {
                taken += n
                idleSince = .now
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        // What the kernel buffers on both sides (a few MiB on loopback) plus the server's high
        // mark of pongs; reading on would take the whole 64 MiB.
        #expect(taken < 24 << 20, "the server took \(taken) bytes of pings from a peer that reads nothing")
        raw.shutdownBoth()
        try await expectStillServing(target)
        await target.shutdown()
    }

    @Test("1 MiB messages to a handler that never asks for them (callbacks: an echo the peer never reads): the server stops reading after one or two, not sixteen",
          arguments: OneRuleTests.Path.allCases)
    func bigMessagesNotConsumed(path: OneRuleTests.Path) async throws {
        let target = try await HostileTarget.start(path, idle: true) { $0.connection.maxMessageSize = 1 << 20 }
        let raw = try await openRaw(target)
        let taken = try await Self.offerUntilRefused(raw, clientFrame(opcode: 2, payload: Array(repeating: 0x42, count: 1 << 20)))
        // Kernel buffers of loopback (up to about 10 MiB), then one message queued (or echoed),
        // one being read: about 6 MiB taken here. With a queue counted in messages only (16)
        // the task paths took 23 MiB.
        #expect(taken < 16 << 20, "the server took \(taken >> 20) MiB from a peer that reads nothing")
        raw.shutdownBoth()
        if path == .callbacks {
            try await expectStillServing(target)
        } else {  // an idle handler echoes nothing: a new connection still opens
            let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(target.port)/echo") }
            try await bounded(15, "close") { await ws.close() }
        }
        await target.shutdown()
    }

    /// Offers `frame` again and again without reading; the bytes the server took (bounded: at
    /// most 64 MiB, at most 10 s; done once it takes nothing for 1 s).
    static func offerUntilRefused(_ raw: RawSocket, _ frame: [UInt8]) async throws -> Int {
        var taken = 0, offset = 0
        var idleSince = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(10)
        while taken < 64 << 20, ContinuousClock.now < deadline, ContinuousClock.now - idleSince < .seconds(1) {
            let n = raw.trySend(Array(frame[offset...]))
            if n > 0 {
                taken += n
                offset = (offset + n) % frame.count
                idleSince = .now
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return taken
    }

    @Test("a burst of processRequest answers (health checks): each is logged or counted, at most N a second",
          arguments: OneRuleTests.Path.allCases)
    func answerBurst(path: OneRuleTests.Path) async throws {
        let logs = MemorySink()
        let target = try await HostileTarget.start(path, logs: logs) { configuration in
            configuration.rejectionLogLimit = 5
            configuration.processRequest = { request, _ in request.uri == "/health" ? HTTPResponse(status: .ok, body: "ok") : nil }
        }
        let total = 30
        for i in 0..<total {
            let raw = try RawSocket(port: target.port)
            raw.send(upgradeRequest(path: "/health"))
            let response = String(decoding: try await bounded(10, "200 #\(i)") { await raw.readAllAsync() }, as: UTF8.self)
            #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response.prefix(100))")
        }
        let accounted = { () -> (logged: Int, suppressed: Int) in
            let all = records(logs)
            let logged = all.filter { $0["event"] as? String == "http_response_sent" }.count
            let suppressed = all.filter { $0["event"] as? String == "log_records_suppressed"
                && ($0["fields"] as? [String: Any])?["suppressed_event"] as? String == "http_response_sent" }
                .compactMap { ($0["fields"] as? [String: Any])?["suppressed"] as? Int }.reduce(0, +)
            return (logged, suppressed)
        }
        await waitFor({ accounted().logged + accounted().suppressed == total }, seconds: 10)
        let (logged, suppressed) = accounted()
        #expect(logged + suppressed == total, "logged \(logged) + suppressed \(suppressed) of \(total)")
        #expect(suppressed > 0, "a burst at request rate is limited")
        await target.shutdown()
    }
}
