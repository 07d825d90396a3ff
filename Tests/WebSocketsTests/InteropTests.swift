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
        let python = try await startPythonPeer("py_server.py", [String(port)])
        defer { python.process.stop() }
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
        let python = try await startPythonPeer("py_server.py", [String(port), cert, key])
        defer { python.process.stop() }
        let toPython = try await WebSocketClient.connect(to: "wss://127.0.0.1:\(port)/echo", configuration: trusting)
        try await toPython.send("tls to python")
        var it2 = toPython.messages.makeAsyncIterator()
        #expect(try await it2.next() == .text("tls to python"))
        await toPython.close()
    }
}
