import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import WebSockets

/// The upgrade decision of a server whose WebSocket routes live on a router: the router (its
/// middleware, then the route) answers the upgrade request; a WebSocket route's cue becomes the
/// library's decision on that route's upgrader (``WebSocketRouteUpgraders``: one per route
/// pattern); any other response is sent as the answer, and logged.
final class RouteUpgrades<Responder: HTTPResponder>: Sendable where Responder.Context: WebSocketRouteContext {
    let responder: Responder
    let upgraders: WebSocketRouteUpgraders
    /// Largest answer body kept (a middleware's refusal is short); a longer one is cut there.
    static var maxAnswerBody: Int { 64 << 10 }

    init(responder: Responder, configuration: WebSockets.ServerConfiguration) {
        self.responder = responder
        self.upgraders = WebSocketRouteUpgraders(configuration: configuration)
    }

    /// The decision for one upgrade request on `channel`.
    func decide(_ head: HTTPRequestHead, channel: any Channel, logger: Logger) async -> WebSocketHTTPUpgrader.Decision {
        let peer = channel.remoteAddress
        let loop = channel.eventLoop
        guard let fields = try? HTTPRequest(head, secure: false, splitCookie: false) else {
            return upgraders.answer(head, remoteAddress: peer, on: loop, with: WebSockets.HTTPResponse(status: .badRequest, body: "bad request head\n"),
                                    route: nil)
        }
        let request = Request(head: fields, body: .init(buffer: ByteBuffer()))
        let context = Responder.Context(source: .init(channel: channel, logger: logger))
        var response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch let error as any HTTPResponseError {
            response = (try? error.response(from: request, context: context)) ?? Response(status: .internalServerError)
        } catch {
            logger.debug("WebSocket route failed", metadata: ["error.type": "\(error)"])
            response = Response(status: .internalServerError)
        }
        let pattern = context.endpointPath.flatMap { $0 == "NotFound" ? nil : Self.declared($0) }
        if response.status == .switchingProtocols, let matched = context.webSocketRoute.take() {
            let upgrader = upgraders.upgrader(for: pattern ?? head.uri, matched.configuration)
            switch matched.handling {
            case .task(let handler):
                return await upgrader.decide(head, remoteAddress: peer, on: loop, handler: handler)
            case .callbacks(let callbacks):
                return await upgrader.decide(head, remoteAddress: peer, on: loop, callbacks: callbacks)
            }
        }
        if response.status.code < 200 {  // a 101 that is not a WebSocket route's, or any 1xx: not an answer
            logger.error("a WebSocket upgrade request was answered \(response.status.code) by a route that is not a WebSocket route")
            response = Response(status: .internalServerError)
        }
        return upgraders.answer(head, remoteAddress: peer, on: loop, with: await Self.plain(response), route: pattern)
    }

    /// The route's pattern as it is declared (`/rooms/:room`): Hummingbird describes a
    /// parameter component as `{room}`.
    static func declared(_ endpoint: String) -> String {
        endpoint.split(separator: "/", omittingEmptySubsequences: false).map { component in
            component.hasPrefix("{") && component.hasSuffix("}") && component.count > 2
                ? ":" + component.dropFirst().dropLast() : component
        }.joined(separator: "/")
    }

    /// The router's response as the library's: status, headers and (at most ``maxAnswerBody`` of) the body.
    static func plain(_ response: Response) async -> WebSockets.HTTPResponse {
        var plain = WebSockets.HTTPResponse(status: HTTPResponseStatus(statusCode: response.status.code, reasonPhrase: response.status.reasonPhrase),
                                            headers: HTTPHeaders(response.headers))
        plain.headers.remove(name: "Content-Length")  // the answer's own length is set when it is sent
        plain.headers.remove(name: "Transfer-Encoding")
        let collected = BodyCollector.Kept()
        try? await response.body.write(BodyCollector(limit: maxAnswerBody, kept: collected))
        plain.body = collected.body
        return plain
    }
}

/// Keeps a response body in memory, up to a limit.
private struct BodyCollector: ResponseBodyWriter {
    /// The writer is consumed by the body: what it keeps outlives it here.
    final class Kept {
        var body = ByteBuffer()
    }

    let limit: Int
    let kept: Kept

    mutating func write(_ buffer: ByteBuffer) async throws {
        let room = max(0, limit - kept.body.readableBytes)
        kept.body.writeImmutableBuffer(buffer.getSlice(at: buffer.readerIndex, length: min(room, buffer.readableBytes)) ?? ByteBuffer())
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
