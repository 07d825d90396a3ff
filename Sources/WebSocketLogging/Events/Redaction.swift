/// What the library never writes to a log: credential headers and credential-like query
/// parameters in handshake records are replaced by `[REDACTED]`.
public struct Redaction: Sendable, Hashable {
    /// Header names (case-insensitive) whose values are redacted.
    public var headers: Set<String>
    /// Query parameter names (case-insensitive) whose values are redacted in request targets.
    public var queryParameters: Set<String>
    /// The replacement text.
    public var placeholder: String

    /// `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `Sec-WebSocket-Key`,
    /// `Sec-WebSocket-Accept`; query parameters `token`, `access_token`, `key`, `api_key`,
    /// `apikey`, `password`, `secret`, `signature`, `auth`.
    public static let `default` = Redaction(
        headers: ["authorization", "proxy-authorization", "cookie", "set-cookie", "sec-websocket-key", "sec-websocket-accept"],
        queryParameters: ["token", "access_token", "key", "api_key", "apikey", "password", "secret", "signature", "auth"])

    /// Redacts nothing. Only for debugging on a trusted machine.
    public static let none = Redaction(headers: [], queryParameters: [])

    /// Redacts the values of `headers` (case-insensitive) and of the `queryParameters` in request targets, replacing them with `placeholder`.
    public init(headers: Set<String>, queryParameters: Set<String>, placeholder: String = "[REDACTED]") {
        self.headers = Set(headers.map { $0.lowercased() })
        self.queryParameters = Set(queryParameters.map { $0.lowercased() })
        self.placeholder = placeholder
    }

    /// The value to log for header `name`.
    public func headerValue(name: String, value: String) -> String {
        headers.contains(name.lowercased()) ? placeholder : value
    }

    /// `target` with the values of sensitive query parameters replaced (`/ws?token=[REDACTED]&room=1`).
    public func target(_ target: String) -> String {
        guard !queryParameters.isEmpty, let q = target.firstIndex(of: "?") else { return target }
        let query = target[target.index(after: q)...]
        var changed = false
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { part -> Substring in
            let name = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? part
            guard queryParameters.contains(Self.percentDecoded(name).lowercased()) else { return part }
            changed = true
            return "\(name)=\(placeholder)"
        }
        guard changed else { return target }
        return String(target[...q]) + parts.joined(separator: "&")
    }

    /// `%XX` sequences decoded (so `acc%65ss_token` is recognised); invalid escapes kept.
    static func percentDecoded(_ s: Substring) -> String {
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let v = UInt8(String(decoding: bytes[i + 1...i + 2], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
