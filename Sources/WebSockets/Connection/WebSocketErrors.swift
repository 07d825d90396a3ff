import WebSocketCore
import WebSocketLogging

/// The connection is closed: thrown by `send` after the close, and by message iteration when
/// the connection ended with anything but a normal closure (1000/1001), like Python websockets'
/// `ConnectionClosedError`.
public struct ConnectionClosed: Error, Hashable, Sendable, CustomStringConvertible {
    /// The close frame received from the peer, if any.
    public var received: CloseFrame?
    /// The close frame sent, if any.
    public var sent: CloseFrame?

    /// The connection's close code: received, else 1006.
    public var code: CloseCode { received?.code ?? .abnormalClosure }
    /// Whether the connection closed normally (1000 or 1001 received and sent).
    public var isNormal: Bool {
        guard let r = received?.code else { return false }
        return (r == .normalClosure || r == .goingAway) && (sent.map { $0.code == .normalClosure || $0.code == .goingAway } ?? true)
    }

    public var description: String {
        switch (received, sent) {
        case let (r?, s?): "received \(r); then sent \(s)"
        case let (r?, nil): "received \(r); no close frame sent"
        case let (nil, s?): "sent \(s); no close frame received"
        case (nil, nil): "no close frame received or sent"
        }
    }
}

/// Failures of `connect` and `serve`.
public struct WebSocketError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable {
        case invalidURL = "invalid_url"
        /// The TCP connection could not be made (refused, unreachable, no such host, timed out).
        case connectionFailed = "connection_failed"
        /// The TLS handshake failed (certificate not trusted, the server does not speak TLS).
        case tlsFailed = "tls_failed"
        case handshakeFailed = "handshake_failed"
        case invalidResponse = "invalid_response"
        case timeout = "timeout"
        case connectionClosed = "connection_closed"
        case alreadyIterating = "already_iterating"
        case invalidConfiguration = "invalid_configuration"
        /// `write` from another thread while the write buffer is above its high mark.
        case writeBufferFull = "write_buffer_full"
        /// A send the connection's state does not allow (a new message while a fragmented one
        /// is still being sent, a control payload over 125 bytes).
        case invalidSend = "invalid_send"
    }

    /// What went wrong.
    public var kind: Kind
    /// Details, in words.
    public var message: String
    /// The HTTP status of a rejected handshake.
    public var status: UInt?

    /// Creates an error; `status` is the HTTP status of a failed handshake.
    public init(_ kind: Kind, _ message: String, status: UInt? = nil) {
        self.kind = kind
        self.message = message
        self.status = status
    }

    public var description: String { message }
}

extension WebSocketEventLogger {
    /// What a connection's handler task or callback threw: an ERROR `handler_failed` record
    /// (the caller then closes with 1011, never telling the peer why). The ``ConnectionClosed``
    /// that a send after the close throws is how a handler learns the peer left, not a failure:
    /// it is not logged.
    func handlerFailed(_ error: any Error) {
        guard !(error is ConnectionClosed) else { return }
        emit(.handlerFailed(errorType: String(reflecting: type(of: error)), description: String(describing: error)), error: error)
    }
}
