import WebSocketCore

/// Fields of `server_listening`.
public struct ServerListeningInfo: Sendable, Hashable {
    /// `host:port`, `[v6]:port` or the Unix socket path: what a client connects to.
    public var address: String
    /// The bound IP address; `nil` for a Unix socket.
    public var host: String?
    /// The bound port (the one picked when 0 was asked); `nil` for a Unix socket.
    public var port: Int?
    /// Whether the socket serves TLS (wss://).
    public var tls: Bool

    /// Creates the payload; each parameter sets the property of the same name.
    public init(address: String, host: String? = nil, port: Int? = nil, tls: Bool = false) {
        self.address = address
        self.host = host
        self.port = port
        self.tls = tls
    }
}

/// Fields of `connection_open`.
public struct ConnectionOpenInfo: Sendable, Hashable {
    /// The request target (path and query, with credential-like query values redacted).
    public var path: String
    /// The negotiated subprotocol.
    public var subprotocol: String?
    /// The subprotocols the client offered, comma-separated in its order (`nil` when it offered none).
    public var subprotocolsOffered: String?
    /// The negotiated extensions as sent in `Sec-WebSocket-Extensions`.
    public var extensions: String?
    /// Seconds from accepting the TCP connection to the end of the opening handshake.
    public var handshakeDuration: Double?

    /// Creates the payload; each parameter sets the property of the same name.
    public init(path: String, subprotocol: String? = nil, subprotocolsOffered: String? = nil, extensions: String? = nil,
                handshakeDuration: Double? = nil) {
        self.path = path
        self.subprotocol = subprotocol
        self.subprotocolsOffered = subprotocolsOffered
        self.extensions = extensions
        self.handshakeDuration = handshakeDuration
    }
}

/// Fields of `http_response_sent`.
public struct HTTPResponseSentInfo: Sendable, Hashable {
    /// The HTTP status sent.
    public var status: Int
    /// The status's reason phrase.
    public var reason: String
    /// The request target, redacted.
    public var path: String

    /// Creates the payload; each parameter sets the property of the same name.
    public init(status: Int, reason: String, path: String) {
        self.status = status
        self.reason = reason
        self.path = path
    }
}

/// Fields of `connection_rejected`.
public struct ConnectionRejectedInfo: Sendable, Hashable {
    /// The HTTP status sent.
    public var status: Int
    /// Why, in words (also the response body).
    public var reason: String
    /// The rejection kind (`invalid_key`, `refused`, ...).
    public var rejection: String
    /// The request target, redacted, when a request line was parsed.
    public var path: String?
    /// The subprotocols the client offered, comma-separated in its order, when it offered any.
    public var subprotocolsOffered: String?

    /// Creates the payload; each parameter sets the property of the same name.
    public init(status: Int, reason: String, rejection: String, path: String? = nil, subprotocolsOffered: String? = nil) {
        self.status = status
        self.reason = reason
        self.rejection = rejection
        self.path = path
        self.subprotocolsOffered = subprotocolsOffered
    }
}

/// Fields of `connection_closed`: how it ended and what went through it.
public struct ConnectionClosedInfo: Sendable, Hashable {
    /// The close code to group by: the code received (1005 for a close frame without one), else
    /// the code sent when this side closed or failed the connection, else 1006 (no closing handshake).
    public var code: Int
    /// The code in the close frame sent, if one was sent.
    public var codeSent: Int?
    /// The reason in the close frame sent.
    public var reasonSent: String?
    /// The code in the close frame received, if one was received.
    public var codeReceived: Int?
    /// The reason in the close frame received.
    public var reasonReceived: String?
    /// Who started closing.
    public var initiator: CloseInitiator
    /// Seconds from accept (or connect) to close.
    public var duration: Double
    /// Data messages received.
    public var messagesIn: Int
    /// Data messages sent.
    public var messagesOut: Int
    /// Bytes on the wire (frame headers and compressed payloads included).
    public var bytesIn: Int
    /// Bytes sent on the wire.
    public var bytesOut: Int
    /// Application payload bytes (uncompressed).
    public var payloadBytesIn: Int
    /// Message bytes sent, before compression.
    public var payloadBytesOut: Int
    /// The last keepalive round trip, in seconds.
    public var latency: Double?

    /// Creates the payload; each parameter sets the property of the same name.
    public init(code: Int, codeSent: Int? = nil, reasonSent: String? = nil, codeReceived: Int? = nil,
                reasonReceived: String? = nil, initiator: CloseInitiator, duration: Double,
                messagesIn: Int = 0, messagesOut: Int = 0, bytesIn: Int = 0, bytesOut: Int = 0,
                payloadBytesIn: Int = 0, payloadBytesOut: Int = 0, latency: Double? = nil) {
        self.code = code
        self.codeSent = codeSent
        self.reasonSent = reasonSent
        self.codeReceived = codeReceived
        self.reasonReceived = reasonReceived
        self.initiator = initiator
        self.duration = duration
        self.messagesIn = messagesIn
        self.messagesOut = messagesOut
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.payloadBytesIn = payloadBytesIn
        self.payloadBytesOut = payloadBytesOut
        self.latency = latency
    }

    /// Builds the record from an engine at the end of a connection.
    public init(engine: WebSocketEngine, duration: Double, latency: Double?) {
        let s = engine.statistics
        // The code an operator wants to group by: the peer's, else the one we sent (a failure
        // we detected, e.g. 1002 or 1009, whose reply is discarded per RFC 6455 §7.1.7), else 1006.
        let code = engine.closeReceived?.code ?? engine.closeSent?.code ?? .abnormalClosure
        self.init(code: Int(code.rawValue),
                  codeSent: engine.closeSent.map { Int($0.code.rawValue) }, reasonSent: engine.closeSent?.reason,
                  codeReceived: engine.closeReceived.map { Int($0.code.rawValue) }, reasonReceived: engine.closeReceived?.reason,
                  initiator: engine.closeInitiator ?? .abnormal, duration: duration,
                  messagesIn: s.messagesIn, messagesOut: s.messagesOut, bytesIn: s.wireBytesIn, bytesOut: s.wireBytesOut,
                  payloadBytesIn: s.payloadBytesIn, payloadBytesOut: s.payloadBytesOut, latency: latency)
    }
}

/// Fields of `client_reconnecting`.
public struct ClientReconnectingInfo: Sendable, Hashable {
    /// 1 for the first retry.
    public var attempt: Int
    /// Seconds until the next attempt.
    public var delay: Double
    /// The error type that caused the retry (`ConnectionRefused`, `HTTP 503`, ...).
    public var cause: String
    /// The URL connected to (sensitive query values redacted).
    public var url: String

    /// Creates the payload; each parameter sets the property of the same name.
    public init(attempt: Int, delay: Double, cause: String, url: String) {
        self.attempt = attempt
        self.delay = delay
        self.cause = cause
        self.url = url
    }
}

/// A frame as logged: header fields and a bounded, escaped preview of the payload.
public struct FrameInfo: Sendable, Hashable {
    /// The frame type.
    public var opcode: Opcode
    /// The frame ends its message.
    public var fin: Bool
    /// The frame is compressed (permessage-deflate).
    public var rsv1: Bool
    /// Payload length in bytes.
    public var size: Int
    /// Text escaped (`'hi\n'`), binary as hex, close as `1000 (OK) reason`; elided in the middle
    /// to at most the configured preview length. A compressed frame's preview is of its
    /// payload inflated.
    public var preview: String
    /// A compressed frame's payload inflated, in bytes (`size` is the compressed size on the wire).
    public var inflatedSize: Int?

    /// Creates the payload; each parameter sets the property of the same name.
    public init(opcode: Opcode, fin: Bool, rsv1: Bool, size: Int, preview: String, inflatedSize: Int? = nil) {
        self.opcode = opcode
        self.fin = fin
        self.rsv1 = rsv1
        self.size = size
        self.preview = preview
        self.inflatedSize = inflatedSize
    }
}

/// One line of an opening handshake as logged at DEBUG.
public enum HandshakeLine: Sendable, Hashable {
    /// `GET /path HTTP/1.1` (target redacted).
    case requestLine(method: String, target: String)
    /// `HTTP/1.1 101 Switching Protocols`.
    case statusLine(status: Int, reason: String)
    /// A header, its value redacted when its name is sensitive.
    case header(name: String, value: String)
}
