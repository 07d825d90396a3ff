import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import WebSockets

/// Hummingbird's HTTP/1 child channel with this library's WebSocket upgrade: requests the
/// ``WebSocketHTTPUpgrader`` accepts become its connections (same handshake rules, records and
/// handler styles as the standalone server); every other request goes to the application's
/// router, as with `.http1()`. A plain request (no upgrade) to a WebSocket path gets 426.
public struct HTTP1WebSocketsChannel: ServerChildChannel, HTTPChannelHandler {
    /// What a connection became.
    public enum UpgradeResult: Sendable {
        /// One of the upgrader's connections: it runs on its own channel handler.
        case webSocket
        /// An HTTP/1 connection for the router.
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    /// The child channel and what it will become.
    public struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        /// The connection's channel.
        public let channel: any Channel
    }

    /// The application's router.
    public let responder: HTTPChannelHandler.Responder
    let upgrader: WebSocketHTTPUpgrader
    let configuration: HTTP1Channel.Configuration

    /// Requests `upgrader` accepts become WebSocket connections; the others go to `responder`.
    public init(responder: @escaping HTTPChannelHandler.Responder, upgrader: WebSocketHTTPUpgrader,
                configuration: HTTP1Channel.Configuration = .init()) {
        self.responder = responder
        self.upgrader = upgrader
        self.configuration = configuration
    }

    /// NIO's typed upgradable HTTP/1 pipeline with `upgrader` as its only upgrader.
    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let configuration = self.configuration
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration<UpgradeResult>(
                upgraders: [upgrader.typed { channel in channel.eventLoop.makeSucceededFuture(.webSocket) }],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandlers(configuration.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: configuration.idleTimeout.map { .init($0) }, logger: logger))
                        return .http(try NIOAsyncChannel(wrappingChannelSynchronously: channel,
                                                         configuration: .init(isOutboundHalfClosureEnabled: true)))
                    }
                })
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgrade)
            pipeline.enablePipelining = false  // HTTP is pipelined by NIOAsyncChannel
            pipeline.enableErrorHandling = false  // Hummingbird answers errors
            pipeline.enableResponseHeaderValidation = false  // HTTP types validate
            pipeline.decoderConfiguration.maxHeaderFieldSize = configuration.httpDecoder.maxHeaderFieldSize
            pipeline.decoderConfiguration.maxHeaderListSize = configuration.httpDecoder.maxHeaderListSize
            pipeline.decoderConfiguration.maxHeaderFieldCount = configuration.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    /// Serves the router's HTTP requests, or lasts as long as the WebSocket connection.
    public func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .webSocket:
                // The connection runs on its own handler; the server's child task lasts as long.
                try await value.channel.closeFuture.get()
            }
        } catch {
            // A refused handshake was answered by the upgrader, which closed the channel.
            logger.trace("WebSocket upgrade not completed: \(error)")
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with this library's WebSocket upgrade on the same port:
    ///
    /// ```swift
    /// let upgrader = WebSocketHTTPUpgrader(configuration: configuration, shouldUpgrade: { $0.uri == "/ws" }) { ws in … }
    /// let app = Application(router: router, server: .http1WebSockets(upgrader), services: [upgrader])
    /// ```
    ///
    /// Add the upgrader to the application's services so that a graceful shutdown closes its
    /// connections with 1001.
    public static func http1WebSockets(_ upgrader: WebSocketHTTPUpgrader,
                                       configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        .init { responder in HTTP1WebSocketsChannel(responder: responder, upgrader: upgrader, configuration: configuration) }
    }
}

extension RouterMethods {
    /// `GET path` for a plain request to a WebSocket endpoint: 426 Upgrade Required, naming the
    /// protocol (RFC 9110 §15.5.22). The upgrade itself never reaches the router.
    @discardableResult
    public func webSocketEndpoint(_ path: RouterPath) -> Self {
        get(path) { _, _ in
            Response(status: .upgradeRequired,
                     headers: [.upgrade: "websocket", .secWebSocketVersion: "13", .contentType: "text/plain"],
                     body: .init(byteBuffer: ByteBuffer(string: "this is a WebSocket endpoint: connect with a WebSocket client\n")))
        }
    }
}
