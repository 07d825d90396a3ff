import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WebSocketCompression
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

/// permessage-deflate against Python websockets (both directions, context takeover on and off,
/// window bits) and Node ws.
@Suite("permessage-deflate interoperability", .serialized, .timeLimit(.minutes(3)))
struct DeflateInteropTests {
    @Test("Python client → our server", arguments: ["deflate", "deflate:10", "deflate::nocontext", "deflate:15:nocontext"])
    func pythonClient(spec: String) async throws {
        let server = try await startTestServer()
        let result = try await runCommand("/usr/bin/env", ["COMPRESSION=\(spec)", "python3", peers + "/py_client.py", "ws://127.0.0.1:\(server.port)"])
        #expect(result.status == 0, "\(spec): \(result.output)")
        #expect(result.output.hasSuffix("ok\n"), "\(spec): \(result.output)")
        await server.shutdown()
    }

    @Test("our client inflates a compressed message that arrives in the same read as the 101")
    func messageBehindTheHandshake() async throws {
        let port = freePort()
        let python = try await startPythonPeer("py_eager_server.py", [String(port)])
        defer { python.process.stop() }
        let ws = try await bounded(15, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/") }
        let first = try await bounded(10, "the first message") { () -> Message? in
            for try await message in ws.messages { return message }
            return nil
        }
        #expect(first == .text("hello, eager client"))
        await ws.close()
        await waitFor({ python.output.contains("ok") }, seconds: 10)
        #expect(python.output.contains("ok"))
    }

    @Test("our client → Python server", arguments: ["deflate", "deflate:10", "deflate:9", "deflate::nocontext"])
    func pythonServer(spec: String) async throws {
        let port = freePort()
        let python = try await startPythonPeer("py_server.py", [String(port)], environment: ["COMPRESSION=\(spec)"])
        defer { python.process.stop() }
        var options = ClientConfiguration(subprotocols: ["chat"])
        options.connection.maxMessageSize = 8 << 20
        let configuration = options
        let ws = try await bounded(15, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: configuration) }
        #expect(ws.extensions.first?.name == "permessage-deflate", "\(spec): \(ws.response.headers)")
        let messages: [Message] = [.text(String(repeating: "{\"event\":\"frame\"}", count: 500)), .text("short"),
                                   .binary(ByteBuffer(repeating: 3, count: 70000)), .text(String(repeating: "é", count: 100_000))]
        var replies = ws.messages.makeAsyncIterator()  // the suite's time limit bounds these awaits
        for _ in 0..<2 {
            for message in messages {
                try await ws.send(message)
                #expect(try await replies.next() == message, "\(spec)")
            }
        }
        await ws.close()
        #expect(ws.closeCode == .normalClosure)
    }

    @Test("Node ws client with perMessageDeflate → our server")
    func nodeClient() async throws {
        let server = try await startTestServer()
        let result = try await runCommand("/usr/bin/env", ["NODE_PATH=/usr/share/nodejs:/usr/lib/nodejs", "node", peers + "/node_client.js",
                                                           "ws://127.0.0.1:\(server.port)", "deflate"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasSuffix("ok\n"), "\(result.output)")
        await server.shutdown()
    }

    @Test("compressed sessions report wire and uncompressed bytes in connection_closed")
    func closedRecord() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs)
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/echo")
        #expect(ws.extensions.first?.name == "permessage-deflate")
        let json = String(repeating: "{\"level\":\"info\",\"event\":\"connection_open\"}", count: 100)
        var it = ws.messages.makeAsyncIterator()
        for _ in 0..<5 {
            try await ws.send(json)
            #expect(try await it.next() == .text(json))
        }
        await ws.close()
        await waitFor { records(logs).contains { $0["event"] as? String == "connection_closed" } }
        let data = try #require(records(logs).first { $0["event"] as? String == "connection_closed" }?["event_data"] as? [String: Any])
        let open = try #require(records(logs).first { $0["event"] as? String == "connection_open" }?["event_data"] as? [String: Any])
        #expect((open["extensions"] as? String)?.hasPrefix("permessage-deflate") == true)
        #expect(data["payload_bytes_in"] as? Int == 5 * json.utf8.count)
        #expect((data["bytes_in"] as? Int ?? .max) < json.utf8.count, "5 × \(json.utf8.count) bytes compressed to \(data["bytes_in"] ?? "?")")
        await server.shutdown()
    }
}

@Suite("DEBUG traces of compressed messages")
struct CompressedTraceTests {
    @Test("a compressed frame's trace previews the inflated payload, with both sizes, in both directions")
    func inflatedPreview() async throws {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs, level: .debug)
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/")
        #expect(ws.extensions.contains { $0.name == "permessage-deflate" })
        let text = String(repeating: "hello deflate ", count: 20)
        try await ws.send(text)
        #expect(try await nextMessage(ws, "echo") == .text(text))
        await ws.close()
        await server.shutdown()
        let frames = records(logs).filter { ["frame_received", "frame_sent"].contains($0["event"] as? String) }
            .compactMap { $0["event_data"] as? [String: Any] }.filter { $0["opcode"] as? String == "TEXT" }
        #expect(frames.count == 2, "\(frames)")
        for frame in frames {
            #expect(frame["rsv1"] as? Bool == true)
            #expect(frame["inflated_size"] as? Int == text.utf8.count)
            #expect((frame["size"] as? Int ?? .max) < text.utf8.count, "size is the compressed size on the wire")
            #expect((frame["preview"] as? String)?.hasPrefix("'hello deflate hello deflate") == true, "\(frame)")
        }
        let messages = records(logs).filter { $0["event"] as? String == "frame_received" }.compactMap { $0["message"] as? String }
        #expect(messages.contains { $0.hasPrefix("< TEXT 'hello deflate") && $0.contains("bytes compressed, \(text.utf8.count) inflated]") }, "\(messages)")
    }
}
