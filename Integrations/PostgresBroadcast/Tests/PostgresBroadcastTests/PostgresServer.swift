import Foundation
import Testing
import WebSocketTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server for one test: `initdb` in a temporary directory, `pg_ctl` on a
/// loopback port (Debian's `postgresql`; as the `postgres` user when the tests run as root,
/// which PostgreSQL refuses to be).
final class PostgresServer: @unchecked Sendable {
    let directory: String
    let port: Int
    private let bin: String

    var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    init() async throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let found = versions.sorted().last.map { "/usr/lib/postgresql/\($0)/bin" }
        bin = try #require(found.flatMap { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") ? $0 : nil },
                           "PostgreSQL's server (Debian's postgresql) is not installed")
        directory = NSTemporaryDirectory() + "ws-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        port = freePort()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        if getuid() == 0 {
            let chown = try await runCommand("/bin/chown", ["postgres", directory])
            try #require(chown.status == 0, "chown: \(chown.output)")
        }
        let initdb = try await Self.asPostgres(bin + "/initdb", ["-D", directory + "/data", "-A", "trust", "-U", "postgres", "--no-sync"])
        try #require(initdb.status == 0, "initdb: \(initdb.output)")
        try await start()
    }

    static func asPostgres(_ path: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        getuid() == 0 ? try await runCommand("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments, timeout: 60)
                      : try await runCommand(path, arguments, timeout: 60)
    }

    func start() async throws {
        let started = try await Self.asPostgres(bin + "/pg_ctl", [
            "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "30",
            "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        try #require(started.status == 0, "pg_ctl start: \(started.output) \((try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "")")
    }

    func stop() async throws {
        let stopped = try await Self.asPostgres(bin + "/pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "-t", "30", "stop"])
        try #require(stopped.status == 0, "pg_ctl stop: \(stopped.output)")
    }

    /// Stops the server (if running) and removes its directory.
    func remove() async {
        _ = try? await Self.asPostgres(bin + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }
}
