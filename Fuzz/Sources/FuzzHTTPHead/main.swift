// Arbitrary bytes into the HTTP/1.1 head parser, as a request (server) and as a response
// (client), in input-chosen chunks, with small limits.
// Properties: no crash; a parsed head respects the limits; a limit error maps to 414/431.
import FuzzSupport
import NIOCore
import NIOHTTP1
import WebSocketCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPHead(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let limits = HTTPHeadLimits(maxStartLineLength: 64 + Int(input.byte()), maxHeaderLineLength: 64 + Int(input.byte()),
                                maxHeaderCount: 1 + Int(input.byte() & 31))
    let chunks = input.chunks()
    for asRequest in [true, false] {
        var parser = HTTPHeadParser(limits: limits)
        var buffer = ByteBuffer()
        do {
            for chunk in chunks {
                buffer.writeBytes(chunk)
                if asRequest {
                    if let head = try parser.parseRequest(&buffer) {
                        require(head.headers.count <= limits.maxHeaderCount, "\(head.headers.count) headers over the limit")
                        require(head.uri.utf8.count <= limits.maxStartLineLength, "target longer than the start line limit")
                        break
                    }
                } else if let head = try parser.parseResponse(&buffer) {
                    require(head.headers.count <= limits.maxHeaderCount, "\(head.headers.count) headers over the limit")
                    break
                }
            }
        } catch {
            let status = error.status.code
            require([400, 414, 431, 505].contains(status), "status \(status) for \(error)")
        }
    }
    return 0
}

@_cdecl("FuzzHTTPHead_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzHTTPHead)
}
