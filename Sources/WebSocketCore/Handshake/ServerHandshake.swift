import NIOHTTP1

/// Options for accepting an opening handshake.
public struct ServerHandshakeOptions: Sendable {
    /// Subprotocols this server speaks.
    public var subprotocols: [String]
    /// Picks a subprotocol from those the client offered (in the client's order); `nil` for
    /// none. The default picks the first subprotocol of the client's offer that is in
    /// ``subprotocols`` (the client lists them in its order of preference, RFC 6455 §4.1); a
    /// client offering none of them gets no `Sec-WebSocket-Protocol`, as with Python websockets.
    public var selectSubprotocol: (@Sendable (_ offered: [String], _ request: HTTPRequestHead) -> String?)?
    /// The `Server` header value, or `nil` to send none.
    public var serverHeader: String?
    /// Headers added to every 101 response.
    public var extraHeaders: HTTPHeaders
    /// Negotiates compression (permessage-deflate); `nil` declines every extension offer.
    public var extensions: (any ExtensionNegotiator)?

    /// Creates options; each parameter sets the property of the same name.
    public init(subprotocols: [String] = [],
                selectSubprotocol: (@Sendable ([String], HTTPRequestHead) -> String?)? = nil,
                serverHeader: String? = "swift-websockets",
                extraHeaders: HTTPHeaders = [:], extensions: (any ExtensionNegotiator)? = nil) {
        self.subprotocols = subprotocols
        self.selectSubprotocol = selectSubprotocol
        self.serverHeader = serverHeader
        self.extraHeaders = extraHeaders
        self.extensions = extensions
    }
}

/// An accepted handshake: the 101 response to send and what was negotiated.
public struct ServerHandshakeResult: Sendable {
    /// The 101 response to send.
    public var response: HTTPResponseHead
    /// The subprotocol selected, if any.
    public var subprotocol: String?
    /// The extensions the client offered (parsed).
    public var offeredExtensions: [ExtensionOffer]
    /// The negotiated compression, if an offer was accepted.
    public var compression: (any MessageCompression)?
}

/// The server side of the opening handshake (RFC 6455 §4.2) as pure functions.
public enum ServerHandshake {
    /// Checks `request` against every requirement of §4.2.1 and returns the client's key.
    ///
    /// Checked in this order, each failure with its own status: method `GET` (405 with
    /// `Allow: GET`), HTTP/1.1 or later (505), exactly one non-empty `Host` (400),
    /// `Upgrade` containing the token `websocket` (426 with `Upgrade: websocket`), `Connection`
    /// containing the token `Upgrade` (426), exactly one `Sec-WebSocket-Key` that is base64 of 16
    /// bytes (400), `Sec-WebSocket-Version: 13` (426 with `Sec-WebSocket-Version: 13`).
    public static func validate(_ request: HTTPRequestHead) -> Result<String, HandshakeRejection> {
        guard request.method == .GET else {
            return .failure(.init(kind: .invalidMethod, status: .methodNotAllowed,
                                  reason: "WebSocket handshake requires method GET", headers: ["Allow": "GET"]))
        }
        guard request.version.major == 1, request.version.minor >= 1 else {
            return .failure(.init(kind: .invalidHTTPVersion, status: .httpVersionNotSupported,
                                  reason: "WebSocket handshake requires HTTP/1.1"))
        }
        let fields = HandshakeFields(request.headers)
        guard fields.hosts == 1, fields.hostIsNonEmpty else {
            return .failure(.init(kind: .missingHost, status: .badRequest,
                                  reason: fields.hosts == 0 ? "missing Host header" : "invalid Host header"))
        }
        guard fields.upgradeIsWebSocket else {
            return .failure(.init(kind: .invalidUpgrade, status: .upgradeRequired,
                                  reason: "missing or invalid Upgrade header: expected websocket",
                                  headers: upgradeRequired))
        }
        guard fields.connectionIsUpgrade else {
            return .failure(.init(kind: .invalidConnection, status: .upgradeRequired,
                                  reason: "missing or invalid Connection header: expected Upgrade",
                                  headers: upgradeRequired))
        }
        guard fields.keys == 1, let key = fields.key else {
            return .failure(.init(kind: fields.keys == 0 ? .missingKey : .invalidKey, status: .badRequest,
                                  reason: fields.keys == 0 ? "missing Sec-WebSocket-Key header"
                                      : "more than one Sec-WebSocket-Key header"))
        }
        guard AcceptKey.isValidKey(key) else {
            return .failure(.init(kind: .invalidKey, status: .badRequest,
                                  reason: "invalid Sec-WebSocket-Key header: must be base64 of 16 bytes"))
        }
        // §4.2.2: a version the server does not understand gets a 426 listing the versions it does.
        guard fields.versions == 1, fields.versionIs13 else {
            return .failure(.init(kind: .unsupportedVersion, status: .upgradeRequired,
                                  reason: fields.versions == 0 ? "missing Sec-WebSocket-Version header"
                                      : "unsupported Sec-WebSocket-Version: only 13 is supported",
                                  headers: ["Sec-WebSocket-Version": "13"]))
        }
        return .success(String(key))
    }

    private static let upgradeRequired: HTTPHeaders = ["Upgrade": "websocket", "Connection": "Upgrade"]

    /// Validates `request` and builds the 101 response (§4.2.2), selecting a subprotocol.
    public static func accept(_ request: HTTPRequestHead,
                              options: ServerHandshakeOptions = .init()) -> Result<ServerHandshakeResult, HandshakeRejection> {
        let key: String
        switch validate(request) {
        case .success(let k): key = k
        case .failure(let rejection): return .failure(rejection)
        }
        let offeredExtensions: [ExtensionOffer]
        do {
            offeredExtensions = request.headers.contains(name: "Sec-WebSocket-Extensions")
                ? try ExtensionOffer.parse(request.headers["Sec-WebSocket-Extensions"]) : []
        } catch {
            return .failure(.init(kind: .invalidExtensions, status: .badRequest,
                                  reason: "invalid Sec-WebSocket-Extensions header: \(error)"))
        }
        let offered = request.headers.webSocketTokens("Sec-WebSocket-Protocol").map(String.init)
        var subprotocol: String?
        if !offered.isEmpty {
            if let select = options.selectSubprotocol {
                subprotocol = select(offered, request)
            } else {
                subprotocol = offered.first { options.subprotocols.contains($0) }
            }
            // §4.2.2: the selected value MUST be one the client offered.
            if let chosen = subprotocol, !offered.contains(chosen) {
                return .failure(.init(kind: .invalidSubprotocols, status: .internalServerError,
                                      reason: "selected subprotocol was not offered by the client"))
            }
        }
        var headers = options.extraHeaders
        // Without extra headers there is nothing to replace: adding skips a search per header.
        let set: (inout HTTPHeaders, String, String) -> Void = options.extraHeaders.isEmpty
            ? { $0.add(name: $1, value: $2) } : { $0.replaceOrAdd(name: $1, value: $2) }
        set(&headers, "Upgrade", "websocket")
        set(&headers, "Connection", "Upgrade")
        set(&headers, "Sec-WebSocket-Accept", AcceptKey.acceptValue(forKey: key))
        if let subprotocol { set(&headers, "Sec-WebSocket-Protocol", subprotocol) }
        let compression = offeredExtensions.isEmpty ? nil : options.extensions?.accept(offers: offeredExtensions)
        if let compression { set(&headers, "Sec-WebSocket-Extensions", compression.negotiatedHeader) }
        if let server = options.serverHeader { set(&headers, "Server", server) }
        let response = HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers)
        return .success(ServerHandshakeResult(response: response, subprotocol: subprotocol,
                                              offeredExtensions: offeredExtensions, compression: compression))
    }
}
