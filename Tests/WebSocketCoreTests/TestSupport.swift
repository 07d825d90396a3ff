import NIOCore
import Testing
import WebSocketTestSupport
@testable import WebSocketCore

/// A deterministic generator (SplitMix64) so random tests are reproducible from their seed.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Always returns the same word: a client with this generator masks with the same key.
struct FixedGenerator: RandomNumberGenerator, Sendable {
    var value: UInt64
    mutating func next() -> UInt64 { value }
}

func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
func buffer(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

func closePayload(_ code: UInt16, _ reason: String = "") -> [UInt8] {
    [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
}

extension WebSocketEngine {
    /// An engine past the opening handshake.
    static func open(_ role: Role, _ configuration: EngineConfiguration = .init(), seed: UInt64 = 1) -> WebSocketEngine {
        WebSocketEngine(role: role, configuration: configuration, state: .open, generator: SeededGenerator(seed: seed))
    }

    mutating func receive(_ bytes: [UInt8]) { receive(ByteBuffer(bytes: bytes)) }

    mutating func drainEvents() -> [WebSocketEvent] {
        var all: [WebSocketEvent] = []
        while let e = nextEvent() { all.append(e) }
        return all
    }

    mutating func drainTraces() -> [ProtocolTrace] {
        var all: [ProtocolTrace] = []
        while let t = nextTrace() { all.append(t) }
        return all
    }

    mutating func drainOutput() -> ByteBuffer {
        var all = ByteBuffer()
        while var b = nextOutput() { all.writeBuffer(&b) }
        return all
    }

    /// Everything this engine wrote, parsed as the peer would parse it.
    mutating func sentFrames() throws -> [Frame] {
        var bytes = drainOutput()
        var parser = FrameParser(role: role == .server ? .client : .server, maxFrameSize: Int(UInt32.max),
                                 allowedReservedBits: compression == nil ? 0 : 0x40)
        var frames: [Frame] = []
        while let f = try parser.nextFrame(&bytes) { frames.append(f) }
        #expect(bytes.readableBytes == 0, "trailing bytes after the last frame")
        return frames
    }
}

extension Frame {
    /// The close payload of a close frame.
    var closeFrame: CloseFrame? {
        opcode == .close ? try? CloseFrame(parsing: payload) : nil
    }
}
