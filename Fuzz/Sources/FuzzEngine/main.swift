// Arbitrary bytes into an open WebSocketEngine (frame parser, UTF-8 validation, fragmentation,
// control frames, close handling, permessage-deflate), both roles, fed in input-chosen chunks.
// Properties: no crash; a failure closes with 1002, 1007 or 1009; what the engine sends parses
// back as frames of the other role.
import FuzzSupport
import NIOCore
import WebSocketCompression
import WebSocketCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEngine(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let control = input.byte()
    let role: Role = control & 1 == 0 ? .server : .client
    let configuration = EngineConfiguration(maxMessageSize: 1 << 16, deliverFragments: control & 2 != 0,
                                            deferClose: control & 8 != 0)
    var engine = WebSocketEngine(role: role, configuration: configuration, state: .open)
    if control & 4 != 0 {
        let offer = ExtensionOffer(name: "permessage-deflate", parameters: control & 16 != 0 ? [("server_no_context_takeover", nil)] : [])
        engine.compression = PerMessageDeflate.accept(offers: [offer], configuration: .init())
    }
    var sent = ByteBuffer()
    for chunk in input.chunks() {
        engine.receive(ByteBuffer(bytes: chunk))
        while let bytes = engine.nextOutput() { sent.writeImmutableBuffer(bytes) }
        while engine.nextEvent() != nil {}
        if control & 32 != 0, engine.state == .open { try? engine.sendText("echo") }
    }
    engine.releaseHeldClose()
    while let bytes = engine.nextOutput() { sent.writeImmutableBuffer(bytes) }
    if let failure = engine.failure {
        require([1002, 1007, 1009].contains(failure.closeCode.rawValue), "close code \(failure.closeCode) for \(failure)")
    }
    // Our own output must be valid frames for the peer.
    var peer = FrameParser(role: role == .server ? .client : .server, maxFrameSize: 1 << 20, allowedReservedBits: 0x40)
    while sent.readableBytes > 0 {
        do {
            guard let header = try peer.parseHeader(&sent) else { require(false, "truncated frame in our output"); break }
            require(sent.readableBytes >= header.payloadLength, "payload shorter than its header says")
            sent.moveReaderIndex(forwardBy: header.payloadLength)
        } catch {
            require(false, "our output does not parse: \(error)")
        }
    }
    return 0
}

@_cdecl("FuzzEngine_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzEngine)
}
