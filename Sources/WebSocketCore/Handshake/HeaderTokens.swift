import NIOHTTP1

extension HTTPHeaders {
    /// All comma-separated elements of every `name` header line, trimmed of optional white
    /// space, empty elements dropped (RFC 9110 §5.6.1 `#rule`). Quoted commas are not special
    /// here: the headers this is used for (`Connection`, `Upgrade`, `Sec-WebSocket-Protocol`)
    /// are token lists.
    package func webSocketTokens(_ name: String) -> [Substring] {
        var result: [Substring] = []
        for value in self[name] {
            for element in value.split(separator: ",", omittingEmptySubsequences: true) {
                let trimmed = element.trimmingOWS()
                if !trimmed.isEmpty { result.append(trimmed) }
            }
        }
        return result
    }

    /// The `Sec-WebSocket-Protocol` offer as logged: comma-separated in the client's order, `nil` for none.
    package var offeredSubprotocols: String? {
        let offered = webSocketTokens("Sec-WebSocket-Protocol")
        return offered.isEmpty ? nil : offered.joined(separator: ", ")
    }

    /// Whether any element of the `name` token list equals `token`, ignoring ASCII case.
    func webSocketContainsToken(_ name: String, _ token: String) -> Bool {
        webSocketTokens(name).contains { $0.asciiCaseInsensitiveEquals(token) }
    }
}

/// What ``ServerHandshake/validate(_:)`` needs from the request headers, read in one pass
/// without building arrays (the handshake runs once per connection: this was most of its cost).
struct HandshakeFields {
    var hosts = 0
    /// The first `Host` line is not empty once trimmed.
    var hostIsNonEmpty = false
    /// An element of a `Upgrade` line is `websocket` (any case).
    var upgradeIsWebSocket = false
    /// An element of a `Connection` line is `upgrade` (any case).
    var connectionIsUpgrade = false
    var keys = 0
    /// The first `Sec-WebSocket-Key`, trimmed.
    var key: Substring?
    /// Elements of all `Sec-WebSocket-Version` lines.
    var versions = 0
    /// The first of them is `13`.
    var versionIs13 = false

    init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            switch name.utf8.count {
            case 4 where name.asciiCaseInsensitiveEquals("host"):
                if hosts == 0 { hostIsNonEmpty = !value.trimmingOWS().isEmpty }
                hosts += 1
            case 7 where name.asciiCaseInsensitiveEquals("upgrade"):
                value.forEachWebSocketToken { if $0.asciiCaseInsensitiveEquals("websocket") { upgradeIsWebSocket = true } }
            case 10 where name.asciiCaseInsensitiveEquals("connection"):
                value.forEachWebSocketToken { if $0.asciiCaseInsensitiveEquals("upgrade") { connectionIsUpgrade = true } }
            case 17 where name.asciiCaseInsensitiveEquals("sec-websocket-key"):
                if keys == 0 { key = value.trimmingOWS() }
                keys += 1
            case 21 where name.asciiCaseInsensitiveEquals("sec-websocket-version"):
                value.forEachWebSocketToken {
                    if versions == 0 { versionIs13 = $0 == "13" }
                    versions += 1
                }
            default: break
            }
        }
    }
}

extension String {
    /// Each comma-separated element, trimmed of OWS, empty ones skipped (``HTTPHeaders/webSocketTokens(_:)``
    /// for one line, without an array).
    func forEachWebSocketToken(_ body: (Substring) -> Void) {
        let bytes = utf8
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
            let element = self[start..<end].trimmingOWS()
            if !element.isEmpty { body(element) }
            start = end == bytes.endIndex ? end : bytes.index(after: end)
        }
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs (HTTP's OWS).
    func trimmingOWS() -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" {
            end = index(before: end)
        }
        return self[start..<end]
    }

    /// ASCII case-insensitive comparison, as HTTP tokens are compared.
    func asciiCaseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A)
        }
    }
}

/// RFC 9110 §5.6.2 `tchar`: the characters of an HTTP token.
enum HTTPToken {
    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
