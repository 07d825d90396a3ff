import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOConcurrencyHelpers
import NIOCore
import WebSockets

/// A request context whose router can hold WebSocket routes (``Hummingbird/RouterMethods/ws(_:configuration:handler:)``).
/// Add the slot to a context of your own, beside what your middleware stores:
///
/// ```swift
/// struct AppContext: WebSocketRouteContext {
///     var coreContext: CoreRequestContextStorage
///     let webSocketRoute = WebSocketRouteMatch()
///     var user: String?  // set by an authentication middleware
///     init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
/// }
/// ```
public protocol WebSocketRouteContext: RequestContext, InitializableFromSource<ApplicationRequestContextSource> {
    /// Where a WebSocket route leaves its handler for the upgrade.
    var webSocketRoute: WebSocketRouteMatch { get }
}

/// The request context for a router with WebSocket routes and nothing else of your own.
public struct BasicWebSocketRouteContext: WebSocketRouteContext {
    /// Hummingbird's own values (logger, parameters, endpoint path).
    public var coreContext: CoreRequestContextStorage
    /// Where a WebSocket route leaves its handler for the upgrade.
    public let webSocketRoute = WebSocketRouteMatch()

    /// A context for one request.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// What a matched WebSocket route hands the upgrade: its configuration and its handler, bound
/// to the request context its middleware produced. Set once per request, by the route.
public final class WebSocketRouteMatch: Sendable {
    struct Matched: Sendable {
        let configuration: WebSocketRouteConfiguration
        let handling: Handling
    }

    enum Handling: Sendable {
        case task(@Sendable (WebSocket) async throws -> Void)
        case callbacks(any WebSocketCallbacks)
    }

    private let matched = NIOLockedValueBox<Matched?>(nil)

    /// An empty slot, for a new request context.
    public init() {}

    func set(_ value: Matched) { matched.withLockedValue { $0 = value } }
    func take() -> Matched? { matched.withLockedValue { value in defer { value = nil }; return value } }
}

extension RouterMethods where Context: WebSocketRouteContext {
    /// A WebSocket route: an upgrade request for `path` runs the router's middleware, then
    /// becomes one of this library's connections, handled by `handler` in its own task with the
    /// request context (path parameters, what middleware stored). A middleware's refusal (a
    /// 401, say) is sent as it is and logged as `http_response_sent`; a plain request gets 426.
    ///
    /// ```swift
    /// router.ws("/rooms/:room", configuration: .init(maxMessageSize: 4096)) { ws, context in
    ///     let room = context.parameters.get("room") ?? "lobby"
    ///     for try await message in ws.messages { … }
    /// }
    /// ```
    ///
    /// Serve the router with ``HummingbirdCore/HTTPServerBuilder/http1WebSockets(webSocketRouter:configuration:http1:)``;
    /// `configuration` sets this route's limits over the server's.
    @discardableResult
    public func ws(_ path: RouterPath, configuration: WebSocketRouteConfiguration = .init(),
                   handler: @escaping @Sendable (WebSocket, Context) async throws -> Void) -> Self {
        on(path, method: .get) { request, context -> Response in
            guard request.asksForWebSocket else { return Response.upgradeRequired }
            context.webSocketRoute.set(.init(configuration: configuration, handling: .task { ws in try await handler(ws, context) }))
            return Response(status: .switchingProtocols)  // the upgrade's cue; never written as it is
        }
    }

    /// A WebSocket route handled by callbacks on the connection's event loop (see
    /// ``WebSockets/WebSocketCallbacks``): `callbacks` makes them for each connection from its
    /// request and context, after the router's middleware.
    @discardableResult
    public func ws(_ path: RouterPath, configuration: WebSocketRouteConfiguration = .init(),
                   callbacks: @escaping @Sendable (Request, Context) async throws -> any WebSocketCallbacks) -> Self {
        on(path, method: .get) { request, context -> Response in
            guard request.asksForWebSocket else { return Response.upgradeRequired }
            let made = try await callbacks(request, context)
            context.webSocketRoute.set(.init(configuration: configuration, handling: .callbacks(made)))
            return Response(status: .switchingProtocols)
        }
    }
}

extension Request {
    /// `Upgrade: websocket` with `Connection: upgrade` (tokens compared without case).
    var asksForWebSocket: Bool {
        headers[values: .upgrade].contains { $0.lowercased() == "websocket" }
            && headers[values: .connection].contains { $0.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "upgrade" } }
    }
}

extension Response {
    /// A plain request to a WebSocket route: 426 Upgrade Required, naming the protocol (RFC 9110 §15.5.22).
    static var upgradeRequired: Response {
        Response(status: .upgradeRequired,
                 headers: [.upgrade: "websocket", .secWebSocketVersion: "13", .contentType: "text/plain"],
                 body: .init(byteBuffer: ByteBuffer(string: "this is a WebSocket endpoint: connect with a WebSocket client\n")))
    }
}
