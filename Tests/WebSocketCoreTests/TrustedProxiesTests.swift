import NIOHTTP1
import Testing
@testable import WebSocketCore

@Suite("IPAddress and CIDR")
struct IPAddressTests {
    @Test("valid addresses", arguments: ["0.0.0.0", "127.0.0.1", "255.255.255.255", "::", "::1", "2001:db8::1",
                                         "2001:DB8:0:0:0:0:0:1", "fe80::1:2", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8", "1::8"])
    func valid(text: String) { #expect(IPAddress(text) != nil) }

    @Test("invalid addresses", arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ":::",
                                           "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::g", "[::1]",
                                           "fe80::1%eth0", "1.2.3.4:80", " 1.2.3.4"])
    func invalid(text: String) { #expect(IPAddress(text) == nil) }

    @Test("IPv4 and IPv4-mapped IPv6 are the same address; CIDR membership across both forms")
    func mapped() throws {
        #expect(IPAddress("192.0.2.1") == IPAddress("::ffff:192.0.2.1"))
        let net = try #require(CIDR("192.0.2.0/24"))
        #expect(net.contains(IPAddress("192.0.2.200")!))
        #expect(net.contains(IPAddress("::ffff:192.0.2.7")!))
        #expect(!net.contains(IPAddress("192.0.3.1")!))
        let v6 = try #require(CIDR("2001:db8::/32"))
        #expect(v6.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!v6.contains(IPAddress("2001:db9::1")!))
        #expect(CIDR("0.0.0.0/0")!.contains(IPAddress("8.8.8.8")!))
        #expect(!CIDR("0.0.0.0/0")!.contains(IPAddress("2001:db8::1")!))
        #expect(CIDR("10.0.0.1")!.contains(IPAddress("10.0.0.1")!) && !CIDR("10.0.0.1")!.contains(IPAddress("10.0.0.2")!))
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "x/8", "10.0.0.0/8/8"] { #expect(CIDR(bad) == nil, "\(bad)") }
    }
}

/// A range matches its own family: an IPv6 range never makes IPv4 peers trusted, except the
/// IPv4-mapped ranges, which say so explicitly.
@Suite("CIDR families")
struct CIDRFamilyTests {
    @Test("IPv6 ranges do not match IPv4 addresses", arguments: ["::/0", "::/64", "::/80", "::/95"])
    func ipv6RangeExcludesIPv4(range: String) throws {
        let cidr = try #require(CIDR(range))
        #expect(!cidr.contains(IPAddress("127.0.0.1")!))
        #expect(!cidr.contains(IPAddress("6.6.6.6")!))
        #expect(cidr.contains(IPAddress("::1")!) == (range == "::/0" || range == "::/64" || range == "::/80" || range == "::/95"))
    }

    @Test("IPv4-mapped ranges are valid and match the IPv4 addresses they map")
    func mappedRanges() throws {
        let all = try #require(CIDR("::ffff:0:0/96"))
        #expect(all.contains(IPAddress("203.0.113.9")!) && all.contains(IPAddress("::ffff:10.0.0.1")!))
        #expect(!all.contains(IPAddress("2001:db8::1")!))
        let loopback = try #require(CIDR("::ffff:127.0.0.1/128"))
        #expect(loopback.contains(IPAddress("127.0.0.1")!) && !loopback.contains(IPAddress("127.0.0.2")!))
        #expect(all.description == "0:0:0:0:0:ffff:0:0/96")
    }

    @Test("an IPv4 client's X-Forwarded-For is not believed because of an IPv6 range (::/0)")
    func ipv4PeerNotTrustedByIPv6Range() {
        let trusted = TrustedProxies(ranges: [CIDR("::/0")!])
        let (address, source) = trusted.resolve(peer: "127.0.0.1", headers: ["X-Forwarded-For": "6.6.6.6"])
        #expect(address == "127.0.0.1" && source == "peer")
        let (v6, v6Source) = trusted.resolve(peer: "::1", headers: ["X-Forwarded-For": "6.6.6.6"])
        #expect(v6 == "6.6.6.6" && v6Source == "x-forwarded-for")
    }
}

/// The client-address rule: spoofing attempts, chains, IPv6, ports, whitespace, garbage.
@Suite("TrustedProxies.resolve")
struct TrustedProxiesTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var trusted: TrustedProxies
        var peer: String?
        var headers: [(String, String)]
        var expected: String?
        var source: String
        var testDescription: String { name }
    }

    static let proxy = TrustedProxies(ranges: [CIDR("10.0.0.0/8")!, CIDR("2001:db8:1::/48")!])
    static let forwarded = TrustedProxies(ranges: [CIDR("10.0.0.0/8")!, CIDR("2001:db8:1::/48")!], header: .forwarded)
    static let hop1 = TrustedProxies(hops: 1)
    static let hop2 = TrustedProxies(hops: 2)

    static let cases: [Case] = [
        // Nothing trusted: the peer, always; forwarding headers ignored.
        Case(name: "no trust, no header", trusted: .none, peer: "203.0.113.1", headers: [], expected: "203.0.113.1", source: "peer"),
        Case(name: "no trust ignores a forged XFF", trusted: .none, peer: "203.0.113.1", headers: [("X-Forwarded-For", "6.6.6.6")], expected: "203.0.113.1", source: "peer"),
        Case(name: "no trust ignores Forwarded", trusted: .none, peer: "203.0.113.1", headers: [("Forwarded", "for=6.6.6.6")], expected: "203.0.113.1", source: "peer"),
        Case(name: "untrusted peer sends XFF", trusted: proxy, peer: "203.0.113.1", headers: [("X-Forwarded-For", "6.6.6.6")], expected: "203.0.113.1", source: "peer"),
        Case(name: "unknown peer", trusted: proxy, peer: nil, headers: [("X-Forwarded-For", "6.6.6.6")], expected: nil, source: "peer"),
        Case(name: "unix socket peer", trusted: proxy, peer: "/run/ws.sock", headers: [("X-Forwarded-For", "6.6.6.6")], expected: "/run/ws.sock", source: "peer"),
        // One trusted proxy.
        Case(name: "one proxy", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "198.51.100.7")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "forged left-most value behind one proxy", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "6.6.6.6, 198.51.100.7")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "forged value as its own line", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "trusted proxy, no header", trusted: proxy, peer: "10.0.0.2", headers: [], expected: "10.0.0.2", source: "peer"),
        Case(name: "trusted proxy, empty header", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "")], expected: "10.0.0.2", source: "peer"),
        // Multi-hop chains.
        Case(name: "two trusted hops", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "198.51.100.7, 10.1.1.1")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "three hops across lines", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "198.51.100.7"), ("X-Forwarded-For", "10.1.1.1, 10.2.2.2")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "all hops trusted: left-most", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "10.9.9.9, 10.1.1.1")], expected: "10.9.9.9", source: "x-forwarded-for"),
        Case(name: "untrusted hop in the middle stops the walk", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "198.51.100.7, 203.0.113.9, 10.1.1.1")], expected: "203.0.113.9", source: "x-forwarded-for"),
        // Hop counts.
        Case(name: "hops=1 trusts only the peer", trusted: hop1, peer: "203.0.113.50", headers: [("X-Forwarded-For", "6.6.6.6, 198.51.100.7")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "hops=2 trusts one more", trusted: hop2, peer: "203.0.113.50", headers: [("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 203.0.113.60")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "hops=2, chain too short", trusted: hop2, peer: "203.0.113.50", headers: [("X-Forwarded-For", "198.51.100.7")], expected: "198.51.100.7", source: "x-forwarded-for"),
        // IPv6 and ports.
        Case(name: "IPv6 client", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "2001:db8:2::7")], expected: "2001:db8:2::7", source: "x-forwarded-for"),
        Case(name: "IPv6 proxy peer", trusted: proxy, peer: "2001:db8:1::5", headers: [("X-Forwarded-For", "198.51.100.7")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "bracketed IPv6 with port", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "[2001:db8:2::7]:4711")], expected: "2001:db8:2::7", source: "x-forwarded-for"),
        Case(name: "IPv4 with port", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "198.51.100.7:5555")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "IPv4-mapped peer", trusted: proxy, peer: "::ffff:10.0.0.2", headers: [("X-Forwarded-For", "198.51.100.7")], expected: "198.51.100.7", source: "x-forwarded-for"),
        // Whitespace, case, empty elements.
        Case(name: "whitespace around elements", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "  198.51.100.7 ,\t10.1.1.1  ")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "header name case", trusted: proxy, peer: "10.0.0.2", headers: [("x-FORWARDED-for", "198.51.100.7")], expected: "198.51.100.7", source: "x-forwarded-for"),
        Case(name: "empty element next to the proxy stops the walk", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "198.51.100.7,,")], expected: "10.0.0.2", source: "peer"),
        Case(name: "empty element after a trusted hop", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", ", 10.1.1.1")], expected: "10.1.1.1", source: "x-forwarded-for"),
        // Garbage and invalid addresses fall back to the last vouched address.
        Case(name: "garbage", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "not an address")], expected: "10.0.0.2", source: "peer"),
        Case(name: "garbage behind a trusted hop", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "<script>, 10.1.1.1")], expected: "10.1.1.1", source: "x-forwarded-for"),
        Case(name: "out-of-range octet", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "300.1.1.1")], expected: "10.0.0.2", source: "peer"),
        Case(name: "hostname instead of address", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "evil.example")], expected: "10.0.0.2", source: "peer"),
        Case(name: "overlong chain", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", Array(repeating: "10.1.1.1", count: 40).joined(separator: ","))], expected: "10.1.1.1", source: "x-forwarded-for"),
        Case(name: "port out of shape", trusted: proxy, peer: "10.0.0.2", headers: [("X-Forwarded-For", "198.51.100.7:abc")], expected: "10.0.0.2", source: "peer"),
        // RFC 7239 Forwarded.
        Case(name: "Forwarded for=", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "for=198.51.100.7;proto=https")], expected: "198.51.100.7", source: "forwarded"),
        Case(name: "Forwarded quoted IPv6 with port", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "for=\"[2001:db8:cafe::17]:4711\"")], expected: "2001:db8:cafe::17", source: "forwarded"),
        Case(name: "Forwarded several elements", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "for=6.6.6.6, for=198.51.100.7;by=10.0.0.2, for=10.1.1.1")], expected: "198.51.100.7", source: "forwarded"),
        Case(name: "Forwarded several lines", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "for=198.51.100.7"), ("forwarded", "For=10.1.1.1")], expected: "198.51.100.7", source: "forwarded"),
        Case(name: "Forwarded unknown", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "for=unknown")], expected: "10.0.0.2", source: "peer"),
        Case(name: "Forwarded obfuscated", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "for=_hidden, for=10.1.1.1")], expected: "10.1.1.1", source: "forwarded"),
        Case(name: "Forwarded element without for=", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "proto=https")], expected: "10.0.0.2", source: "peer"),
        Case(name: "Forwarded unterminated quote", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "for=\"198.51.100.7")], expected: "10.0.0.2", source: "peer"),
        Case(name: "Forwarded duplicate for=", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "for=6.6.6.6;for=198.51.100.7")], expected: "10.0.0.2", source: "peer"),
        Case(name: "Forwarded comma inside quotes", trusted: forwarded, peer: "10.0.0.2", headers: [("Forwarded", "for=\"198.51.100.7\";x=\"a,b\"")], expected: "198.51.100.7", source: "forwarded"),
        Case(name: "Forwarded mode ignores XFF", trusted: forwarded, peer: "10.0.0.2", headers: [("X-Forwarded-For", "6.6.6.6")], expected: "10.0.0.2", source: "peer"),
        Case(name: "XFF mode ignores Forwarded", trusted: proxy, peer: "10.0.0.2", headers: [("Forwarded", "for=6.6.6.6")], expected: "10.0.0.2", source: "peer"),
    ]

    @Test("the rule", arguments: cases)
    func resolve(c: Case) {
        let (address, source) = c.trusted.resolve(peer: c.peer, headers: HTTPHeaders(c.headers))
        #expect(address == c.expected, "\(c.name)")
        #expect(source == c.source, "\(c.name)")
    }

    @Test("random header bytes never crash; the result is the peer or appears in the input", arguments: [TrustedProxies.Header.xForwardedFor, .forwarded])
    func fuzz(header: TrustedProxies.Header) {
        var rng = SeededGenerator(seed: header == .forwarded ? 7 : 11)
        let pieces = ["10.1.1.1", "198.51.100.7", "::1", "[2001:db8::1]:80", "unknown", "_x", "for=", "\"", ",", ";", " ", ":", "[", "]",
                      "=", "by=", "6.6.6.6", "\u{0}", "é", "2001:db8:1::9"]
        let trusted = TrustedProxies(ranges: [CIDR("10.0.0.0/8")!, CIDR("2001:db8:1::/48")!], hops: Int.random(in: 0...2, using: &rng),
                                     header: header)
        for _ in 0..<3000 {
            var headers = HTTPHeaders()
            var all = ""
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                let value = (0..<Int.random(in: 0...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
                all += value
                headers.add(name: header == .forwarded ? "Forwarded" : "X-Forwarded-For", value: value)
            }
            let (address, _) = trusted.resolve(peer: "10.0.0.2", headers: headers)
            let result = address ?? ""
            #expect(result == "10.0.0.2" || all.contains(result), "\(result) not in \(all)")
            #expect(result.isEmpty || IPAddress(result) != nil)
        }
    }
}
