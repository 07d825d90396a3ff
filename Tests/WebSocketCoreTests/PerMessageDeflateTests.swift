import NIOHTTP1
import NIOCore
import Testing
@testable import WebSocketCompression
@testable import WebSocketCore

/// RFC 7692: examples (§7.2.3), negotiation (§7), RSV1 rules (§6), safety.
@Suite("permessage-deflate (RFC 7692)")
struct PerMessageDeflateTests {
    /// A client engine that negotiated permessage-deflate with full windows, context takeover.
    func client(serverNoContextTakeover: Bool = false, maxMessageSize: Int = 1 << 20) throws -> WebSocketEngine {
        var engine = WebSocketEngine.open(.client, .init(maxMessageSize: maxMessageSize))
        var response = ExtensionOffer(name: "permessage-deflate")
        if serverNoContextTakeover { response.parameters.append(("server_no_context_takeover", nil)) }
        var configuration = PerMessageDeflateConfiguration(localMaxWindowBits: 15, remoteMaxWindowBits: 15)
        configuration.remoteNoContextTakeover = serverNoContextTakeover
        engine.compression = try PerMessageDeflate.clientAccept(response: response, configuration: configuration)
        return engine
    }

    @Test("§7.2.3.1 'Hello' compressed in one frame and in two fragments")
    func helloExamples() throws {
        var one = try client()
        one.receive([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        #expect(one.drainEvents() == [.message(.text("Hello"))])
        var two = try client()
        two.receive([0x41, 0x03, 0xf2, 0x48, 0xcd])
        two.receive([0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00])
        #expect(two.drainEvents() == [.message(.text("Hello"))])
    }

    @Test("§7.2.3.2 the second message uses the shared sliding window; without context takeover it cannot")
    func sharedWindow() throws {
        var engine = try client()
        engine.receive([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        engine.receive([0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00])
        #expect(engine.drainEvents() == [.message(.text("Hello")), .message(.text("Hello"))])
        var reset = try client(serverNoContextTakeover: true)
        reset.receive([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        reset.receive([0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00])
        #expect(reset.drainEvents().first == .message(.text("Hello")))
        #expect(reset.failure == .invalidCompressedData)
        #expect(try reset.sentFrames().last?.closeFrame?.code == .invalidFramePayloadData)
    }

    @Test("§7.2.3.3 a 'no compression' block and §7.2.3.4 a block with BFINAL set")
    func storedAndFinalBlocks() throws {
        var stored = try client()
        stored.receive([0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00])
        #expect(stored.drainEvents() == [.message(.text("Hello"))])
        var final = try client()
        final.receive([0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00])
        #expect(final.drainEvents() == [.message(.text("Hello"))])
    }

    @Test("messages round-trip compressed, with and without context takeover, text and binary")
    func roundTrip() throws {
        for noContext in [false, true] {
            let offer = PerMessageDeflate.offer(configuration: .init(localNoContextTakeover: noContext, remoteNoContextTakeover: noContext))
            let serverSide = try #require(PerMessageDeflate.accept(offers: [offer], configuration: .init()))
            let response = try #require(try ExtensionOffer.parse([serverSide.negotiatedHeader]).first)
            let clientSide = try PerMessageDeflate.clientAccept(response: response,
                                                                configuration: .init(localNoContextTakeover: noContext, remoteNoContextTakeover: noContext))
            var tx = WebSocketEngine.open(.client), rx = WebSocketEngine.open(.server)
            tx.compression = clientSide
            rx.compression = serverSide
            let json = String(repeating: "{\"event\":\"connection_open\",\"id\":42}", count: 40)
            for _ in 0..<3 { try tx.sendText(json) }
            try tx.sendBinary(ByteBuffer(repeating: 7, count: 5000))
            try tx.sendText("tiny")  // under the threshold: sent uncompressed
            let wire = tx.drainOutput()
            #expect(wire.readableBytes < json.utf8.count)  // three large messages compressed well
            rx.receive(wire)
            #expect(rx.drainEvents() == [.message(.text(json)), .message(.text(json)), .message(.text(json)),
                                         .message(.binary(ByteBuffer(repeating: 7, count: 5000))), .message(.text("tiny"))])
            #expect(rx.statistics.payloadBytesIn == 3 * json.utf8.count + 5004)
            #expect(rx.statistics.wireBytesIn < rx.statistics.payloadBytesIn)
        }
    }

    @Test("§6.1 RSV1 on a continuation or control frame fails with 1002; RSV1 without negotiation too")
    func rsv1Rules() throws {
        var continuation = try client()
        continuation.receive([0x01, 0x01, 0x41, 0xc0, 0x01, 0x42])
        #expect(continuation.failure == .compressedBitMisplaced)
        var control = try client()
        control.receive([0xc9, 0x00])
        #expect(control.failure == .compressedBitMisplaced)
        var plain = WebSocketEngine.open(.client)
        plain.receive([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        #expect(plain.failure == .reservedBitsSet(bits: 0x40))
    }

    @Test("a corrupt deflate stream closes with 1007; invalid UTF-8 inside compressed text too")
    func corrupt() throws {
        var engine = try client()
        engine.receive([0xc1, 0x04, 0xff, 0xff, 0xff, 0xff])
        #expect(engine.failure == .invalidCompressedData)
        #expect(try engine.sentFrames().last?.closeFrame?.code == .invalidFramePayloadData)
        // "\u{C0}\u{80}"-style invalid UTF-8, compressed as a stored block.
        var text = try client()
        text.receive([0xc1, 0x08, 0x00, 0x02, 0x00, 0xfd, 0xff, 0xc0, 0x80, 0x00])
        #expect(text.failure == .invalidUTF8)
    }

    /// One valid deflate stream inflating to `mebibytes` MiB of zeros, built 1 MiB at a time
    /// (the sync-flush tail kept between pieces, removed at the end as on the wire).
    func bomb(mebibytes: Int) throws -> ByteBuffer {
        let deflater = try #require(Deflater(windowBits: 15, memLevel: 8, level: 9))
        let zeros = ByteBuffer(repeating: 0, count: 1 << 20)
        var bomb = ByteBuffer()
        for i in 0..<mebibytes {
            var part = deflater.compress(zeros, allocator: ByteBufferAllocator())
            bomb.writeBuffer(&part)
            if i < mebibytes - 1 { bomb.writeBytes([0, 0, 0xFF, 0xFF]) }
        }
        return bomb
    }

    @Test("a 1 GiB zip bomb stops after inflating at most the limit plus one chunk, with flat memory")
    func zipBomb() throws {
        let gib = try bomb(mebibytes: 1024)
        #expect(gib.readableBytes < 2 << 20, "the bomb is small on the wire: \(gib.readableBytes) bytes")
        let inflater = try #require(Inflater(windowBits: 15))
        var output = ByteBuffer()
        #expect(throws: ProtocolViolation.messageTooBig(limit: 1 << 20)) {
            try inflater.decompress(gib, isFinal: true, into: &output, limit: 1 << 20)
        }
        #expect(output.readableBytes <= (1 << 20) + (32 << 10), "inflated \(output.readableBytes) bytes")
        #expect(output.capacity <= 4 << 20, "memory stayed bounded: capacity \(output.capacity)")
    }

    /// A raw deflate stream of `count` bytes of "a" in stored blocks, the last one with BFINAL
    /// set (RFC 1951 §3.2.4): a peer may end its stream that way (RFC 7692 §7.2.3.4).
    func storedStream(_ count: Int) -> ByteBuffer {
        var stream = ByteBuffer()
        var left = count
        repeat {
            let n = min(left, 65_535)
            left -= n
            stream.writeInteger(UInt8(left == 0 ? 1 : 0))
            stream.writeInteger(UInt16(n), endianness: .little)
            stream.writeInteger(~UInt16(n), endianness: .little)
            stream.writeRepeatingByte(0x61, count: n)
        } while left > 0
        return stream
    }

    @Test("a message that inflates to one byte over the limit is refused, also when its stream ends with a final block",
          arguments: [1, 100, 16 << 10, (16 << 10) + 1, 100_000])
    func inflateLimitIsExact(limit: Int) throws {
        for stream in [storedStream(limit + 1), try #require(Deflater(windowBits: 15, memLevel: 8, level: 9))
                        .compress(ByteBuffer(repeating: 0x61, count: limit + 1), allocator: ByteBufferAllocator())] {
            let inflater = try #require(Inflater(windowBits: 15))
            var output = ByteBuffer()
            #expect(throws: ProtocolViolation.messageTooBig(limit: limit)) {
                try inflater.decompress(stream, isFinal: true, into: &output, limit: limit)
            }
        }
        let inflater = try #require(Inflater(windowBits: 15))
        var fits = ByteBuffer()
        try inflater.decompress(storedStream(limit), isFinal: true, into: &fits, limit: limit)
        #expect(fits.readableBytes == limit)
    }

    @Test("through the engine a bomb closes the connection with 1009")
    func zipBombEngine() throws {
        var frameBytes = try bomb(mebibytes: 256)  // ~256 KiB on the wire, under the frame limit
        var engine = try client(maxMessageSize: 1 << 20)
        var frame = ByteBuffer(bytes: [0xc2, 0x7f])
        frame.writeInteger(UInt64(frameBytes.readableBytes))
        frame.writeBuffer(&frameBytes)
        engine.receive(frame)
        #expect(engine.failure == .messageTooBig(limit: 1 << 20))
        #expect(try engine.sentFrames().last?.closeFrame?.code == .messageTooBig)
    }

    struct Negotiation: Sendable, CustomTestStringConvertible {
        var name: String
        var offers: String
        var response: String?
        var testDescription: String { name }
    }

    static let serverCases: [Negotiation] = [
        Negotiation(name: "plain offer", offers: "permessage-deflate", response: "permessage-deflate; server_max_window_bits=12"),
        Negotiation(name: "client_max_window_bits without value", offers: "permessage-deflate; client_max_window_bits",
                    response: "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"),
        Negotiation(name: "client_max_window_bits=10", offers: "permessage-deflate; client_max_window_bits=10",
                    response: "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10"),
        Negotiation(name: "server_max_window_bits=10", offers: "permessage-deflate; server_max_window_bits=10",
                    response: "permessage-deflate; server_max_window_bits=10"),
        Negotiation(name: "server_max_window_bits=15", offers: "permessage-deflate; server_max_window_bits=15",
                    response: "permessage-deflate; server_max_window_bits=12"),
        Negotiation(name: "server_no_context_takeover", offers: "permessage-deflate; server_no_context_takeover",
                    response: "permessage-deflate; server_no_context_takeover; server_max_window_bits=12"),
        Negotiation(name: "client_no_context_takeover", offers: "permessage-deflate; client_no_context_takeover",
                    response: "permessage-deflate; client_no_context_takeover; server_max_window_bits=12"),
        Negotiation(name: "server_max_window_bits=8 declined", offers: "permessage-deflate; server_max_window_bits=8", response: nil),
        Negotiation(name: "duplicate parameter declined", offers: "permessage-deflate; client_max_window_bits; client_max_window_bits", response: nil),
        Negotiation(name: "unknown parameter declined", offers: "permessage-deflate; x=1", response: nil),
        Negotiation(name: "invalid window bits declined", offers: "permessage-deflate; server_max_window_bits=16", response: nil),
        Negotiation(name: "leading zero declined", offers: "permessage-deflate; client_max_window_bits=09", response: nil),
        Negotiation(name: "value on a flag declined", offers: "permessage-deflate; server_no_context_takeover=1", response: nil),
        Negotiation(name: "missing value declined", offers: "permessage-deflate; server_max_window_bits", response: nil),
        Negotiation(name: "first acceptable of several", offers: "permessage-deflate; x=1, permessage-deflate; client_max_window_bits=9",
                    response: "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9"),
        Negotiation(name: "other extensions ignored", offers: "x-webkit-deflate-frame, permessage-deflate",
                    response: "permessage-deflate; server_max_window_bits=12"),
    ]

    @Test("server negotiation (§7.1)", arguments: serverCases)
    func serverNegotiation(c: Negotiation) throws {
        let offers = try ExtensionOffer.parse([c.offers])
        #expect(PerMessageDeflate.accept(offers: offers, configuration: .init())?.negotiatedHeader == c.response, "\(c.name)")
    }

    @Test("client validation of the response (§7.1): what it did not allow fails the connection", arguments: [
        ("permessage-deflate; server_max_window_bits=13", false),   // above the offered 12
        ("permessage-deflate; client_max_window_bits", false),      // no value in a response
        ("permessage-deflate; client_max_window_bits=13", false),   // the offered server_max_window_bits unanswered
        ("permessage-deflate; server_max_window_bits=12; client_max_window_bits=8", false),  // zlib cannot write 8-bit windows
        ("permessage-deflate; server_max_window_bits=12; client_max_window_bits=15", true),  // §7.1.2.2: the server may ignore our 12
        ("permessage-deflate; x=1", false),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", false),
        ("permessage-deflate", false),                               // §7.1.2.1: the offered server_max_window_bits must be answered
        ("permessage-deflate; server_max_window_bits=12", true),
        ("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9; server_no_context_takeover", true),
    ])
    func clientValidation(response: String, ok: Bool) throws {
        let parsed = try #require(try ExtensionOffer.parse([response]).first)
        let result = Result { try PerMessageDeflate.clientAccept(response: parsed, configuration: .init()) }
        let accepted = (try? result.get()) != nil
        #expect(accepted == ok, "\(response)")
    }

    @Test("a response's client_max_window_bits above our offer is honoured by compressing with the smaller window")
    func clientWindowAboveOffer() throws {
        let parsed = try #require(try ExtensionOffer.parse(["permessage-deflate; server_max_window_bits=12; client_max_window_bits=15"]).first)
        let pmd = try PerMessageDeflate.clientAccept(response: parsed, configuration: .init())
        #expect(pmd.parameters.localMaxWindowBits == 12)
        let lower = try #require(try ExtensionOffer.parse(["permessage-deflate; server_max_window_bits=12; client_max_window_bits=10"]).first)
        #expect(try PerMessageDeflate.clientAccept(response: lower, configuration: .init()).parameters.localMaxWindowBits == 10)
    }

    @Test("the handshake adds the negotiated header and the engine compresses")
    func handshake() throws {
        var server = WebSocketEngine(role: .server)
        var request = upgradeRequestForDeflate()
        request.headers.add(name: "Sec-WebSocket-Extensions", value: "permessage-deflate; client_max_window_bits")
        let accepted = try server.accept(request, options: .init(extensions: PerMessageDeflateNegotiator())).get()
        #expect(accepted.response.headers["Sec-WebSocket-Extensions"] == ["permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"])
        #expect(server.compression != nil)
        try server.sendText(String(repeating: "a", count: 1000))
        let frames = try server.sentFrames()
        #expect(frames.first?.rsv1 == true && frames.first!.payload.readableBytes < 100)
    }
}

func upgradeRequestForDeflate() -> HTTPRequestHead {
    var headers = HTTPHeaders()
    for (n, v) in [("Host", "x"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                   ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")] {
        headers.add(name: n, value: v)
    }
    return HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: headers)
}
