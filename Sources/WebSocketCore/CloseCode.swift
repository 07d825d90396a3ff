/// A close status code (RFC 6455 §7.4).
///
/// A struct rather than an enum so that any code a peer sends can be represented; use
/// ``isValidOnWire`` to decide whether a received code is acceptable.
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    @inlinable
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// A code from its number.
    @inlinable
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// Normal closure. Corresponds to code 1000.
    public static let normalClosure = CloseCode(1000)
    /// The endpoint is going away (server shutdown, page navigation). Corresponds to code 1001.
    public static let goingAway = CloseCode(1001)
    /// The peer violated the protocol. Corresponds to code 1002.
    public static let protocolError = CloseCode(1002)
    /// The endpoint received a type of data it cannot accept. Corresponds to code 1003.
    public static let unsupportedData = CloseCode(1003)
    /// No status code was present in the close frame. Never sent on the wire. Corresponds to code 1005.
    public static let noStatusReceived = CloseCode(1005)
    /// The connection closed without a close frame. Never sent on the wire. Corresponds to code 1006.
    public static let abnormalClosure = CloseCode(1006)
    /// A message's data was inconsistent with its type (e.g. invalid UTF-8 in text). Corresponds to code 1007.
    public static let invalidFramePayloadData = CloseCode(1007)
    /// The message violated the endpoint's policy. Corresponds to code 1008.
    public static let policyViolation = CloseCode(1008)
    /// A message or frame was larger than the endpoint accepts. Corresponds to code 1009.
    public static let messageTooBig = CloseCode(1009)
    /// The client expected the server to negotiate an extension it did not. Corresponds to code 1010.
    public static let mandatoryExtension = CloseCode(1010)
    /// The server hit an unexpected condition (for example a handler threw). Corresponds to code 1011.
    public static let internalError = CloseCode(1011)
    /// The service is restarting. Corresponds to code 1012.
    public static let serviceRestart = CloseCode(1012)
    /// The service is overloaded, try again later. Corresponds to code 1013.
    public static let tryAgainLater = CloseCode(1013)
    /// A gateway received an invalid response. Corresponds to code 1014.
    public static let badGateway = CloseCode(1014)
    /// The TLS handshake failed. Never sent on the wire. Corresponds to code 1015.
    public static let tlsHandshake = CloseCode(1015)

    /// Whether this code may appear in a close frame on the wire.
    ///
    /// RFC 6455 §7.4.1–7.4.2 and the IANA registry: 0–999 are unused, 1004–1006 and 1015 are
    /// reserved and MUST NOT be sent, 1016–2999 are reserved for future RFCs (none registered
    /// yet beyond 1014), 3000–4999 are for libraries, frameworks and applications.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014: true
        case 3000...4999: true
        default: false
        }
    }

    /// The registered name (`OK`, `going away`, ...) as Python websockets prints it, or
    /// `registered`/`private use`/`unknown` for codes outside the table.
    public var name: String {
        switch rawValue {
        case 1000: "OK"
        case 1001: "going away"
        case 1002: "protocol error"
        case 1003: "unsupported data"
        case 1005: "no status received [internal]"
        case 1006: "abnormal closure [internal]"
        case 1007: "invalid frame payload data"
        case 1008: "policy violation"
        case 1009: "message too big"
        case 1010: "mandatory extension"
        case 1011: "internal error"
        case 1012: "service restart"
        case 1013: "try again later"
        case 1014: "bad gateway"
        case 1015: "TLS handshake failure [internal]"
        case 3000...3999: "registered"
        case 4000...4999: "private use"
        default: "unknown"
        }
    }

    public var description: String { "\(rawValue) (\(name))" }
}
