import NIOCore
import NIOHTTP1

/// Which way something crossed the wire.
public enum Direction: String, Sendable, Hashable {
    case sent
    case received

    /// `>` for sent, `<` for received: the prefixes of Python websockets' DEBUG lines.
    public var prefix: Character { self == .sent ? ">" : "<" }
}

/// A step of the closing handshake or of shutting the transport down.
public enum CloseStep: Hashable, Sendable {
    /// The engine asked the I/O layer to close the TCP connection (a server after the closing
    /// handshake, or either side when failing).
    case closingTransport
    /// The peer closed the TCP connection.
    case eofReceived
    /// The connection is being failed (RFC 6455 §7.1.7) with this code and reason.
    case failing(CloseCode, reason: String)
}

/// A typed DEBUG-level fact about the protocol, for the logging pipeline to render.
///
/// The engine records these only while ``WebSocketEngine/isTracing`` is on, so they cost a
/// branch when nobody listens. Payloads are referenced, not copied or formatted: rendering
/// (escaping, eliding, hex) is the formatter's job.
public enum ProtocolTrace: Hashable, Sendable {
    /// `=` The connection state changed.
    case stateChanged(ConnectionState)
    /// `<`/`>` The opening handshake request (received by a server, sent by a client).
    case handshakeRequest(HTTPRequestHead, Direction)
    /// `<`/`>` The opening handshake response (sent by a server, received by a client).
    case handshakeResponse(HTTPResponseHead, Direction)
    /// `<`/`>` A frame, with its payload unmasked.
    case frame(Frame, Direction)
    /// `<`/`>` A compressed frame (permessage-deflate) as on the wire, and its payload inflated:
    /// what a reader of the trace wants to see is the message, not deflate's bytes.
    case compressedFrame(Frame, Direction, inflated: ByteBuffer)
    /// `x` A closing step.
    case close(CloseStep)
    /// `!` A protocol error handled by failing the connection.
    case errorHandled(ProtocolViolation)

    /// The one-character prefix of the plain log format.
    public var prefix: Character {
        switch self {
        case .stateChanged: "="
        case .handshakeRequest(_, let d), .handshakeResponse(_, let d), .frame(_, let d), .compressedFrame(_, let d, _): d.prefix
        case .close: "x"
        case .errorHandled: "!"
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case let (.stateChanged(x), .stateChanged(y)): x == y
        case let (.handshakeRequest(x, d1), .handshakeRequest(y, d2)): x == y && d1 == d2
        case let (.handshakeResponse(x, d1), .handshakeResponse(y, d2)): x == y && d1 == d2
        case let (.frame(x, d1), .frame(y, d2)): x == y && d1 == d2
        case let (.compressedFrame(x, d1, i1), .compressedFrame(y, d2, i2)): x == y && d1 == d2 && i1 == i2
        case let (.close(x), .close(y)): x == y
        case let (.errorHandled(x), .errorHandled(y)): x == y
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(String(prefix))
    }
}
