/// Where OTLP/HTTP log exports go: `http(s)://host:port/path`.
public struct OTLPEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `https`: TLS with the system's trust roots.
    public let secure: Bool
    /// The host name or IP address (without brackets for IPv6).
    public let host: String
    /// The TCP port.
    public let port: Int
    /// The request path, `/v1/logs` unless the URL names another.
    public let path: String

    /// Parses `http://host:port/v1/logs` (the path defaults to `/v1/logs`, the port to 4318 for
    /// http and 443 for https); `nil` for anything else.
    public init?(_ url: String) {
        let secure: Bool
        var rest: Substring
        if url.hasPrefix("http://") { secure = false; rest = url.dropFirst(7) } else if url.hasPrefix("https://") {
            secure = true; rest = url.dropFirst(8)
        } else { return nil }
        let authority = rest.prefix { $0 != "/" }
        rest = rest.dropFirst(authority.count)
        var host = Substring(authority), port = secure ? 443 : 4318
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { guard let p = Int(after.dropFirst()) else { return nil }; port = p }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let p = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.secure = secure
        self.host = String(host)
        self.port = port
        self.path = rest.isEmpty ? "/v1/logs" : String(rest)
    }

    var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String { "\(secure ? "https" : "http")://\(hostHeader)\(path)" }
}
