/// An IPv4 or IPv6 address, stored as 16 bytes (IPv4 as IPv4-mapped IPv6, `::ffff:a.b.c.d`) so
/// one comparison serves both families. Parsed without libc: the parser is fuzzed.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The 16 bytes, network order.
    public let bytes: [UInt8]

    /// Whether this is an IPv4 address (or an IPv4-mapped IPv6 one).
    public var isIPv4: Bool { bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (`::`, embedded IPv4). No zones, no ports.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.count <= 45 else { return nil }
        if let v4 = Self.parseIPv4(utf8[...]) {
            bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + v4
        } else if let v6 = Self.parseIPv6(utf8) {
            bytes = v6
        } else {
            return nil
        }
    }

    init(bytes: [UInt8]) { self.bytes = bytes }

    static func parseIPv4(_ s: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = s.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            // 1-3 decimal digits, no leading zeros (010 is octal to some parsers: refuse ambiguity).
            guard (1...3).contains(part.count), part.allSatisfy({ (0x30...0x39).contains($0) }),
                  part.count == 1 || part.first != 0x30 else { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard value <= 255 else { return nil }
            out.append(UInt8(value))
        }
        return out
    }

    static func parseIPv6(_ s: [UInt8]) -> [UInt8]? {
        guard s.contains(UInt8(ascii: ":")) else { return nil }
        // Split around "::" (at most one).
        var head: [ArraySlice<UInt8>] = [], tail: [ArraySlice<UInt8>] = []
        var compressed = false
        if let range = firstDoubleColon(s) {
            compressed = true
            let left = s[..<range], right = s[(range + 2)...]
            if right.contains(where: { $0 == UInt8(ascii: ":") }) && firstDoubleColon(Array(right)) != nil { return nil }
            head = left.isEmpty ? [] : left.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            tail = right.isEmpty ? [] : right.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        } else {
            head = s[...].split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        }
        var groups: [UInt16] = []
        var tailGroups: [UInt16] = []
        func parse(_ parts: [ArraySlice<UInt8>], into out: inout [UInt16], allowIPv4Last: Bool) -> Bool {
            for (i, part) in parts.enumerated() {
                if allowIPv4Last && i == parts.count - 1 && part.contains(UInt8(ascii: ".")) {
                    guard let v4 = parseIPv4(part) else { return false }
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard (1...4).contains(part.count) else { return false }
                var v: UInt16 = 0
                for c in part {
                    guard let d = hexValue(c) else { return false }
                    v = v << 4 | UInt16(d)
                }
                out.append(v)
            }
            return true
        }
        guard parse(head, into: &groups, allowIPv4Last: !compressed),
              parse(tail, into: &tailGroups, allowIPv4Last: true) else { return nil }
        let total = groups.count + tailGroups.count
        if compressed {
            guard total <= 7 else { return nil }
            groups += [UInt16](repeating: 0, count: 8 - total) + tailGroups
        } else {
            guard total == 8 else { return nil }
        }
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    static func firstDoubleColon(_ s: [UInt8]) -> Int? {
        guard s.count >= 2 else { return nil }
        for i in 0..<(s.count - 1) where s[i] == UInt8(ascii: ":") && s[i + 1] == UInt8(ascii: ":") { return i }
        return nil
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    /// Dotted quad for IPv4, lowercase groups for IPv6 (not compressed).
    public var description: String {
        if isIPv4 { return bytes[12...].map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}

/// An address range in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or a single address).
///
/// A range matches addresses of the family it is written in: an IPv4 range (dotted quad) matches
/// IPv4 peers, an IPv6 range matches IPv6 peers — so `::/0` does not make every IPv4 client
/// trusted. The one explicit crossing: an IPv6 range inside `::ffff:0:0/96` (IPv4-mapped, such as
/// `::ffff:0:0/96` itself or `::ffff:127.0.0.1/128`) matches the IPv4 addresses it maps.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    /// The range's first address (the host bits are cleared).
    public let network: IPAddress
    /// Prefix length over the 16-byte form (an IPv4 `/n` is stored as `/96+n`).
    public let prefixLength: Int
    /// Written in IPv4 notation.
    let writtenAsIPv4: Bool

    /// Parses `address[/prefix]`; a bare address is a single host.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        writtenAsIPv4 = IPAddress.parseIPv4(Array(parts[0].utf8)[...]) != nil
        let maxPrefix = writtenAsIPv4 ? 32 : 128
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...maxPrefix).contains(p), parts[1].allSatisfy(\.isNumber) else { return nil }
            prefix = p
        }
        prefixLength = writtenAsIPv4 ? 96 + prefix : prefix
        // Store the network with host bits cleared.
        var bytes = address.bytes
        for i in 0..<16 {
            let bitsKept = max(0, min(8, prefixLength - i * 8))
            bytes[i] &= bitsKept == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsKept))
        }
        network = IPAddress(bytes: bytes)
    }

    /// Whether the range holds IPv4 addresses: written as IPv4, or an IPv6 range inside `::ffff:0:0/96`.
    var coversIPv4: Bool { writtenAsIPv4 || (prefixLength >= 96 && network.isIPv4) }

    /// Whether `address` is inside the range (and of the range's family; see the type's rule).
    public func contains(_ address: IPAddress) -> Bool {
        if address.isIPv4 != coversIPv4 { return false }
        for i in 0..<16 {
            let bitsKept = max(0, min(8, prefixLength - i * 8))
            if bitsKept == 0 { return true }
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bitsKept))
            if address.bytes[i] & mask != network.bytes[i] { return false }
        }
        return true
    }

    public var description: String {
        if writtenAsIPv4 { return "\(network)/\(prefixLength - 96)" }
        let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(network.bytes[$0]) << 8 | UInt16(network.bytes[$0 + 1]), radix: 16) }
        return "\(groups.joined(separator: ":"))/\(prefixLength)"
    }
}
