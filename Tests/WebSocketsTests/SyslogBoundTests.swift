import Foundation
import Testing
import WebSocketCore
import WebSocketTestSupport
import WebSockets

/// A syslog destination that stops taking records cannot keep the server from exiting: every
/// socket operation is bounded by what is left of the sink's close timeout, and what was not
/// delivered is counted and reported.
@Suite("Syslog sinks that cannot be turned against the server", .serialized, .timeLimit(.minutes(2)))
struct SyslogBoundTests {
    let binary = productBinary("websockets")

    /// `serve` on a free port logging at DEBUG to `destination`; returns once it accepts.
    func serve(_ destination: String, output: String) async throws -> (ChildProcess, Int) {
        let port = freePort()
        let process = try ChildProcess(binary, ["serve", "--port", String(port), "--log-level", "debug", "--log-syslog", destination],
                                       output: output)
        for _ in 0..<200 {
            if (try? RawSocket(port: port)) != nil { return (process, port) }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.stop()
        throw HandlerFailure()
    }

    /// `serve` logging to `destination`, `connections` connections that each log a few dozen
    /// DEBUG records, then SIGTERM: the exit status, how long the exit took, and what the
    /// process wrote (its stderr, where the sink reports what it could not deliver).
    func churnThenStop(_ destination: String, connections: Int) async throws -> (status: Int32?, took: Duration, stderr: String) {
        let output = NSTemporaryDirectory() + "ws-syslog-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(output) }
        let (process, port) = try await serve(destination, output: output)
        for _ in 0..<connections {
            let ws = try await bounded(10, "connect") { try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/") }
            try await ws.send("x")
            await ws.close()
        }
        let start = ContinuousClock.now
        kill(process.pid, SIGTERM)
        let status = await process.waitForExit(seconds: 30)
        let took = ContinuousClock.now - start
        return (status, took, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    @Test("a Unix datagram socket bound and never read: SIGTERM exits within the close bound, the undelivered records counted on stderr")
    func unixNeverRead() async throws {
        let path = NSTemporaryDirectory() + "ws-syslog-\(getpid()).sock"
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(bound == 0)
        defer { close(fd); unlink(path) }
        let (status, took, stderr) = try await churnThenStop("unix:\(path)", connections: 60)
        #expect(status == 0, "exit status \(String(describing: status)): \(stderr)")
        #expect(took < .seconds(12), "exited after \(took): the 5 s close bound and the 10 s shutdown bound")
        #expect(stderr.contains("not delivered to syslog at unix:\(path)"), "\(stderr)")
    }

    @Test("a TCP syslog endpoint that never accepts (its queue full, connects hang): SIGTERM exits within the bound, drops reported",
          arguments: ["tcp", "relp"])
    func tcpNeverAccepts(scheme: String) async throws {
        // A listener whose accept queue is full: further connects get no answer.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(listen(listener, 0) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let syslogPort = Int(UInt16(bigEndian: addr.sin_port))
        defer { close(listener) }
        let fillers = try RawSocket(port: syslogPort, timeout: 1)  // backlog 0 queues one; the next connect hangs
        defer { _ = fillers }
        let (status, took, stderr) = try await churnThenStop("\(scheme)://127.0.0.1:\(syslogPort)", connections: 10)
        #expect(status == 0, "exit status \(String(describing: status)): \(stderr)")
        #expect(took < .seconds(12), "exited after \(took)")
        #expect(stderr.contains("not delivered to syslog"), "\(stderr)")
    }
}
