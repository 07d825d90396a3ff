// The `websockets` command: an echo server that logs every connection, and an interactive
// client, like `python -m websockets`.
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import UnixSignals
import WebSocketCompression
import WebSocketCore
import WebSocketLogging
import WebSockets

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case json, plain
}

enum Compression: String, ExpressibleByArgument, CaseIterable {
    case deflate, none
}

enum ForwardedHeader: String, ExpressibleByArgument, CaseIterable {
    case xff, forwarded
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct LoggingOptions: ParsableArguments {
    @Option(help: "Log line format: json (one object per line) or plain.")
    var logFormat: LogFormat = .json

    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    /// Bootstraps swift-log so that the library's and the application's records share the format.
    func bootstrap(sink: StreamSink) {
        let format = logFormat, level = logLevel
        LoggingSystem.bootstrap({ label, provider in
            switch format {
            case .json: JSONLogHandler(label: label, sink: sink, logLevel: level, metadataProvider: provider)
            case .plain: PlainLogHandler(label: label, sink: sink, logLevel: level, metadataProvider: provider)
            }
        }, metadataProvider: ConnectionContext.metadataProvider)
    }
}

@main
struct WebSocketsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "websockets",
        abstract: "WebSocket echo server and interactive client with structured logs.",
        subcommands: [Serve.self, Connect.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run an echo server: every message is sent back unchanged.")

    @Option(help: "Address to bind (IPv4 or IPv6).") var host = "127.0.0.1"
    @Option(help: "Port to bind; 0 picks a free port (see the server_listening record).") var port = 8765
    @Option(help: "Listen on a Unix domain socket instead of host:port.") var unix: String?
    @Option(help: "PEM certificate chain for TLS (wss://).") var tlsCert: String?
    @Option(help: "PEM private key for TLS.") var tlsKey: String?
    @Option(help: "Largest message accepted, in bytes.") var maxSize = 1 << 20
    @Option(help: "permessage-deflate: deflate or none.") var compression: Compression = .deflate
    @Option(help: "zlib compression level 0-9 for permessage-deflate: 6 (Python websockets' default), 1 for the least CPU per message.")
    var compressionLevel = 6
    @Option(name: .customLong("trusted-proxy"), help: "CIDR of a proxy allowed to set the client address (repeatable).")
    var trustedProxies: [String] = []
    @Option(help: "Trust this many proxy hops in front of the server, whatever their address.") var trustedHops = 0
    @Option(help: "Forwarding header read from trusted proxies: xff (X-Forwarded-For) or forwarded (RFC 7239).")
    var forwardedHeader: ForwardedHeader = .xff
    @Option(help: "Event loop threads (default: the CPUs this process may run on, e.g. 1 under `taskset -c 0`).")
    var threads: Int?
    @Option(help: "How connections are handled: callbacks (on the event loop, no task per connection) or task (a handler task per connection iterating ws.messages).")
    var handler: HandlerStyle = .callbacks
    @OptionGroup var logging: LoggingOptions

    enum HandlerStyle: String, ExpressibleByArgument {
        case callbacks, task
    }

    /// The echo as callbacks: each message written back as it arrives.
    struct EchoCallbacks: WebSocketCallbacks {
        func received(_ message: Message, on ws: WebSocket) throws { try ws.write(message) }
    }

    func run() async throws {
        logging.bootstrap(sink: .standardOutput)
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads ?? availableCPUs()))
        var configuration = ServerConfiguration()
        configuration.connection.maxMessageSize = maxSize
        guard (0...9).contains(compressionLevel) else { throw ValidationError("--compression-level: 0 to 9, not \(compressionLevel)") }
        if compression == .none { configuration.compression = nil } else { configuration.compression?.compressionLevel = compressionLevel }
        configuration.logger.logLevel = logging.logLevel
        let ranges = try trustedProxies.map { text in
            guard let cidr = CIDR(text) else { throw ValidationError("--trusted-proxy: not an address or CIDR range: \(text)") }
            return cidr
        }
        configuration.trustedProxies = TrustedProxies(ranges: ranges, hops: trustedHops,
                                                      header: forwardedHeader == .xff ? .xForwardedFor : .forwarded)
        if let tlsCert, let tlsKey {
            configuration.tls = .makeServerConfiguration(certificateChain: try NIOSSLCertificate.fromPEMFile(tlsCert).map { .certificate($0) },
                                                         privateKey: .privateKey(try NIOSSLPrivateKey(file: tlsKey, format: .pem)))
        } else if tlsCert != nil || tlsKey != nil {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        let echo: @Sendable (WebSocket) async throws -> Void = { ws in
            for try await message in ws.messages { try await ws.send(message) }
        }
        let server: WebSocketServer
        switch (handler, unix) {
        case (.callbacks, let unix?):
            server = try await WebSocketServer.serve(unixPath: unix, configuration: configuration, group: eventLoops, callbacks: EchoCallbacks())
        case (.callbacks, nil):
            server = try await WebSocketServer.serve(host: host, port: port, configuration: configuration, group: eventLoops, callbacks: EchoCallbacks())
        case (.task, let unix?):
            server = try await WebSocketServer.serve(unixPath: unix, configuration: configuration, group: eventLoops, handler: echo)
        case (.task, nil):
            server = try await WebSocketServer.serve(host: host, port: port, configuration: configuration, group: eventLoops, handler: echo)
        }
        // SIGINT/SIGTERM → graceful shutdown (1001 to every connection), then exit 0.
        var groupLogger = Logger(label: "websockets.lifecycle")
        groupLogger.logLevel = .warning
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: groupLogger)
        try await group.run()
        StreamSink.standardOutput.flush()
    }
}

struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect to a server: each stdin line is sent as a text message, each message received is printed.")

    @Argument(help: "ws:// or wss:// URL.") var url: String
    @Option(help: "PEM file of a CA to trust for wss:// (e.g. a test certificate).") var caFile: String?
    @Flag(help: "Do not verify the server certificate.") var insecure = false
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap(sink: .standardError)
        var configuration = ClientConfiguration()
        configuration.logger.logLevel = logging.logLevel
        if let caFile { configuration.tls.trustRoots = .file(caFile) }
        if insecure { configuration.tls.certificateVerification = .none }
        let ws = try await WebSocketClient.connect(to: url, configuration: configuration)
        let printer = Task {
            do {
                for try await message in ws.messages {
                    switch message {
                    case .text(let s): print("< " + escapeControlCharacters(s))
                    case .binary(let b): print("< (binary) " + b.readableBytesView.map { String(format: "%02x", $0) }.joined())
                    }
                    fflush(nil)
                }
            } catch {
                print("connection closed: \(error)")
            }
        }
        for await line in stdinLines() {
            do { try await ws.send(line) } catch { break }
        }
        await ws.close(code: .normalClosure)
        _ = await printer.value
        StreamSink.standardError.flush()
    }
}

/// Control characters escaped so a peer cannot drive the terminal (as `python -m websockets`).
func escapeControlCharacters(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
            out += "\\x" + String(format: "%02x", scalar.value)
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// Standard input's lines, read on a thread of their own.
func stdinLines() -> AsyncStream<String> {
    AsyncStream { continuation in
        let thread = Thread {
            while let line = readLine(strippingNewline: true) { continuation.yield(line) }
            continuation.finish()
        }
        thread.start()
    }
}

/// The CPUs this process may run on (its affinity mask): NIO's core count follows cgroup
/// limits but not `taskset`, and more event loop threads than CPUs only adds context switches.
func availableCPUs() -> Int {
    // /proc/self/status: "Cpus_allowed:\tff,ffffffff" (a hex mask, comma-separated words).
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else {
        return System.coreCount
    }
    let mask = line.dropFirst("Cpus_allowed:".count).filter(\.isHexDigit)
    let count = mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
    return count > 0 ? min(count, System.coreCount) : System.coreCount
}
