import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Vapor
import WebSockets

extension RoutesBuilder {
    /// `GET path` as a WebSocket route: after the route's middleware, an upgrade request
    /// becomes one of this library's connections, handled by `handler` in its own task with the
    /// Vapor `Request` (`req.parameters`, `req.auth`). A middleware's refusal (a 401, say) is
    /// sent and logged as `http_response_sent`; a plain request gets 426.
    ///
    /// ```swift
    /// app.grouped(TokenMiddleware()).webSocket("rooms", ":room", configuration: .init(maxMessageSize: 4096)) { req, ws in
    ///     let room = req.parameters.get("room")!
    ///     for try await message in ws.messages { … }
    /// }
    /// ```
    ///
    /// `configuration` sets this route's limits over `app.webSocketConfiguration`, the server's.
    @discardableResult
    public func webSocket(_ path: PathComponent..., configuration: WebSocketRouteConfiguration = .init(),
                          handler: @escaping @Sendable (Request, WebSockets.WebSocket) async throws -> Void) -> Route {
        webSocketRoute(path, configuration) { req, upgrader, head in
            await upgrader.decide(head, remoteAddress: req.remoteAddress, on: req.eventLoop) { ws in try await handler(req, ws) }
        }
    }

    /// A WebSocket route handled by callbacks on the connection's event loop (see
    /// ``WebSockets/WebSocketCallbacks``): `callbacks` makes them for each connection from its request.
    @discardableResult
    public func webSocket(_ path: PathComponent..., configuration: WebSocketRouteConfiguration = .init(),
                          callbacks: @escaping @Sendable (Request) async throws -> any WebSocketCallbacks) -> Route {
        webSocketRoute(path, configuration) { req, upgrader, head in
            do {
                return await upgrader.decide(head, remoteAddress: req.remoteAddress, on: req.eventLoop, callbacks: try await callbacks(req))
            } catch {
                req.logger.report(error: error)
                return upgrader.answer(head, remoteAddress: req.remoteAddress, on: req.eventLoop,
                                       with: WebSockets.HTTPResponse(status: .internalServerError, body: "internal server error\n"))
            }
        }
    }

    private func webSocketRoute(
        _ path: [PathComponent], _ configuration: WebSocketRouteConfiguration,
        decide: @escaping @Sendable (Request, WebSocketHTTPUpgrader, HTTPRequestHead) async -> WebSocketHTTPUpgrader.Decision
    ) -> Route {
        let route = on(.GET, path) { req async -> Response in
            guard req.asksForWebSocket else { return .upgradeRequired }
            let upgrader = req.application.webSocketRoutes.upgrader(for: req.routePattern, configuration)
            req.storage[AnsweredByLibrary.self] = true
            return VaporUpgrade.response(await decide(req, upgrader, req.head))
        }
        // The route's middleware is in `route.responder` now: its refusals are seen here.
        route.responder = RefusalLogging(route: route.responder)
        return route
    }
}

extension Request {
    /// The response that upgrades this request to one of `upgrader`'s connections, for a route
    /// that decides for itself (after checking a token, say): 101 when the standalone server's
    /// rules accept it; otherwise what it would answer (400 naming a missing header, 403 for an
    /// origin not allowed, `processRequest`'s response), already logged; 426 for a request that
    /// does not ask for an upgrade.
    public func webSocket(upgrader: WebSocketHTTPUpgrader) async -> Response {
        guard asksForWebSocket else { return .upgradeRequired }
        return VaporUpgrade.response(await upgrader.decide(head, remoteAddress: remoteAddress, on: eventLoop))
    }

    /// `Upgrade: websocket` with `Connection: upgrade` (tokens compared without case).
    var asksForWebSocket: Bool {
        headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
            && headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
    }

    var head: HTTPRequestHead { HTTPRequestHead(version: version, method: method, uri: url.string, headers: headers) }

    /// The matched route's pattern, as declared (`/rooms/:room`).
    var routePattern: String { "/" + (route?.path.string ?? String(url.path.drop { $0 == "/" })) }
}

extension Response {
    /// A plain request to a WebSocket route: 426 Upgrade Required, naming the protocol (RFC 9110 §15.5.22).
    static var upgradeRequired: Response {
        Response(status: .upgradeRequired,
                 headers: ["Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Content-Type": "text/plain"],
                 body: .init(string: "this is a WebSocket endpoint: connect with a WebSocket client\n"))
    }
}

/// Set on a request whose answer the library made (and logged) itself.
private struct AnsweredByLibrary: StorageKey {
    typealias Value = Bool
}

/// Around a WebSocket route and its middleware: an upgrade request the middleware refused (a
/// 401, a thrown `Abort`) is answered as a refused upgrade is, and logged as
/// `http_response_sent` with the connection's context and the route.
private struct RefusalLogging: Responder {
    let route: any Responder

    func respond(to request: Request) -> EventLoopFuture<Response> {
        guard request.asksForWebSocket else { return route.respond(to: request) }
        let promise = request.eventLoop.makePromise(of: Response.self)
        promise.completeWithTask {
            let response: Response
            do {
                response = try await route.respond(to: request).get()
            } catch {
                let status = (error as? any AbortError)?.status ?? .internalServerError
                let reason = (error as? any AbortError)?.reason ?? status.reasonPhrase
                let headers = (error as? any AbortError)?.headers ?? [:]
                response = Response(status: status, headers: headers, body: .init(string: reason + "\n"))
            }
            guard response.status != .switchingProtocols, request.storage[AnsweredByLibrary.self] != true else { return response }
            var plain = WebSockets.HTTPResponse(status: response.status, headers: response.headers)
            plain.headers.remove(name: "Content-Length")
            plain.body = response.body.buffer ?? ByteBuffer(string: response.body.string ?? "")
            return VaporUpgrade.response(request.application.webSocketRoutes.answers.answer(
                request.head, remoteAddress: request.remoteAddress, on: request.eventLoop, with: plain, route: request.routePattern))
        }
        return promise.futureResult
    }
}

/// The upgraders of one application's WebSocket routes (``WebSocketRouteUpgraders``), made anew
/// when ``Vapor/Application/webSocketConfiguration`` changes.
final class RouteUpgraders: Sendable {
    private let current = NIOLockedValueBox(WebSocketRouteUpgraders(configuration: .init()))

    var configuration: WebSockets.ServerConfiguration {
        get { current.withLockedValue { $0.configuration } }
        set { current.withLockedValue { $0 = WebSocketRouteUpgraders(configuration: newValue) } }
    }

    func upgrader(for pattern: String, _ route: WebSocketRouteConfiguration) -> WebSocketHTTPUpgrader {
        current.withLockedValue { $0 }.upgrader(for: pattern, route)
    }

    /// Logs the answers that are not upgrades (their records name the route that answered).
    var answers: WebSocketRouteUpgraders { current.withLockedValue { $0 } }
}

extension RouteUpgraders: LifecycleHandler {
    func shutdownAsync(_ application: Application) async {
        await answers.shutdown()
    }
}

extension Application {
    private struct RouteUpgradersKey: LockKey, StorageKey {
        typealias Value = RouteUpgraders
    }

    /// The server configuration of this application's WebSocket routes (logging, trusted
    /// proxies, limits, compression, `statsInterval`), each route's own settings over it. Set it
    /// before the first connection. At the application's shutdown the routes' connections are
    /// closed with 1001 and the last `server_stats` window is written.
    public var webSocketConfiguration: WebSockets.ServerConfiguration {
        get { webSocketRoutes.configuration }
        set { webSocketRoutes.configuration = newValue }
    }

    var webSocketRoutes: RouteUpgraders {
        locks.lock(for: RouteUpgradersKey.self).withLock {
            if let routes = storage[RouteUpgradersKey.self] { return routes }
            let routes = RouteUpgraders()
            storage[RouteUpgradersKey.self] = routes
            lifecycle.use(routes)  // at shutdown: connections closed with 1001, the last server_stats window
            return routes
        }
    }
}
