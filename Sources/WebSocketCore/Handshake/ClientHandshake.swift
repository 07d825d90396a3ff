import NIOHTTP1

/// A client's opening handshake failed: the server's response broke RFC 6455 §4.1.
public struct HandshakeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Which check of RFC 6455 §4.1 failed.
    public enum Kind: String, Hashable, Sendable {
        case invalidStatus = "invalid_status"
        case invalidUpgrade = "invalid_upgrade"
        case invalidConnection = "invalid_connection"
        case invalidAccept = "invalid_accept"
        case unexpectedSubprotocol = "unexpected_subprotocol"
        case unexpectedExtension = "unexpected_extension"
        case invalidExtensions = "invalid_extensions"
    }

    /// Which check failed.
    public var kind: Kind
    /// What was wrong, in words. Peer values are not quoted unless short and printable.
    public var message: String
    /// The HTTP status of the response (for ``Kind/invalidStatus`` the one that was not 101).
    public var status: UInt

    /// Creates an error.
    public init(kind: Kind, message: String, status: UInt) {
        self.kind = kind
        self.message = message
        self.status = status
    }

    public var description: String { message }
}

/// What a successful client handshake negotiated.
public struct ClientHandshakeResult: Hashable, Sendable {
    /// The subprotocol the server selected, one the client offered.
    public var subprotocol: String?
    /// Extensions the server accepted, each one the client offered.
    public var extensions: [ExtensionOffer]
}

/// The client side of the opening handshake (RFC 6455 §4.1) as pure values and functions.
public struct ClientHandshake: Sendable {
    /// The `Sec-WebSocket-Key` sent: base64 of 16 random bytes.
    public let key: String
    /// The `Host` header value (`host[:port]`, IPv6 in brackets).
    public var host: String
    /// The request target: path and query, e.g. `/chat?room=1`.
    public var target: String
    /// The `Origin` header, if any (browsers send one; servers may check it).
    public var origin: String?
    /// Subprotocols offered in `Sec-WebSocket-Protocol`, in preference order.
    public var subprotocols: [String]
    /// Extension offers, sent in `Sec-WebSocket-Extensions` in order.
    public var extensionOffers: [ExtensionOffer]
    /// The `User-Agent` header, if any.
    public var userAgent: String?
    /// Headers added to the request (e.g. `Authorization`).
    public var additionalHeaders: HTTPHeaders

    /// - Parameter generator: source of the key's randomness; the system CSPRNG by default.
    public init(host: String, target: String = "/", origin: String? = nil, subprotocols: [String] = [],
                extensionOffers: [ExtensionOffer] = [], userAgent: String? = "swift-websockets",
                additionalHeaders: HTTPHeaders = [:],
                generator: inout some RandomNumberGenerator) {
        self.key = AcceptKey.randomKey(using: &generator)
        self.host = host
        self.target = target.isEmpty ? "/" : target
        self.origin = origin
        self.subprotocols = subprotocols
        self.extensionOffers = extensionOffers
        self.userAgent = userAgent
        self.additionalHeaders = additionalHeaders
    }

    /// A handshake with a fresh key from the system CSPRNG; see the properties for the parameters.
    public init(host: String, target: String = "/", origin: String? = nil, subprotocols: [String] = [],
                extensionOffers: [ExtensionOffer] = [], userAgent: String? = "swift-websockets",
                additionalHeaders: HTTPHeaders = [:]) {
        var rng = SystemRandomNumberGenerator()
        self.init(host: host, target: target, origin: origin, subprotocols: subprotocols,
                  extensionOffers: extensionOffers, userAgent: userAgent,
                  additionalHeaders: additionalHeaders, generator: &rng)
    }

    /// The upgrade request (§4.1): GET, HTTP/1.1, Host, Upgrade, Connection, key, version 13.
    public func request() -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Key", value: key)
        headers.add(name: "Sec-WebSocket-Version", value: "13")
        if let origin { headers.add(name: "Origin", value: origin) }
        if !subprotocols.isEmpty { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocols.joined(separator: ", ")) }
        if !extensionOffers.isEmpty {
            headers.add(name: "Sec-WebSocket-Extensions", value: extensionOffers.map(\.description).joined(separator: ", "))
        }
        if let userAgent { headers.add(name: "User-Agent", value: userAgent) }
        for (name, value) in additionalHeaders { headers.add(name: name, value: value) }
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: headers)
    }

    /// Validates the server's response (§4.1, "the client MUST validate the server's response").
    ///
    /// - Throws: ``HandshakeError`` for a status other than 101, a missing or wrong `Upgrade`,
    ///   `Connection` or `Sec-WebSocket-Accept`, a subprotocol the client did not offer (or more
    ///   than one), and an extension the client did not offer.
    public func validate(_ response: HTTPResponseHead) throws(HandshakeError) -> ClientHandshakeResult {
        let status = response.status.code
        guard status == 101 else {
            throw HandshakeError(kind: .invalidStatus,
                                 message: "server rejected WebSocket connection: HTTP \(status)", status: status)
        }
        guard response.headers.webSocketContainsToken("Upgrade", "websocket") else {
            throw HandshakeError(kind: .invalidUpgrade, message: "missing or invalid Upgrade header", status: status)
        }
        guard response.headers.webSocketContainsToken("Connection", "upgrade") else {
            throw HandshakeError(kind: .invalidConnection, message: "missing or invalid Connection header", status: status)
        }
        let accepts = response.headers["Sec-WebSocket-Accept"]
        guard accepts.count == 1, accepts[0].trimmingOWS() == AcceptKey.acceptValue(forKey: key) else {
            throw HandshakeError(kind: .invalidAccept,
                                 message: accepts.isEmpty ? "missing Sec-WebSocket-Accept header"
                                     : "invalid Sec-WebSocket-Accept header", status: status)
        }
        let protocols = response.headers.webSocketTokens("Sec-WebSocket-Protocol")
        var subprotocol: String?
        if !protocols.isEmpty {
            guard protocols.count == 1, subprotocols.contains(String(protocols[0])) else {
                throw HandshakeError(kind: .unexpectedSubprotocol,
                                     message: protocols.count > 1 ? "server selected more than one subprotocol"
                                         : "server selected a subprotocol the client did not offer", status: status)
            }
            subprotocol = String(protocols[0])
        }
        let extensions: [ExtensionOffer]
        do {
            extensions = try ExtensionOffer.parse(response.headers["Sec-WebSocket-Extensions"])
        } catch {
            throw HandshakeError(kind: .invalidExtensions, message: "invalid Sec-WebSocket-Extensions header: \(error)", status: status)
        }
        // §4.1: an extension "not present in the client's handshake" MUST fail the connection.
        for ext in extensions where !extensionOffers.contains(where: { $0.name == ext.name }) {
            throw HandshakeError(kind: .unexpectedExtension,
                                 message: "server accepted an extension the client did not offer: \(ext.name)", status: status)
        }
        return ClientHandshakeResult(subprotocol: subprotocol, extensions: extensions)
    }
}
