// Arbitrary bytes as permessage-deflate frame payloads (any window bits, with or without context
// takeover), inflated with a limit.
// Properties: no crash; output never exceeds the limit (a zip bomb is stopped while inflating);
// a failure is 1007 (corrupt stream) or 1009 (too big).
import FuzzSupport
import NIOCore
import WebSocketCompression
import WebSocketCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInflater(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let control = input.byte()
    var parameters: [(name: String, value: String?)] = [("client_max_window_bits", String(8 + Int(control & 7)))]
    if control & 8 != 0 { parameters.append(("client_no_context_takeover", nil)) }
    let offer = ExtensionOffer(name: "permessage-deflate", parameters: parameters)
    guard let deflate = PerMessageDeflate.accept(offers: [offer], configuration: .init(remoteMaxWindowBits: 15)) else { return 0 }
    let limit = 1 + Int(input.byte()) * 256
    var output = ByteBuffer()
    for (i, chunk) in input.chunks().enumerated() {
        let isFinal = chunk.first.map { $0 & 1 == 1 } ?? true
        do {
            // Like the engine: each frame may add what is left of the message's budget.
            try deflate.decompress(ByteBuffer(bytes: chunk), isFinal: isFinal, into: &output, limit: limit - output.readableBytes)
            require(output.readableBytes <= limit, "inflated \(output.readableBytes) bytes over the limit \(limit) (chunk \(i))")
        } catch {
            require([1007, 1009].contains(error.closeCode.rawValue), "close code \(error.closeCode) for \(error)")
            return 0
        }
        if isFinal { output.clear() }
    }
    return 0
}

@_cdecl("FuzzInflater_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzInflater)
}
