import Foundation
import Logging
import NIOCore
import Testing
import WebSocketCore
import WebSocketLogging
import WebSocketTestSupport
import WebSockets

@Suite("Client address behind a real nginx", .serialized, .timeLimit(.minutes(2)))
struct ProxyTests {
    /// Connects through nginx from 127.0.0.2 with a forged X-Forwarded-For and returns the
    /// server's connection_open record.
    func openThroughNginx(trust: TrustedProxies) async throws -> [String: Any] {
        let logs = MemorySink()
        let server = try await startTestServer(logSink: logs) {
            $0.trustedProxies = trust
            $0.connection.closeTimeout = .seconds(1)  // the raw client never answers the closing handshake
        }
        let nginx = try await Nginx(upstreamPort: server.port)
        defer { nginx.stop() }
        let raw = try RawSocket(port: nginx.port, localAddress: "127.0.0.2")
        raw.send(HostilePeerTests.handshake.replacingOccurrences(of: "Host: x\r\n", with: "Host: x\r\nX-Forwarded-For: 6.6.6.6\r\n"))
        let head = String(decoding: try await bounded(10, "101 through nginx") { await raw.readHeadAsync() }, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
        await waitFor { records(logs).contains { $0["event"] as? String == "connection_open" } }
        try await bounded(20, "shutdown") { await server.shutdown() }
        let open = try #require(records(logs).first { $0["event"] as? String == "connection_open" })
        for record in records(logs) {
            #expect((record["event_data"] as? [String: Any])?["remote_addr"] as? String != "6.6.6.6", "the forged address was logged")
        }
        return try #require(open["event_data"] as? [String: Any])
    }

    @Test("nginx trusted: the client's true address, appended by nginx; the forged value is ignored")
    func trusted() async throws {
        let data = try await openThroughNginx(trust: TrustedProxies(ranges: [CIDR("127.0.0.3/32")!]))
        #expect(data["remote_addr"] as? String == "127.0.0.2")
        #expect(data["remote_addr_source"] as? String == "x-forwarded-for")
        #expect(data["peer_addr"] as? String == "127.0.0.3")
    }

    @Test("nginx not trusted: nginx's address; forwarding headers ignored")
    func untrusted() async throws {
        let data = try await openThroughNginx(trust: .none)
        #expect(data["remote_addr"] as? String == "127.0.0.3")
        #expect(data["remote_addr_source"] == nil)
        #expect(data["peer_addr"] as? String == "127.0.0.3")
    }
}
