import NIOCore
import WebSocketCompression
import WebSocketCore

func compressionBenchmarks() -> [Benchmark] {
    // The client resets its context after each message, so one compressed message can be
    // inflated over and over by the server (which then resets too).
    let offer = ExtensionOffer(name: "permessage-deflate", parameters: [("client_no_context_takeover", nil), ("client_max_window_bits", nil)])
    guard let server = PerMessageDeflate.accept(offers: [offer], configuration: .init(minimumSizeToCompress: 0)) else {
        fatalError("negotiation failed")
    }
    let clientResponse = ExtensionOffer(name: "permessage-deflate", parameters: [("server_max_window_bits", "12"), ("client_no_context_takeover", nil)])
    let client = try! PerMessageDeflate.clientAccept(response: clientResponse, configuration: .init(minimumSizeToCompress: 0))
    // 1 KiB of JSON log lines: what the S7 scenario sends.
    let kib = ByteBuffer(string: String(String(repeating: "{\"level\":\"info\",\"event\":\"connection_open\",\"id\":42}\n", count: 21).prefix(1024)))
    let compressed = client.compress(kib)!
    var output = ByteBuffer()
    output.reserveCapacity(4096)
    return [
        Benchmark(name: "deflate 1 KiB JSON (server, context takeover)", iterations: 200_000, bytes: 1024) {
            _ = server.compress(kib)
        },
        Benchmark(name: "inflate 1 KiB JSON (server, client without context takeover)", iterations: 200_000, bytes: 1024) {
            output.clear()
            try! server.decompress(compressed, isFinal: true, into: &output, limit: 1 << 20)
        },
    ]
}
