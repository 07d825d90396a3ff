import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Logging
import UnixSignals
import WebSocketCompression
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import WebSocketCore
import WebSocketLogging
import WebSockets

enum Compression: String, ExpressibleByArgument, CaseIterable {
    case deflate, none
}

enum ForwardedHeader: String, ExpressibleByArgument, CaseIterable {
    case xff, forwarded
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run an echo server: every message is sent back unchanged.")

    @Option(help: "Address to bind (IPv4 or IPv6).") var host = "127.0.0.1"
    @Option(parsing: .unconditional, help: "Port to bind, 0 to 65535; 0 picks a free port (see the server_listening record).")
    var port = 8765
    @Option(help: "Listen on a Unix domain socket instead of host:port.") var unix: String?
    @Option(help: "PEM certificate chain for TLS (wss://).") var tlsCert: String?
    @Option(help: "PEM private key for TLS.") var tlsKey: String?
    @Option(parsing: .unconditional, help: "Largest message accepted, in bytes (at least 1).") var maxSize = 1 << 20
    @Option(help: "permessage-deflate: deflate or none.") var compression: Compression = .deflate
    @Option(parsing: .unconditional,
            help: "zlib compression level 0-9 for permessage-deflate: 6 (Python websockets' default), 1 for the least CPU per message.")
    var compressionLevel = 6
    @Option(name: .customLong("subprotocol"),
            help: "A subprotocol the server speaks (repeatable): it selects the first of the client's offer that is listed here.")
    var subprotocols: [String] = []
    @Option(name: .customLong("trusted-proxy"), help: "CIDR of a proxy allowed to set the client address (repeatable).")
    var trustedProxies: [String] = []
    @Option(parsing: .unconditional, help: "Trust this many proxy hops in front of the server, whatever their address.")
    var trustedHops = 0
    @Option(help: "Forwarding header read from trusted proxies: xff (X-Forwarded-For) or forwarded (RFC 7239).")
    var forwardedHeader: ForwardedHeader = .xff
    @Option(help: "Whose W3C traceparent goes on the records: accept (anyone's, the default), proxies (only from a --trusted-proxy peer) or ignore.")
    var traceContext: TraceContextPolicy = .accept
    @Option(parsing: .unconditional,
            help: "Event loop threads, at least 1 (default: the CPUs this process may run on, e.g. 1 under `taskset -c 0`).")
    var threads: Int?
    @Option(help: "How connections are handled: callbacks (on the event loop, no task per connection) or task (a handler task per connection iterating ws.messages).")
    var handler: HandlerStyle = .callbacks
    @Option(help: "Append log lines to this file instead of standard output; SIGHUP reopens it (logrotate: move the file, then send SIGHUP).")
    var logFile: String?
    @Option(parsing: .unconditional, help: "Seconds between keepalive pings, 0.01 to 86400 (Python websockets' default 20); 0 sends none.")
    var pingInterval = 20.0
    @Flag(help: "Count connections, messages, keepalive and log drops, and answer GET /metrics on the same port in the Prometheus text format.")
    var metrics = false
    @Option(help: "Serve GET /metrics on HOST:PORT of its own (implies --metrics; the WebSocket port then answers /metrics with 404).")
    var metricsListen: String?
    @Option(parsing: .unconditional,
            help: "Seconds between server_stats records (connections, closes by outcome, traffic, duration percentiles), 0.1 to 86400; 0 writes none. One more at shutdown.")
    var statsInterval = 60.0
    @Option(help: "This server's name on every record (JSON node, ECS service.node.name); default HOSTNAME:PID.")
    var node: String?
    @OptionGroup var logging: LoggingOptions

    enum HandlerStyle: String, ExpressibleByArgument {
        case callbacks, task
    }

    /// The echo as callbacks: each message written back as it arrives.
    struct EchoCallbacks: WebSocketCallbacks {
        func received(_ message: Message, on ws: WebSocket) throws { try ws.write(message) }
    }

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535, not \(port)") }
        guard maxSize >= 1 else { throw ValidationError("--max-size must be at least 1 byte, not \(maxSize)") }
        guard (0...9).contains(compressionLevel) else { throw ValidationError("--compression-level must be 0 to 9, not \(compressionLevel)") }
        guard trustedHops >= 0 else { throw ValidationError("--trusted-hops must be 0 or more, not \(trustedHops)") }
        guard pingInterval == 0 || (0.01...86_400).contains(pingInterval) else {
            throw ValidationError("--ping-interval must be 0 (no pings) or 0.01 to 86400 seconds, not \(pingInterval)")
        }
        guard statsInterval == 0 || (0.1...86_400).contains(statsInterval) else {
            throw ValidationError("--stats-interval must be 0 (no server_stats) or 0.1 to 86400 seconds, not \(statsInterval)")
        }
        if let node, node.isEmpty || node.utf8.count > 128 || node.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw ValidationError("--node '\(escapeControlCharacters(node))': 1 to 128 bytes without control characters")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, not \(threads)") }
        if logFile != nil && logging.logSyslog != nil { throw ValidationError("--log-file and --log-syslog: choose one destination") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        for text in trustedProxies where CIDR(text) == nil {
            throw ValidationError("--trusted-proxy \(text): not an IP address or CIDR range (e.g. 10.0.0.0/8)")
        }
        try validateSubprotocols(subprotocols)
        if let metricsListen, MetricsListener.parse(metricsListen) == nil {
            throw ValidationError("--metrics-listen \(metricsListen): expected HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100")
        }
    }

    func run() async throws {
        let endpoint = metrics || metricsListen != nil ? MetricsEndpoint() : nil
        endpoint?.bootstrap()
        let sink = logging.makeSink(otherwise: try openLogSink())
        logging.bootstrap(sink: sink)
        defer { logging.finish(sink) }
        var configuration = ServerConfiguration()
        configuration.connection.maxMessageSize = maxSize
        configuration.connection.pingInterval = pingInterval > 0 ? .nanoseconds(Int64(pingInterval * 1e9)) : nil
        if compression == .none { configuration.compression = nil } else { configuration.compression?.compressionLevel = compressionLevel }
        configuration.logger.logLevel = logging.logLevel
        configuration.handshake.subprotocols = subprotocols
        configuration.trustedProxies = TrustedProxies(ranges: trustedProxies.compactMap(CIDR.init), hops: trustedHops,
                                                      header: forwardedHeader == .xff ? .xForwardedFor : .forwarded)
        configuration.traceContext = traceContext
        configuration.statsInterval = statsInterval > 0 ? .nanoseconds(Int64(statsInterval * 1e9)) : nil
        if let node { configuration.node = node }
        if let tlsCert, let tlsKey { configuration.tls = try loadTLS(cert: tlsCert, key: tlsKey) }
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: threads ?? availableCPUs())
        var metricsListener: MetricsListener?
        if let endpoint, let metricsListen, let (metricsHost, metricsPort) = MetricsListener.parse(metricsListen) {
            do {
                metricsListener = try await MetricsListener.start(endpoint, host: metricsHost, port: metricsPort, group: eventLoops)
            } catch let error as IOError {
                throw CommandError("--metrics-listen: cannot listen on \(metricsListen): \(errnoText(error.errnoCode))")
            } catch let error as SocketAddressError {
                throw CommandError("--metrics-listen: cannot listen on \(metricsListen): \(Self.describe(error))")
            }
            // Not on the public port: a scraper pointed there is told so, not handed the metrics.
            configuration.processRequest = { request, _ in
                MetricsEndpoint.isMetricsPath(request.uri) ? HTTPResponse(status: .notFound, body: "not found\n") : nil
            }
        } else if let endpoint {
            configuration.processRequest = { request, _ in endpoint.response(to: request) }
        }
        let server = try await listen(configuration: configuration, group: eventLoops)
        if let metricsListener {
            configuration.logger.info("metrics on http://\(metricsListener.address)/metrics", metadata: ["metrics_address": "\(metricsListener.address)"])
        }
        defer { if let metricsListener { Task { await metricsListener.close() } } }
        // SIGINT/SIGTERM → graceful shutdown (1001 to every connection), then exit 0.
        var groupLogger = Logger(label: "websockets.lifecycle")
        groupLogger.logLevel = .warning
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: groupLogger)
        try await group.run()
    }

    /// Standard output, or the `--log-file` (reopened on SIGHUP).
    private func openLogSink() throws -> StreamSink {
        guard let logFile else { return .standardOutput }
        let probe = open(logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard probe >= 0 else { throw CommandError("--log-file \(logFile): cannot open for appending: \(errnoText(errno))") }
        close(probe)
        StreamSink.reopenFilesOnHangup()
        return StreamSink(destination: .file(path: logFile))
    }

    private func loadTLS(cert: String, key: String) throws -> TLSConfiguration {
        try requireReadable(cert, what: "certificate chain", option: "--tls-cert")
        try requireReadable(key, what: "private key", option: "--tls-key")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(cert)
        } catch {
            throw CommandError("--tls-cert \(cert): not a PEM certificate chain (expected -----BEGIN CERTIFICATE-----)")
        }
        guard !chain.isEmpty else { throw CommandError("--tls-cert \(cert): no certificate in the file") }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw CommandError("--tls-key \(key): not a PEM private key (expected -----BEGIN PRIVATE KEY-----)")
        }
        return .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    }

    private func listen(configuration: ServerConfiguration, group: any EventLoopGroup) async throws -> WebSocketServer {
        let echo: @Sendable (WebSocket) async throws -> Void = { ws in
            for try await message in ws.messages { try await ws.send(message) }
        }
        let target = unix.map { "unix socket \($0)" } ?? (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
        do {
            switch (handler, unix) {
            case (.callbacks, let unix?):
                return try await WebSocketServer.serve(unixPath: unix, configuration: configuration, group: group, callbacks: EchoCallbacks())
            case (.callbacks, nil):
                return try await WebSocketServer.serve(host: host, port: port, configuration: configuration, group: group, callbacks: EchoCallbacks())
            case (.task, let unix?):
                return try await WebSocketServer.serve(unixPath: unix, configuration: configuration, group: group, handler: echo)
            case (.task, nil):
                return try await WebSocketServer.serve(host: host, port: port, configuration: configuration, group: group, handler: echo)
            }
        } catch let error as IOError {
            throw CommandError("cannot listen on \(target): \(errnoText(error.errnoCode))")
        } catch let error as SocketAddressError {
            throw CommandError("cannot listen on \(target): \(Self.describe(error))")
        } catch let error as NIOSSLError {
            throw CommandError("cannot set up TLS: \(error)")
        }
    }

    private static func describe(_ error: SocketAddressError) -> String {
        switch error {
        case .unknown(let host, _): "\(host) is not an IP address of this machine or a resolvable name"
        case .unixDomainSocketPathTooLong: "the socket path is too long"
        default: "\(error)"
        }
    }
}

extension TraceContextPolicy: ExpressibleByArgument {}
