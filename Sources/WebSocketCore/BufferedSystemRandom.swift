/// The Swift runtime's system CSPRNG entry point (`getrandom` on Linux, `arc4random_buf` on
/// Darwin), which fills any number of bytes per call; `SystemRandomNumberGenerator` uses it
/// eight bytes at a time.
@_silgen_name("swift_stdlib_random")
private func swiftStdlibRandom(_ buffer: UnsafeMutableRawPointer, _ count: Int)

/// The operating system's CSPRNG, read 512 bytes at a time.
///
/// A client needs a fresh, unpredictable masking key for every frame (RFC 6455 §5.3).
/// `SystemRandomNumberGenerator` makes one system call per value — most of the cost of encoding
/// a small client frame; this generator hands out the same randomness from a buffer refilled
/// with one call per 64 values.
@usableFromInline
package struct BufferedSystemRandomNumberGenerator: RandomNumberGenerator, Sendable {
    private var buffer: [UInt64] = []
    private var index = 0

    /// An empty buffer; the first value fills it.
    public init() {}

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        if index == buffer.count { refill() }
        defer { index &+= 1 }
        return buffer[index]
    }

    private mutating func refill() {
        if buffer.isEmpty { buffer = [UInt64](repeating: 0, count: 64) }
        buffer.withUnsafeMutableBytes { swiftStdlibRandom($0.baseAddress!, $0.count) }
        index = 0
    }
}
