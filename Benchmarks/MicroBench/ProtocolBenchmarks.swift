import NIOCore
import WebSocketCore

/// A masked client frame of `size` bytes, as it arrives at a server.
func clientFrameBytes(opcode: Opcode, size: Int) -> ByteBuffer {
    var encoder = FrameEncoder(role: .client)
    var out = ByteBuffer()
    encoder.encode(Frame(opcode: opcode, payload: ByteBuffer(repeating: 0x61, count: size)), into: &out)
    return out
}

func protocolBenchmarks() -> [Benchmark] {
    var benchmarks: [Benchmark] = []
    for size in [32, 1024, 64 << 10] {
        let wire = clientFrameBytes(opcode: .binary, size: size)
        var engine = WebSocketEngine(role: .server, configuration: EngineConfiguration(maxMessageSize: 1 << 20), state: .open)
        benchmarks.append(Benchmark(name: "parse+unmask \(size) B binary frame (engine.receive → message)",
                                    iterations: size > 4096 ? 50_000 : 2_000_000, bytes: size) {
            engine.receive(wire)
            guard case .message? = engine.nextEvent() else { fatalError("no message") }
        })
        let text = clientFrameBytes(opcode: .text, size: size)
        var textEngine = WebSocketEngine(role: .server, configuration: EngineConfiguration(maxMessageSize: 1 << 20), state: .open)
        benchmarks.append(Benchmark(name: "parse+unmask+UTF-8 \(size) B text frame (engine.receive → message)",
                                    iterations: size > 4096 ? 50_000 : 2_000_000, bytes: size) {
            textEngine.receive(text)
            guard case .message? = textEngine.nextEvent() else { fatalError("no message") }
        })
        let frame = Frame(opcode: .binary, payload: ByteBuffer(repeating: 0x61, count: size))
        var encoder = FrameEncoder(role: .client)
        var out = ByteBuffer()
        out.reserveCapacity(size + 16)
        benchmarks.append(Benchmark(name: "encode+mask \(size) B frame (client)", iterations: size > 4096 ? 50_000 : 2_000_000, bytes: size) {
            out.clear()
            encoder.encode(frame, into: &out)
        })
    }
    let mib = 1 << 20
    let source = [UInt8](repeating: 0x61, count: mib)
    var destination = [UInt8](repeating: 0, count: mib)
    let key = MaskingKey(0x12, 0x34, 0x56, 0x78)
    benchmarks.append(Benchmark(name: "unmask 1 MiB (copy while masking)", iterations: 5_000, bytes: mib) {
        source.withUnsafeBytes { src in destination.withUnsafeMutableBytes { dst in key.copy(from: src, to: dst) } }
    })
    let ascii = [UInt8](String(repeating: "{\"event\":\"connection_open\",\"path\":\"/chat\"}\n", count: mib / 44 + 1).utf8.prefix(mib))
    benchmarks.append(Benchmark(name: "UTF-8 validate 1 MiB ASCII", iterations: 5_000, bytes: mib) {
        var validator = UTF8Validator()
        guard ascii.withUnsafeBytes({ validator.validate($0) }) else { fatalError("invalid") }
    })
    let mixed = [UInt8](String(repeating: "héllo wörld — 日本語 ", count: mib / 30 + 1).utf8.prefix(mib - 64))
    let mixedValid = [UInt8](String(decoding: mixed, as: UTF8.self).utf8)
    benchmarks.append(Benchmark(name: "UTF-8 validate ~1 MiB mixed (Latin-1, CJK)", iterations: 2_000, bytes: mixedValid.count) {
        var validator = UTF8Validator()
        _ = mixedValid.withUnsafeBytes { validator.validate($0) }
    })
    return benchmarks
}
