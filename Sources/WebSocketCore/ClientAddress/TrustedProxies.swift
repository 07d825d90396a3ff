import NIOHTTP1

/// Which proxies may tell us the client's address, and in which header.
///
/// Empty by default: with nothing trusted the client address is the socket peer and
/// forwarding headers are ignored (they stay readable in the request).
public struct TrustedProxies: Sendable, Hashable {
    /// The forwarding header to read.
    public enum Header: String, Sendable, Hashable {
        /// `X-Forwarded-For: client, proxy1, proxy2` (every header line, joined in order).
        case xForwardedFor = "x-forwarded-for"
        /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1` (every element and line).
        case forwarded = "forwarded"
    }

    /// Address ranges of trusted proxies (IPv4 and IPv6).
    public var ranges: [CIDR]
    /// Additionally trust this many proxy hops in front of the server, whatever their address
    /// (the socket peer is hop 1). 0: trust by address only.
    public var hops: Int
    /// The forwarding header read from trusted proxies.
    public var header: Header
    /// Forwarding entries considered at most (the rightmost ones); a longer chain stops the walk.
    public var maxEntries: Int

    /// Trusts peers in `ranges`, and/or the first `hops` hops whatever their address; reads `header`; stops walking after `maxEntries` entries.
    public init(ranges: [CIDR] = [], hops: Int = 0, header: Header = .xForwardedFor, maxEntries: Int = 32) {
        self.ranges = ranges
        self.hops = max(0, hops)
        self.header = header
        self.maxEntries = max(1, maxEntries)
    }

    /// Nothing trusted: the client address is always the socket peer.
    public static let none = TrustedProxies()

    /// Whether any proxy is trusted at all.
    public var isEmpty: Bool { ranges.isEmpty && hops == 0 }

    /// Whether the socket peer itself is a trusted proxy (an IP address in ``ranges``, or any
    /// peer when ``hops`` is at least 1).
    package func trustsPeer(_ peer: String?) -> Bool {
        guard !isEmpty, let peer, let address = IPAddress(peer) else { return false }
        return trusts(address, hop: 1)
    }

    func trusts(_ address: IPAddress, hop: Int) -> Bool {
        hop <= hops || ranges.contains { $0.contains(address) }
    }

    /// The client address and where it came from (`peer`, `x-forwarded-for`, `forwarded`).
    ///
    /// The rule: if the socket peer is not trusted, the peer is the client. Otherwise walk the
    /// forwarding chain from the right (the entry the nearest proxy appended), skipping trusted
    /// hops; the first untrusted address is the client. If every entry is trusted, the
    /// left-most one is. The walk stops — and the result is the last address vouched for by a
    /// trusted hop (the peer, or the innermost trusted entry) — at anything that is not a plain
    /// address: garbage, `unknown`, obfuscated identifiers (`_hidden`), an empty element, or a
    /// chain longer than ``maxEntries``. Nothing here throws; the result is always an address
    /// that appears in the input or the peer.
    public func resolve(peer: String?, headers: HTTPHeaders) -> (address: String?, source: String) {
        guard !isEmpty, let peer, let peerIP = IPAddress(peer), trusts(peerIP, hop: 1) else { return (peer, "peer") }
        let values = headers[header == .xForwardedFor ? "X-Forwarded-For" : "Forwarded"]
        guard !values.isEmpty else { return (peer, "peer") }
        let entries: [Substring?] = header == .xForwardedFor ? Self.xForwardedForEntries(values) : Self.forwardedEntries(values)
        guard !entries.isEmpty else { return (peer, "peer") }
        var vouched = peer  // the last address a trusted hop vouched for
        var source = "peer"
        var hop = 1
        for (walked, entry) in entries.reversed().enumerated() {
            guard walked < maxEntries, let entry, let (text, ip) = Self.address(entry) else { return (vouched, source) }
            hop += 1
            vouched = text
            source = header.rawValue
            if !trusts(ip, hop: hop) { return (text, source) }
        }
        return (vouched, source)
    }

    /// Every comma-separated element of every `X-Forwarded-For` line, in order; `nil` for an
    /// empty element.
    static func xForwardedForEntries(_ values: [String]) -> [Substring?] {
        values.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }.map { element in
            let trimmed = element.trimmingOWS()
            return trimmed.isEmpty ? nil : trimmed
        }
    }

    /// The `for=` value of every element of every `Forwarded` line (RFC 7239 §4), in order;
    /// `nil` for an element without one or that cannot be parsed.
    static func forwardedEntries(_ values: [String]) -> [Substring?] {
        var result: [Substring?] = []
        for value in values {
            for element in splitOutsideQuotes(value[...], on: ",") {
                var found: Substring?
                var valid = true
                for pair in splitOutsideQuotes(element, on: ";") {
                    let p = pair.trimmingOWS()
                    if p.isEmpty { continue }
                    guard let eq = p.firstIndex(of: "=") else { valid = false; break }
                    let name = p[..<eq].trimmingOWS()
                    var v = p[p.index(after: eq)...].trimmingOWS()
                    if v.hasPrefix("\"") {
                        guard v.count >= 2, v.hasSuffix("\"") else { valid = false; break }
                        v = v.dropFirst().dropLast()
                        if v.contains("\\") || v.contains("\"") { valid = false; break }  // escapes: not an address anyway
                    }
                    if name.asciiCaseInsensitiveEquals("for") {
                        guard found == nil else { valid = false; break }  // a repeated for= is malformed
                        found = v
                    }
                }
                result.append(valid ? found : nil)
            }
        }
        return result
    }

    static func splitOutsideQuotes(_ s: Substring, on separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var start = s.startIndex
        var inQuotes = false
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == "\"" { inQuotes.toggle() }
            if c == separator && !inQuotes {
                parts.append(s[start..<i])
                start = s.index(after: i)
            }
            i = s.index(after: i)
        }
        parts.append(s[start...])
        return parts
    }

    /// The address text (port and brackets removed) and its parsed value, or `nil` for
    /// anything else (`unknown`, `_obfuscated`, garbage).
    static func address(_ entry: Substring) -> (String, IPAddress)? {
        var text = entry.trimmingOWS()
        if text.hasPrefix("[") {
            // [IPv6] or [IPv6]:port
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isNumber) && rest.count <= 6) else { return nil }
            text = text[text.index(after: text.startIndex)..<close]
        } else if text.filter({ $0 == ":" }).count == 1 {
            // IPv4:port
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts[1].allSatisfy(\.isNumber), (1...5).contains(parts[1].count) else { return nil }
            text = parts[0]
        }
        guard let ip = IPAddress(text) else { return nil }
        return (String(text), ip)
    }
}
