// Arbitrary X-Forwarded-For / Forwarded lines through the trusted-proxy resolver.
// Properties: no crash; an untrusted peer is always the answer; the answer is the peer or an
// address that appears in the headers, and it parses as an IP address.
import FuzzSupport
import NIOHTTP1
import WebSocketCore

let ranges = [CIDR("127.0.0.0/8")!, CIDR("10.0.0.0/8")!, CIDR("::1/128")!, CIDR("fd00::/8")!]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrustedProxies(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let control = input.byte()
    let header: TrustedProxies.Header = control & 1 == 0 ? .xForwardedFor : .forwarded
    let proxies = TrustedProxies(ranges: control & 2 == 0 ? ranges : [], hops: Int(control >> 5), header: header)
    let peers = ["127.0.0.1", "10.1.2.3", "203.0.113.9", "::1", "fd00::5", "not-an-address"]
    let peer = peers[Int(input.byte()) % peers.count]
    var headers = HTTPHeaders()
    let text = String(decoding: input.rest(), as: UTF8.self)
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(8) {
        headers.add(name: header == .xForwardedFor ? "X-Forwarded-For" : "Forwarded", value: String(line))
    }
    let (address, source) = proxies.resolve(peer: peer, headers: headers)
    if source == "peer" {
        require(address == peer, "source peer but address \(String(describing: address))")
    } else {
        let found = address.flatMap { IPAddress($0) }
        require(found != nil, "resolved \(String(describing: address)) is not an IP address")
        require(text.lowercased().contains(address!.lowercased()), "resolved \(address!) does not appear in the headers")
    }
    return 0
}

@_cdecl("FuzzTrustedProxies_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzTrustedProxies)
}
