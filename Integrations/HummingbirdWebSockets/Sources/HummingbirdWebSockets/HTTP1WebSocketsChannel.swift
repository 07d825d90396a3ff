import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import WebSockets

/// Hummingbird's HTTP/1 child channel with this library's WebSocket upgrade: upgrade requests
/// become its connections (same handshake rules, records and handler styles as the standalone
/// server), decided by the WebSocket routes of a router (``HummingbirdCore/HTTPServerBuilder/http1WebSockets(webSocketRouter:configuration:http1:)``)
/// or by one ``WebSocketHTTPUpgrader``; every other request goes to the application's router,
/// as with `.http1()`.
public struct HTTP1WebSocketsChannel: ServerChildChannel, HTTPChannelHandler {
    /// What a connection became.
    public enum UpgradeResult: Sendable {
        /// One of the library's connections: it runs on its own channel handler.
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
    let upgrader: @Sendable (Logger) -> TypedWebSocketHTTPUpgrader<UpgradeResult>
    let configuration: HTTP1Channel.Configuration

    /// Requests `upgrader` accepts become WebSocket connections; the others go to `responder`.
    public init(responder: @escaping HTTPChannelHandler.Responder, upgrader: WebSocketHTTPUpgrader,
                configuration: HTTP1Channel.Configuration = .init()) {
        self.responder = responder
        let typed = upgrader.typed { channel in channel.eventLoop.makeSucceededFuture(UpgradeResult.webSocket) }
        self.upgrader = { _ in typed }
        self.configuration = configuration
    }

    /// Upgrade requests go through `webSocketRouter`'s routes (middleware first); the others to `responder`.
    init<Router: HTTPResponder>(responder: @escaping HTTPChannelHandler.Responder, routes: RouteUpgrades<Router>,
                                configuration: HTTP1Channel.Configuration) {
        // NIO upgrades only a connection's first request: a later upgrade request reached the
        // router, where a WebSocket route cannot upgrade. It is sent to a new connection.
        self.responder = { request, writer, channel in
            guard request.asksForWebSocket else { return try await responder(request, writer, channel) }
            var target = request.uri.path
            if let query = request.uri.query { target += "?" + query }
            try await writer.writeResponse(HTTPTypes.HTTPResponse(status: .temporaryRedirect,
                                                                  headerFields: [.location: target, .connection: "close"]))
            throw UpgradeOnReusedConnection()
        }
        self.upgrader = { logger in
            WebSocketHTTPUpgrader.typed(deciding: { head, channel in await routes.decide(head, channel: channel, logger: logger) },
                                        result: { channel in channel.eventLoop.makeSucceededFuture(.webSocket) })
        }
        self.configuration = configuration
    }

    /// Ends an HTTP connection whose upgrade request came after another request.
    struct UpgradeOnReusedConnection: Error {}

    /// NIO's typed upgradable HTTP/1 pipeline with `upgrader` as its only upgrader.
    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let configuration = self.configuration
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration<UpgradeResult>(
                upgraders: [upgrader(logger)],
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
    /// HTTP/1 with this library's WebSocket routes on the same port: the WebSocket routes of
    /// `webSocketRouter` (``Hummingbird/RouterMethods/ws(_:configuration:handler:)``) take upgrade
    /// requests after its middleware; every other request goes to the application's router.
    ///
    /// ```swift
    /// let router = Router(context: BasicWebSocketRouteContext.self)
    /// router.ws("/rooms/:room") { ws, context in … }
    /// let app = Application(router: router, server: .http1WebSockets(webSocketRouter: router))
    /// ```
    ///
    /// Give the application's own router (as above) and a plain GET to a WebSocket route gets
    /// 426 from the route itself, after its middleware. `configuration` is the server's
    /// (logging, trusted proxies, limits, `statsInterval`), each route's own settings over it. On
    /// a graceful shutdown open WebSockets are closed with 1001 and the last `server_stats`
    /// window is written.
    public static func http1WebSockets<Router: HTTPResponderBuilder>(
        webSocketRouter: Router, configuration: WebSockets.ServerConfiguration = .init(), http1: HTTP1Channel.Configuration = .init()
    ) -> HTTPServerBuilder where Router.Responder.Context: WebSocketRouteContext {
        let routes = RouteUpgrades(responder: webSocketRouter.buildResponder(), configuration: configuration)
        return .init { responder in
            // Built inside the application's service: its graceful shutdown closes the routes'
            // connections and writes the last `server_stats` window.
            routes.upgraders.shutdownOnGracefulShutdown()
            return HTTP1WebSocketsChannel(responder: responder, routes: routes, configuration: http1)
        }
    }

    /// HTTP/1 with one ``WebSocketHTTPUpgrader`` on the same port, for the requests it picks:
    ///
    /// ```swift
    /// let upgrader = WebSocketHTTPUpgrader(configuration: configuration, shouldUpgrade: { $0.uri == "/ws" }) { ws in … }
    /// let app = Application(router: router, server: .http1WebSockets(upgrader), services: [upgrader])
    /// ```
    ///
    /// The upgrade happens before the router (no middleware, no path parameters): prefer
    /// WebSocket routes (``http1WebSockets(webSocketRouter:configuration:http1:)``).
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
        get(path) { _, _ in Response.upgradeRequired }
    }
}
