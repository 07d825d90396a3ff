import Foundation

/// A real nginx on loopback, started from a configuration text and stopped by ``stop()``.
public final class Nginx: @unchecked Sendable {
    /// The prefix directory (configuration, pid, logs, temp paths).
    public let directory: String
    /// The port nginx listens on (free when chosen).
    public let port = freePort()
    private var process: ChildProcess?

    /// Starts nginx with the configuration `configuration(directory, port)` returns and waits
    /// (bounded: 5 s) until it accepts connections on `port`.
    public init(configuration: (_ directory: String, _ port: Int) -> String) async throws {
        directory = NSTemporaryDirectory() + "ws-nginx-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try configuration(directory, port).write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        process = try ChildProcess("/usr/sbin/nginx", ["-p", directory, "-c", directory + "/nginx.conf"], output: directory + "/stdout.log")
        for _ in 0..<100 {
            if (try? RawSocket(port: port)) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? ""
        stop()
        throw TimedOut(step: "nginx did not start: \(log)")
    }

    /// nginx in front of `127.0.0.1:upstreamPort`. Clients connect to nginx from 127.0.0.2;
    /// nginx connects upstream from 127.0.0.3 (`proxy_bind`), so the proxy and the client have
    /// different addresses on one machine.
    public convenience init(upstreamPort: Int) async throws {
        try await self.init { directory, port in
            """
            daemon off;
            user root;
            worker_processes 1;
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log;
            events { worker_connections 64; }
            http {
                access_log off;
                \(Nginx.tempPaths(directory))
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://127.0.0.1:\(upstreamPort);
                        proxy_bind 127.0.0.3;
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection "upgrade";
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    }
                }
            }
            """
        }
    }

    /// `http`-block directives that keep nginx's temporary files inside `directory`.
    public static func tempPaths(_ directory: String) -> String {
        ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "\($0)_temp_path \(directory)/\($0);" }.joined(separator: " ")
    }

    /// Stops nginx and removes its directory.
    public func stop() {
        process?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
