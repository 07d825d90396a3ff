import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
@testable import WebSockets

@Suite("Our client against our server", .timeLimit(.minutes(2)))
struct ServerClientTests {
    @Test("messages of every size class, both types, fragmented sends, ping RTT")
    func echo() async throws {
        let server = try await startTestServer()
        var configuration = ClientConfiguration(subprotocols: ["chat"])
        configuration.connection.maxMessageSize = 8 << 20
        // No keepalive: under load this test can outlast its interval, and a keepalive pong
        // would update `latency` after the explicit ping below.
        configuration.connection.pingInterval = nil
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo", configuration: configuration)
        #expect(ws.subprotocol == "chat")
        var replies = ws.messages.makeAsyncIterator()
        for size in [0, 1, 125, 126, 65535, 65536, 4 << 20] {
            let text = String(repeating: "é", count: size / 2) + (size % 2 == 1 ? "a" : "")
            try await ws.send(text)
            #expect(try await replies.next() == .text(text), "text \(size)")
            let bytes = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await ws.send(bytes)
            #expect(try await replies.next() == .binary(bytes), "binary \(size)")
        }
        let parts = AsyncStream<ByteBuffer> { c in
            for p in ["frag", "mén", "ted"] { c.yield(ByteBuffer(string: p)) }
            c.finish()
        }
        try await ws.send(fragments: parts, text: true)
        #expect(try await replies.next() == .text("fragménted"))
        let rtt = try await ws.ping()
        #expect(rtt > .zero && rtt < .seconds(5))
        #expect(ws.latency == rtt)
        await ws.close(code: CloseCode(4001), reason: "client says bye")
        #expect(ws.state == .closed)
        #expect(ws.closeCode == CloseCode(4001))
        #expect(ws.closeReceived == CloseFrame(code: CloseCode(4001), reason: "client says bye"))
        // 4001 is not a normal closure: iteration reports how the connection ended (as Python's ConnectionClosedError).
        do {
            _ = try await replies.next()
            Issue.record("iteration should throw after a 4001 close")
        } catch let closed as ConnectionClosed {
            #expect(closed.code == CloseCode(4001) && !closed.isNormal)
        }
        await server.shutdown()
    }

    @Test("Nagle is off on both ends: accepted sockets inherit TCP_NODELAY from the listener, the client sets it")
    func noDelay() async throws {
        let (accepted, yield) = AsyncStream<WebSocket>.makeStream()
        let server = try await WebSocketServer.serve(host: "127.0.0.1", port: 0) { ws in
            yield.yield(ws)
            for try await _ in ws.messages {}
        }
        let client = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/")
        let first: WebSocket? = try await bounded(10, "accepted") {
            for await ws in accepted { return ws }
            return nil
        }
        let peer = try #require(first)
        for ws in [peer, client] {
            let noDelay = try await ws.eventLoop.flatSubmit { () -> EventLoopFuture<ChannelOptions.Types.SocketOption.Value> in
                guard let channel = ws.handler.value.channel else {
                    return ws.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                }
                return channel.getOption(.tcpOption(.tcp_nodelay))
            }.get()
            #expect(noDelay != 0, "TCP_NODELAY on the \(ws.role) side")
        }
        await client.close()
        await server.shutdown()
    }

    @Test("a server-initiated close ends iteration with ConnectionClosed carrying code and reason")
    func serverClose() async throws {
        let server = try await startTestServer()
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/close/4002")
        try await ws.send("trigger")
        await #expect(throws: ConnectionClosed.self) { for try await _ in ws.messages {} }
        #expect(ws.closeCode == CloseCode(4002))
        #expect(ws.closeReason == "server says bye")
        await #expect(throws: ConnectionClosed.self) { try await ws.send("late") }
        await server.shutdown()
    }

    @Test("a throwing handler closes with 1011 and logs handler_failed at ERROR, never telling the peer why")
    func handlerThrows() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/throw")
        try await expectHandlerFailure(ws, logs: logs)
        await server.shutdown()
    }

    @Test("processRequest answers plain HTTP; the client sees the status; each answer is http_response_sent at INFO, not a rejection")
    func processRequest() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        await #expect(throws: WebSocketError.self) { _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/forbidden") }
        do {
            _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/forbidden")
        } catch let error as WebSocketError {
            #expect(error.status == 403)
        }
        let raw = try RawSocket(port: server.port)
        raw.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = String(decoding: await raw.readAllAsync(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(response.hasSuffix("\r\n\r\nhealthy"))
        await waitFor { records(logs).filter { $0["event"] as? String == "http_response_sent" }.count == 3 }
        let answers = records(logs).filter { $0["event"] as? String == "http_response_sent" }
        #expect(answers.allSatisfy { $0["level"] as? String == "info" })
        let fields = answers.compactMap { $0["event_data"] as? [String: Any] }
        #expect(fields.map { "\($0["status"] as? Int ?? 0) \($0["reason"] as? String ?? "") \($0["path"] as? String ?? "")" }.sorted()
                == ["200 OK /health", "403 Forbidden /forbidden", "403 Forbidden /forbidden"])
        #expect(records(logs).filter { $0["event"] as? String == "connection_rejected" }.isEmpty, "an answer is not a rejection")
        await server.shutdown()
    }

    @Test("origin policy refuses with 403")
    func origins() async throws {
        let server = try await startTestServer { $0.origins = .allowed(["https://good.example"]) }
        var bad = ClientConfiguration(origin: "https://evil.example")
        bad.connection.openTimeout = .seconds(5)
        await #expect(throws: WebSocketError.self) { _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo", configuration: bad) }
        let good = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo", configuration: ClientConfiguration(origin: "https://good.example"))
        try await good.send("hi")
        var it = good.messages.makeAsyncIterator()
        #expect(try await it.next() == .text("hi"))
        await good.close()
        await server.shutdown()
    }

    @Test("graceful shutdown closes open connections with 1001 and logs server_closing/closed")
    func shutdown() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        await server.shutdown()
        await ws.waitUntilClosed()
        #expect(ws.closeCode == .goingAway)
        let events = records(logs).compactMap { $0["event"] as? String }
        #expect(events.first == "server_listening")
        #expect(events.suffix(1) == ["server_closed"])
        #expect(events.contains("server_closing"))
        #expect(events.filter { $0 == "connection_open" }.count == 1)
        #expect(events.filter { $0 == "connection_closed" }.count == 1)
        await #expect(throws: (any Error).self) { _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo") }
    }

    @Test("a server released without shutdown stops listening (no leaked socket, no trap on its promise)")
    func releasedWithoutShutdown() async throws {
        var server: WebSocketServer? = try await startTestServer()
        let port = try #require(server?.port)
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
        try await ws.send("before")
        server = nil  // the error path of a test or program that never reaches shutdown()
        // The open connection goes on; new ones are refused once the listening socket is closed.
        #expect(try await ws.messages.first { _ in true } == .text("before"))
        var refused = false
        for _ in 0..<100 where !refused {
            do {
                let late = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
                await late.close()
                try await Task.sleep(for: .milliseconds(10))
            } catch {
                refused = true
            }
        }
        #expect(refused, "the released server still accepts connections")
        await ws.close()
    }

    @Test("connection_closed reports codes, initiator, counts and bytes")
    func closedRecord() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        var it = ws.messages.makeAsyncIterator()
        for text in ["a", "bb", "ccc"] {
            try await ws.send(text)
            _ = try await it.next()
        }
        await ws.close(code: .normalClosure, reason: "done")
        await waitFor { records(logs).contains { $0["event"] as? String == "connection_closed" } }
        let closed = try #require(records(logs).first { $0["event"] as? String == "connection_closed" }?["event_data"] as? [String: Any])
        #expect(closed["close_code"] as? Int == 1000)
        #expect(closed["close_reason_received"] as? String == "done")
        #expect(closed["initiator"] as? String == "remote")
        #expect(closed["messages_in"] as? Int == 3)
        #expect(closed["messages_out"] as? Int == 3)
        #expect(closed["payload_bytes_in"] as? Int == 6)
        #expect((closed["bytes_in"] as? Int ?? 0) > 6)
        #expect((closed["duration"] as? Double ?? -1) >= 0)
        await server.shutdown()
    }

    @Test("Unix domain sockets, both sides")
    func unixSocket() async throws {
        let path = NSTemporaryDirectory() + "ws-\(getpid()).sock"
        let server = try await WebSocketServer.serve(unixPath: path) { ws in
            for try await m in ws.messages { try await ws.send(m) }
        }
        let ws = try await WebSocketClient.connect(unixPath: path, url: "ws://localhost/echo")
        try await ws.send("over unix")
        var it = ws.messages.makeAsyncIterator()
        #expect(try await it.next() == .text("over unix"))
        await ws.close()
        await server.shutdown()
    }

    @Test("the client reconnects with backoff after failures and logs client_reconnecting")
    func reconnect() async throws {
        let port = freePort()
        let logs = MemorySink()
        var configuration = ClientConfiguration()
        configuration.logger = Logger(label: "websockets.client") { StructuredLogHandler.json(label: $0, sink: logs) }
        configuration.reconnect = ReconnectPolicy(initialDelay: 0.05, minDelay: 0.05, factor: 1.5, maxDelay: 0.2, maxAttempts: 50)
        let serverTask = Task {
            try await Task.sleep(for: .milliseconds(300))
            return try await WebSocketServer.serve(host: "127.0.0.1", port: port) { ws in
                for try await m in ws.messages { try await ws.send(m) }
            }
        }
        let sequence = WebSocketClient.connections(to: "ws://127.0.0.1:\(port)/", configuration: configuration)
        let ws = try #require(try await bounded(30, "reconnect") {
            var connections = sequence.makeAsyncIterator()
            return try await connections.next()
        })
        try await bounded(10, "send") { try await ws.send("after retries") }
        let reply = try await nextMessage(ws, "echo")
        #expect(reply == .text("after retries"))
        let retries = records(logs).filter { $0["event"] as? String == "client_reconnecting" }
        #expect(!retries.isEmpty)
        #expect(((retries.first?["fields"] as? [String: Any])?["attempt"] as? Int) == 1)
        await ws.close()
        try await serverTask.value.shutdown()
    }

    @Test("broadcast sends to open connections and logs skips at WARNING")
    func broadcastTest() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let a = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        let b = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        await waitFor { server.openConnections.count == 2 }
        var connections = server.openConnections
        let closedOne = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        await waitFor { server.openConnections.count == 3 }
        let extra = server.openConnections.first { c in !connections.contains { $0.id == c.id } }!
        await closedOne.close()
        await extra.waitUntilClosed()
        connections.append(extra)
        #expect(broadcast(.text("to all"), to: connections) == 2)
        var ia = a.messages.makeAsyncIterator(), ib = b.messages.makeAsyncIterator()
        #expect(try await ia.next() == .text("to all"))
        #expect(try await ib.next() == .text("to all"))
        let skipped = records(logs).filter { $0["event"] as? String == "broadcast_skipped" }
        #expect(skipped.count == 1)
        #expect(skipped.first?["level"] as? String == "warning")
        await a.close()
        await b.close()
        await server.shutdown()
    }

    @Test("handlers run on their channel's event loop by default, on the cooperative pool when asked", arguments: [true, false])
    func handlerExecutor(onEventLoop: Bool) async throws {
        var configuration = ServerConfiguration()
        configuration.runHandlersOnEventLoop = onEventLoop
        configuration.logger = Logger(label: "websockets.server") { StructuredLogHandler.json(label: $0, sink: MemorySink()) }
        let server = try await WebSocketServer.serve(port: 0, configuration: configuration) { ws in
            try await ws.send("\(ws.eventLoop.inEventLoop)")
            for try await message in ws.messages {
                try await ws.send("\(ws.eventLoop.inEventLoop) \(message)")   // still there after each await
            }
        }
        let client = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/")
        var replies = client.messages.makeAsyncIterator()
        #expect(try await replies.next() == .text("\(onEventLoop)"))
        try await client.send("x")
        #expect(try await replies.next() == .text("\(onEventLoop) text(1 bytes)"))
        await client.close()
        await server.shutdown()
    }

    @Test("broadcast bounds the bytes it queues for a connection by the write buffer's high mark, before the channel sees them")
    func broadcastQueueBound() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let client = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        await waitFor { server.openConnections.count == 1 }
        let ws = try #require(server.openConnections.first)
        // From another thread while the connection's event loop is busy: nothing queued can reach
        // the channel until the loop is free, so writability alone would let all 100 through
        // (3.2 MiB queued).
        let chunk = ByteBuffer(repeating: 0x2A, count: 32 << 10)
        let sent = await offPool {
            let blocked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
            ws.eventLoop.execute { blocked.signal(); release.wait() }
            blocked.wait()
            defer { release.signal() }
            return (0..<100).reduce(0) { n, _ in n + broadcast(.binary(chunk), to: [ws]) }
        }
        #expect(sent == 2, "64 KiB high mark / 32 KiB messages")
        var replies = client.messages.makeAsyncIterator()
        #expect(try await replies.next() == .binary(chunk))
        #expect(try await replies.next() == .binary(chunk))
        await waitFor { broadcast(.text("drained"), to: [ws]) == 1 }
        #expect(try await replies.next() == .text("drained"))
        let skips = records(logs).filter { $0["event"] as? String == "broadcast_skipped" }
        #expect(skips.count >= 98)
        #expect(skips.allSatisfy { ($0["event_data"] as? [String: Any])?["connection_id"] as? String == ws.id.description })
        await client.close()
        await server.shutdown()
    }

    @Test("on the connection's event loop a send goes into the channel at once: nothing is left in flight")
    func sendOnEventLoopIsDirect() async throws {
        let server = try await startTestServer()
        let client = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        await waitFor { server.openConnections.count == 1 }
        let ws = try #require(server.openConnections.first)
        let (sent, inFlight) = try await ws.eventLoop.submit {
            (broadcast(.text("now"), to: [ws]), ws.status.withLockedValue { $0.gate.bytesInFlight })
        }.get()
        #expect(sent == 1)
        #expect(inFlight == 0, "the message reached the channel before broadcast returned")
        var replies = client.messages.makeAsyncIterator()
        #expect(try await replies.next() == .text("now"))
        await client.close()
        await server.shutdown()
    }
}

import ServiceLifecycle

@Suite("swift-service-lifecycle integration", .timeLimit(.minutes(1)))
struct ServiceLifecycleTests {
    @Test("a ServiceGroup's graceful shutdown closes connections with 1001 and ends run()")
    func serviceGroup() async throws {
        let server = try await startTestServer()
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo") }
        try await bounded(10, "graceful shutdown") { await group.triggerGracefulShutdown() }
        try await bounded(20, "group ends") { try await running.value }
        try await bounded(10, "client sees the close") { await ws.waitUntilClosed() }
        #expect(ws.closeCode == .goingAway)
    }
}
