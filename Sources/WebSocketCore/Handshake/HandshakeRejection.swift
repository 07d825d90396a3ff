import NIOHTTP1

/// Why a server refused an opening handshake: an HTTP status, a reason text and any headers
/// the RFC asks for (e.g. `Sec-WebSocket-Version: 13` with a 426).
///
/// The reason is fixed text chosen by the library or the application; it never echoes
/// peer-supplied header values, so it is safe to log and to send.
public struct HandshakeRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for each way a request can fail, used as the log field `rejection`.
    public enum Kind: String, Hashable, Sendable {
        case invalidMethod = "invalid_method"
        case invalidHTTPVersion = "invalid_http_version"
        case missingHost = "missing_host"
        case invalidUpgrade = "invalid_upgrade"
        case invalidConnection = "invalid_connection"
        case missingKey = "missing_key"
        case invalidKey = "invalid_key"
        case unsupportedVersion = "unsupported_version"
        case invalidExtensions = "invalid_extensions"
        case invalidSubprotocols = "invalid_subprotocols"
        /// The HTTP head itself was unacceptable (limits, syntax); see ``HTTPHeadError``.
        case invalidRequest = "invalid_request"
        /// The handshake did not complete within the open timeout.
        case timeout = "timeout"
        /// The server is shutting down (503).
        case shuttingDown = "shutting_down"
        /// Refused by application policy (origin check, `processRequest`, authentication).
        case refused = "refused"
    }

    /// The stable reason, logged as `rejection`.
    public var kind: Kind
    /// The HTTP status of the response.
    public var status: HTTPResponseStatus
    /// The explanation: the response body and the logged `reason`.
    public var reason: String
    /// Extra response headers (`Allow`, `Upgrade`, `Sec-WebSocket-Version`).
    public var headers: HTTPHeaders

    /// Creates a rejection; `headers` are added to the response (e.g. `Sec-WebSocket-Version` with 426).
    public init(kind: Kind, status: HTTPResponseStatus, reason: String, headers: HTTPHeaders = [:]) {
        self.kind = kind
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    /// The plain-text body sent with the response.
    public var body: String { reason + "\n" }

    /// The response head: the status, the extra headers, a text body's type and length, and
    /// `Connection: close` (a rejected connection is not reused).
    public func responseHead(serverHeader: String? = nil) -> HTTPResponseHead {
        var h = headers
        if let serverHeader { h.replaceOrAdd(name: "Server", value: serverHeader) }
        h.replaceOrAdd(name: "Content-Type", value: "text/plain; charset=utf-8")
        h.replaceOrAdd(name: "Content-Length", value: String(body.utf8.count))
        h.replaceOrAdd(name: "Connection", value: "close")
        return HTTPResponseHead(version: .http1_1, status: status, headers: h)
    }

    public var description: String { "\(status.code) \(status.reasonPhrase): \(reason)" }

    public static func == (a: Self, b: Self) -> Bool {
        a.kind == b.kind && a.status == b.status && a.reason == b.reason && a.headers == b.headers
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(status.code)
        hasher.combine(reason)
    }
}
