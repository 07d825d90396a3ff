#if canImport(Glibc)
import Glibc
#endif
import Instrumentation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import WebSocketCompression
import WebSocketCore
import WebSocketLogging

/// Opens client connections.
///
/// ```swift
/// let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:8765/")
/// try await ws.send("hello")
/// for try await message in ws.messages { print(message) }
/// ```
public enum WebSocketClient {
    /// Connects, performs the opening handshake, and returns the open connection.
    /// - Throws: ``WebSocketError`` for an invalid URL, a refused handshake (with its HTTP
    ///   status), an invalid response or the open timeout; NIO's errors for connection failures.
    public static func connect(to url: String, configuration: ClientConfiguration = .init(),
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> WebSocket {
        let parsed = try WebSocketURL(url)
        return try await connect(parsed, unixPath: nil, configuration: configuration, group: group)
    }

    /// Connects over a Unix domain socket; `url` gives the `Host` header and request target.
    public static func connect(unixPath: String, url: String = "ws://localhost/", configuration: ClientConfiguration = .init(),
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> WebSocket {
        try await connect(try WebSocketURL(url), unixPath: unixPath, configuration: configuration, group: group)
    }

    static func connect(_ url: WebSocketURL, unixPath: String?, configuration: ClientConfiguration,
                        group: any EventLoopGroup) async throws -> WebSocket {
        let options = configuration.connection
        // The caller's trace context goes into the request (through the bootstrapped instrument);
        // the ids sent are on this connection's records too.
        let headers = ServiceContext.current.map { TracePropagation.inject($0, into: configuration.additionalHeaders) }
            ?? configuration.additionalHeaders
        let trace = TracePropagation.traceContext(in: headers)
        let handshake = ClientHandshake(host: url.hostHeader, target: url.target, origin: configuration.origin,
                                        subprotocols: configuration.subprotocols,
                                        extensionOffers: configuration.compression.map { [PerMessageDeflate.offer(configuration: $0)] } ?? [],
                                        userAgent: configuration.userAgent,
                                        additionalHeaders: headers)
        // A request that cannot be written as it is (a CR LF in a subprotocol or header value
        // would add header lines of its own) is refused before anything connects.
        do {
            try HTTPHeadValidation.validate(handshake.request())
        } catch {
            throw WebSocketError(.invalidConfiguration, "cannot send the handshake request to \(url.hostHeader): \(error)")
        }
        let sslContext = url.secure ? try NIOSSLContext(configuration: configuration.tls) : nil
        let base = configuration.makeEventLogger()
        let loop = group.next()
        let promise = loop.makePromise(of: WebSocket.self)
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(options.openTimeout.map(TimeAmount.init(clamping:)) ?? .seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try options.apply(to: channel)
                    if let sslContext {
                        let isIP = url.host.contains(":") || url.host.allSatisfy { $0.isNumber || $0 == "." }
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: isIP ? nil : url.host))
                    }
                    let peer = channel.remoteAddress
                    let context = ConnectionContext(peerAddress: peer?.logHost ?? url.host, peerPort: peer?.port ?? url.port,
                                                    traceContext: trace)
                    try channel.pipeline.syncOperations.addHandler(
                        ClientHandshakeHandler(handshake: handshake, compression: configuration.compression, options: options,
                                               promise: promise, logger: base, logContext: context))
                }
            }
        let channel: any Channel
        do {
            if let unixPath {
                channel = try await bootstrap.connect(unixDomainSocketPath: unixPath).get()
            } else {
                channel = try await bootstrap.connect(host: url.host, port: url.port).get()
            }
        } catch {
            let failure = WebSocketError(connecting: error, to: unixPath.map { "unix socket \($0)" } ?? "\(url.host):\(url.port)")
            promise.fail(failure)
            throw failure
        }
        _ = channel
        return try await promise.futureResult.get()
    }

    /// Connections that reconnect automatically, like Python websockets' `async for websocket
    /// in connect(...)`: each iteration yields a new open connection after the previous one
    /// closed. Connection failures and 5xx rejections are retried with ``ReconnectPolicy``
    /// backoff and logged at INFO (`client_reconnecting`); other handshake errors end the
    /// sequence by throwing.
    public static func connections(to url: String, configuration: ClientConfiguration = .init(),
                                   group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) -> ReconnectingConnections {
        ReconnectingConnections(url: url, configuration: configuration, group: group)
    }
}

/// See ``WebSocketClient/connections(to:configuration:group:)``.
public struct ReconnectingConnections: AsyncSequence, Sendable {
    public typealias Element = WebSocket
    let url: String
    let configuration: ClientConfiguration
    let group: any EventLoopGroup

    public func makeAsyncIterator() -> Iterator { Iterator(sequence: self) }

    /// Yields the next open connection once the previous one closed.
    public struct Iterator: AsyncIteratorProtocol {
        let sequence: ReconnectingConnections
        var previous: WebSocket?

        public mutating func next() async throws -> WebSocket? {
            if let previous { await previous.waitUntilClosed() }
            let log = sequence.configuration.makeEventLogger()
            var rng = SystemRandomNumberGenerator()
            var attempt = 0
            while true {
                try Task.checkCancellation()
                do {
                    let ws = try await WebSocketClient.connect(to: sequence.url, configuration: sequence.configuration,
                                                               group: sequence.group)
                    previous = ws
                    return ws
                } catch let error as WebSocketError where error.kind == .invalidURL
                    || (error.kind == .handshakeFailed && !(500...599).contains(error.status ?? 500)) {
                    throw error
                } catch {
                    attempt += 1
                    if let max = sequence.configuration.reconnect.maxAttempts, attempt > max { throw error }
                    let delay = sequence.configuration.reconnect.delay(attempt: attempt, using: &rng)
                    log.emit(.clientReconnecting(ClientReconnectingInfo(attempt: attempt, delay: delay, cause: "\(error)",
                                                                        url: log.redaction.target(sequence.url))))
                    try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                }
            }
        }
    }
}

extension WebSocketError {
    /// A failed TCP connect in words: the address and the cause (`connection refused`), not
    /// NIO's nested description.
    init(connecting error: any Error, to target: String) {
        self.init(.connectionFailed, "cannot connect to \(target): \(Self.cause(of: error))")
    }

    private static func cause(of error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if let nio = error as? NIOConnectionError {
            if let first = nio.connectionErrors.first { return cause(of: first.error) }
            if nio.dnsAError != nil || nio.dnsAAAAError != nil { return "cannot resolve host \(nio.host)" }
        }
        if case ChannelError.connectTimeout(let t) = error { return "timed out after \(Double(t.nanoseconds) / 1e9) s" }
        return "\(error)"
    }
}
