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
