import WebSocketCore
extension SyslogSink {
    /// How a ``SyslogSink`` reaches the daemon, and what each way guarantees.
    public enum Transport: Sendable, Hashable, CustomStringConvertible {
        /// RFC 5426: one datagram per message. A daemon that is down loses what is sent meanwhile
        /// (loopback reports it, and those records are counted; a remote host does not).
        case udp(host: String, port: Int)
        /// RFC 6587 octet-counted framing. Records wait while the daemon is down and go out after
        /// reconnection; what the daemon had not read when it died is lost without a trace.
        case tcp(host: String, port: Int)
        /// RELP (rsyslog's `imrelp`): every record is acknowledged; unacknowledged records are
        /// sent again after reconnection, so a restart loses nothing (a record may arrive twice).
        case relp(host: String, port: Int)
        /// One datagram per message on a Unix socket (`/dev/log`, rsyslog's `imuxsock`).
        case unix(path: String)

        /// Parses `relp://HOST:PORT`, `tcp://HOST:PORT`, `udp://HOST:PORT` or `unix:PATH`
        /// (IPv6 hosts in brackets: `tcp://[::1]:514`).
        public init(parsing text: String) throws(TransportError) {
            if text.hasPrefix("unix:") {
                var path = Substring(text.dropFirst(5))
                if path.hasPrefix("///") { path = path.dropFirst(2) }  // unix:///dev/log
                guard !path.isEmpty else { throw TransportError(text: text, problem: "the socket path is missing") }
                self = .unix(path: String(path))
                return
            }
            guard let schemeEnd = text.firstRange(of: "://") else {
                throw TransportError(text: text, problem: "expected relp://HOST:PORT, tcp://HOST:PORT, udp://HOST:PORT or unix:PATH")
            }
            let scheme = text[..<schemeEnd.lowerBound].lowercased()
            let authority = text[schemeEnd.upperBound...]
            let host: Substring
            let portText: Substring
            switch HostPort.split(authority) {
            case .success(let parts): (host, portText) = (parts.host, parts.port)
            case .failure(.unterminatedBracket): throw TransportError(text: text, problem: "expected [IPv6]:PORT")
            case .failure(.missingPort): throw TransportError(text: text, problem: "the port is missing (HOST:PORT)")
            }
            guard !host.isEmpty else { throw TransportError(text: text, problem: "the host is missing") }
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw TransportError(text: text, problem: "the port must be 1-65535, not \"\(portText)\"")
            }
            switch scheme {
            case "relp": self = .relp(host: String(host), port: port)
            case "tcp": self = .tcp(host: String(host), port: port)
            case "udp": self = .udp(host: String(host), port: port)
            default: throw TransportError(text: text, problem: "unknown scheme \"\(scheme)\" (relp, tcp, udp or unix)")
            }
        }

        /// The form ``init(parsing:)`` reads.
        public var description: String {
            switch self {
            case .relp(let host, let port): "relp://\(Self.bracketed(host)):\(port)"
            case .tcp(let host, let port): "tcp://\(Self.bracketed(host)):\(port)"
            case .udp(let host, let port): "udp://\(Self.bracketed(host)):\(port)"
            case .unix(let path): "unix:\(path)"
            }
        }

        private static func bracketed(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }
    }

    /// A syslog destination that could not be read: names the text and what is wrong with it.
    public struct TransportError: Error, CustomStringConvertible {
        /// The text given.
        public let text: String
        /// What is wrong with it.
        public let problem: String
        public var description: String { "\(text): \(problem)" }
    }
}
