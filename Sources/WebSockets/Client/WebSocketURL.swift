/// A parsed `ws://` or `wss://` URL (RFC 6455 §3).
public struct WebSocketURL: Sendable, Hashable, CustomStringConvertible {
    /// `wss://` (TLS) rather than `ws://`.
    public var secure: Bool
    /// The host without brackets (`::1` for `ws://[::1]:8765/`).
    public var host: String
    /// The port, 80 or 443 unless the URL names one.
    public var port: Int
    /// Path and query, at least `/`. Fragments are not allowed (§3).
    public var target: String

    /// Parses `ws[s]://host[:port][/path][?query]`; IPv6 hosts in brackets.
    /// - Throws: ``WebSocketError`` (`invalid_url`) naming what is wrong.
    public init(_ string: String) throws(WebSocketError) {
        let lower = string.lowercased()
        let rest: Substring
        if lower.hasPrefix("ws://") {
            secure = false
            rest = string.dropFirst(5)
        } else if lower.hasPrefix("wss://") {
            secure = true
            rest = string.dropFirst(6)
        } else {
            throw WebSocketError(.invalidURL, "URL scheme must be ws or wss: \(string)")
        }
        if rest.contains("#") { throw WebSocketError(.invalidURL, "a WebSocket URL cannot have a fragment") }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if path.isEmpty || path.first == "?" { path = "/" + path }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }  // user info is not sent
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw WebSocketError(.invalidURL, "unterminated IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.first == ":" { portText = after.dropFirst() } else if !after.isEmpty {
                throw WebSocketError(.invalidURL, "unexpected text after IPv6 address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw WebSocketError(.invalidURL, "missing host in \(string)") }
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw WebSocketError(.invalidURL, "invalid port in \(string)") }
            port = p
        } else {
            port = secure ? 443 : 80
        }
        target = path
    }

    /// The `Host` header: host, brackets for IPv6, port unless it is the scheme's default.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? h : "\(h):\(port)"
    }

    public var description: String { "\(secure ? "wss" : "ws")://\(hostHeader)\(target)" }
}
