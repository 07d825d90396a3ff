import Logging
import NIOCore
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

@Suite("A send the connection refuses throws to its caller", .serialized, .timeLimit(.minutes(1)))
struct SendRefusalTests {
    @Test("a send from another task while send(fragments:) is in progress throws invalid_send, and the fragmented message still completes")
    func sendDuringFragments() async throws {
        let server = try await startTestServer()
        let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo") }
        let (fragments, continuation) = AsyncStream<ByteBuffer>.makeStream()
        // Each fragment is sent once the next is known (its FIN bit): two in, the first goes out.
        continuation.yield(ByteBuffer(string: "frag-"))
        continuation.yield(ByteBuffer(string: "men"))
        let sender = Task { try await ws.send(fragments: fragments, text: true) }
        // Send until the connection is inside the fragmented message (bounded).
        var refused: WebSocketError?
        for _ in 0..<200 {  // bounded: 2 s
            do {
                try await ws.send("interleaved")
            } catch let error as WebSocketError {
                refused = error
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(refused?.kind == .invalidSend, "the refusal reached the caller: \(String(describing: refused))")
        continuation.yield(ByteBuffer(string: "t"))
        continuation.finish()
        try await bounded(10, "fragments sent") { try await sender.value }
        let received = try await bounded(10, "the echoes") { () -> [Message] in
            var received: [Message] = []
            for try await m in ws.messages {
                received.append(m)
                if m == .text("frag-ment") || received.count >= 300 { break }
            }
            return received
        }
        #expect(received.last == .text("frag-ment"))
        await ws.close()
        await server.shutdown()
    }
}
