import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A daemon started for a test (rsyslogd, later nginx): spawned with an empty signal mask and
/// default signal dispositions — a test process blocks most signals in its threads and a
/// child would otherwise inherit that and ignore SIGTERM — and stopped by PID.
public final class ChildProcess {
    public let pid: pid_t
    private var exited = false

    /// - Parameters:
    ///   - output: where standard output and standard error go (appended).
    ///   - input: what standard input reads (a file or a FIFO); the test's own by default.
    public init(_ path: String, _ arguments: [String], output: String = "/dev/null", input: String? = nil) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        if let input { posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
        self.pid = pid
    }

    public var isRunning: Bool {
        if exited { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        return !exited
    }

    /// SIGTERM, then SIGKILL if still running after 3 s. Always reaps the child.
    public func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        for _ in 0..<60 where isRunning { usleep(50_000) }
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            exited = true
        }
    }

    func markExited() { exited = true }

    /// Waits (polling with `Task.sleep`, bounded by `seconds`) for the process to exit and
    /// returns its exit status (128 + signal when killed), or `nil` if it is still running.
    public func waitForExit(seconds: Double) async -> Int32? {
        var status: Int32 = 0
        for _ in 0..<Int(seconds * 20) {
            if waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    deinit { stop() }
}

/// A free loopback port for `type` (bind to port 0, read it back, release it).
public func freePort(_ type: __socket_type = SOCK_STREAM) -> Int {
    let fd = socket(AF_INET, Int32(type.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
            bind(fd, p, len)
            getsockname(fd, p, &len)
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// The repository root (for scripts, schemas and peers): the nearest directory above this file
/// holding `Tests/Peers`, so that the integration packages, which reach this file through a
/// symbolic link under `Integrations/NAME/Tests`, find the same root.
public let repositoryRoot: URL = {
    var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while directory.path != "/" {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Tests/Peers").path) { return directory }
        directory.deleteLastPathComponent()
    }
    fatalError("no Tests/Peers above \(#filePath)")
}()

/// The build's own bin path (`swift build --show-bin-path`, whatever `--scratch-path` or
/// configuration): the test bundle runs from it, beside the package's executables.
public let binPath: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().path
}()

/// A product of this package built beside the tests (`websockets`, an example).
public func productBinary(_ name: String) -> String { binPath + "/" + name }

/// Runs a command to completion (bounded by `timeout` seconds) and returns its exit status and
/// combined output. The child gets a clean signal mask. Waiting polls with `Task.sleep`, so the
/// cooperative thread pool (which the server under test needs) is never blocked.
public func runCommand(_ path: String, _ arguments: [String], timeout: Double = 120) async throws -> (status: Int32, output: String) {
    let out = NSTemporaryDirectory() + "ws-cmd-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
    defer { unlink(out) }
    let child = try ChildProcess(path, arguments, output: out)
    var status: Int32 = 0
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let r = waitpid(child.pid, &status, WNOHANG)
        if r == child.pid { break }
        if Date() > deadline {
            child.stop()
            return (-1, ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "") + "\n[timed out after \(timeout) s]")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    child.markExited()
    let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    let exit: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return (exit, text)
}

/// Runs blocking work on a thread of its own and awaits it: blocking calls must not occupy
/// the cooperative pool while the server under test needs it.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

/// A blocking TCP client for scripted, byte-exact peers (hostile or malformed input).
public final class RawSocket: @unchecked Sendable {
    public let fd: Int32

    /// Connects to 127.0.0.1:`port`, from `localAddress` (another loopback address such as
    /// 127.0.0.2) when given. `receiveBufferSize` shrinks the kernel's receive buffer (set
    /// before connecting) for peers that must stall quickly.
    public init(port: Int, localAddress: String? = nil, timeout: Double = 5, receiveBufferSize: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBufferSize {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let localAddress {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(localAddress)
            let rc = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            // No close here: a class whose stored properties are set runs deinit when init
            // throws, and deinit closes the socket. Closing twice could close a descriptor
            // number another thread (NIO) has reused meanwhile.
            guard rc == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }  // deinit closes the socket, once
    }

    public func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    public func send(_ text: String) { send(Array(text.utf8)) }

    /// Sends what the kernel takes without blocking: the bytes taken (0 when its buffers are full).
    public func trySend(_ bytes: [UInt8]) -> Int {
        max(0, bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) })
    }

    /// Reads until the peer closes or the receive timeout expires.
    public func readAll(limit: Int = 1 << 20) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < limit {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            result += chunk[0..<n]
        }
        return result
    }

    /// Reads an HTTP head: up to and including the first empty line.
    public func readHead() -> [UInt8] {
        var result: [UInt8] = []
        var byte: UInt8 = 0
        while !(result.count >= 4 && result.suffix(4) == [13, 10, 13, 10]) {
            if recv(fd, &byte, 1, 0) != 1 { break }
            result.append(byte)
        }
        return result
    }

    /// Reads until `count` bytes arrived (or close/timeout).
    public func read(count: Int) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < count {
            let n = recv(fd, &chunk, min(chunk.count, count - result.count), 0)
            if n <= 0 { break }
            result += chunk[0..<n]
        }
        return result
    }

    /// ``readAll(limit:)`` off the cooperative pool.
    public func readAllAsync(limit: Int = 1 << 20) async -> [UInt8] { await offPool { self.readAll(limit: limit) } }

    /// ``readHead()`` off the cooperative pool.
    public func readHeadAsync() async -> [UInt8] { await offPool { self.readHead() } }

    /// ``read(count:)`` off the cooperative pool.
    public func readAsync(count: Int) async -> [UInt8] { await offPool { self.read(count: count) } }

    /// Reads one unmasked server frame: (first byte, payload); nil if the connection closed first.
    public func readFrameAsync() async throws -> (first: UInt8, payload: [UInt8])? {
        let head = try await bounded(10, "frame header") { await self.readAsync(count: 2) }
        guard head.count == 2 else { return nil }
        var length = Int(head[1] & 0x7F)
        if length == 126 {
            length = await readAsync(count: 2).reduce(0) { $0 << 8 | Int($1) }
        } else if length == 127 {
            length = await readAsync(count: 8).reduce(0) { $0 << 8 | Int($1) }
        }
        let count = length
        let payload = count == 0 ? [] : try await bounded(10, "frame payload") { await self.readAsync(count: count) }
        return (head[0], payload)
    }

    /// Shuts the connection down both ways (the peer sees EOF); the descriptor is closed by deinit.
    public func shutdownBoth() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// Half-closes: the peer sees EOF, and this side can still read what the peer sends.
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    deinit { close(fd) }
}

/// Awaits `body`, failing with `TimedOut(step)` after `seconds`: a hang becomes a named failure.
public struct TimedOut: Error, CustomStringConvertible {
    public let step: String
    public init(step: String) { self.step = step }
    public var description: String { "timed out: \(step)" }
}

public func bounded<T: Sendable>(_ seconds: Double, _ step: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    // An unstructured task: if `body` awaits something that ignores cancellation (an
    // EventLoopFuture), a task group would wait for it forever; this returns regardless.
    let once = ResumeOnce<T>()
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        once.continuation = c
        let work = Task {
            do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            work.cancel()
            once.resume(.failure(TimedOut(step: step)))
        }
    }
}

/// Resumes a continuation once, whoever comes first.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    var continuation: CheckedContinuation<T, any Error>?

    func resume(_ result: Result<T, any Error>) {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume(with: result)
    }
}

/// Validates JSON log lines with `scripts/validate-log-lines.py` (the `jsonschema` package's
/// 2020-12 validator against `schemas/log-record.schema.json`). Returns its status and output.
public func validateWithSchema(_ lines: [String], schema: String = "log-record.schema.json") async throws -> (status: Int32, output: String) {
    let file = NSTemporaryDirectory() + "ws-schema-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
    try lines.joined().write(toFile: file, atomically: true, encoding: .utf8)
    defer { unlink(file) }
    return try await runCommand("/usr/bin/env", ["python3", repositoryRoot.appendingPathComponent("scripts/validate-log-lines.py").path,
                                                 repositoryRoot.appendingPathComponent("schemas/" + schema).path, file])
}
