/// Reads structured choices from a fuzzer's bytes: a few control bytes first, then pieces.
public struct FuzzInput {
    public private(set) var bytes: ArraySlice<UInt8>

    public init(_ start: UnsafeRawPointer?, _ count: Int) {
        bytes = start.map { ArraySlice(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    }

    /// The next byte, or 0 when the input is exhausted.
    public mutating func byte() -> UInt8 { bytes.popFirst() ?? 0 }

    /// The next `count` bytes (fewer at the end).
    public mutating func take(_ count: Int) -> [UInt8] {
        let piece = bytes.prefix(count)
        bytes = bytes.dropFirst(count)
        return Array(piece)
    }

    /// The rest.
    public mutating func rest() -> [UInt8] { take(bytes.count) }

    /// The rest split into chunks whose sizes come from the input itself (1...64, or all at once).
    public mutating func chunks() -> [[UInt8]] {
        let mode = byte()
        var data = rest()[...]
        if mode & 1 == 0 { return [Array(data)] }
        var result: [[UInt8]] = []
        var size = Int(mode >> 2) + 1
        while !data.isEmpty {
            result.append(Array(data.prefix(size)))
            data = data.dropFirst(size)
            size = (size * 7 + 3) % 64 + 1
        }
        return result
    }

    /// A string made of the next `count` bytes, invalid UTF-8 repaired.
    public mutating func string(_ count: Int) -> String { String(decoding: take(count), as: UTF8.self) }
}

/// A broken property: crash so libFuzzer records the input.
public func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("property violated: \(message())") }
}

@_silgen_name("LLVMFuzzerRunDriver")
private func llvmFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                                 _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                                 _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

/// Runs libFuzzer's driver with `callback`. SwiftPM links an executable target's entry point as
/// `<module>_main`, so each harness defines that symbol and calls this instead of relying on
/// libFuzzer's own `main`.
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt {
    var argc = argc
    var argv = argv
    return llvmFuzzerRunDriver(&argc, &argv, callback)
}
