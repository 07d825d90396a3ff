import NIOCore

/// The 4-byte key a client XORs over every payload it sends (RFC 6455 §5.3).
///
/// Masking is applied word-at-a-time (8 bytes per step, unrolled to 32) rather than byte by
/// byte; ``apply(to:offset:)`` and ``copy(from:to:offset:)`` carry the key position across
/// chunks with `offset`, so a payload that arrives in pieces is unmasked piecewise.
public struct MaskingKey: Hashable, Sendable, CustomStringConvertible {
    /// The key bytes in wire order.
    public let b0: UInt8, b1: UInt8, b2: UInt8, b3: UInt8

    /// A key from its four bytes, in wire order.
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        (self.b0, self.b1, self.b2, self.b3) = (b0, b1, b2, b3)
    }

    /// A key from four bytes in wire order. - Precondition: `bytes.count == 4`.
    public init(_ bytes: some Collection<UInt8>) {
        precondition(bytes.count == 4, "a masking key has exactly 4 bytes")
        var it = bytes.makeIterator()
        self.init(it.next()!, it.next()!, it.next()!, it.next()!)
    }

    /// A fresh key from `generator`. RFC 6455 §5.3 requires it to be unpredictable, so
    /// production code uses `SystemRandomNumberGenerator` (a CSPRNG); tests inject a seeded one.
    public static func random(using generator: inout some RandomNumberGenerator) -> MaskingKey {
        let v = generator.next() as UInt32
        return MaskingKey(UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8),
                          UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24))
    }

    /// A fresh key from the system CSPRNG.
    public static func random() -> MaskingKey {
        var rng = SystemRandomNumberGenerator()
        return random(using: &rng)
    }

    @inline(__always)
    subscript(i: Int) -> UInt8 {
        switch i & 3 {
        case 0: b0
        case 1: b1
        case 2: b2
        default: b3
        }
    }

    /// The key rotated so that byte `offset % 4` comes first, repeated to 8 bytes and loaded
    /// as a native word: XOR-ing it over 8 payload bytes at `offset` masks them.
    @inline(__always)
    func word(offset: Int) -> UInt64 {
        var w: UInt64 = 0
        withUnsafeMutableBytes(of: &w) { p in
            for i in 0..<8 { p[i] = self[offset &+ i] }
        }
        return w
    }

    /// XORs the key over `buffer` in place, treating its first byte as payload byte `offset`.
    @inlinable
    public func apply(to buffer: UnsafeMutableRawBufferPointer, offset: Int = 0) {
        guard let base = buffer.baseAddress else { return }
        _mask(from: UnsafeRawPointer(base), to: base, count: buffer.count, offset: offset)
    }

    /// Copies `source` to `destination` (which must be at least as large) while masking: one
    /// pass does the copy that assembling a message needs anyway and the unmasking.
    @inlinable
    public func copy(from source: UnsafeRawBufferPointer, to destination: UnsafeMutableRawBufferPointer, offset: Int = 0) {
        precondition(destination.count >= source.count)
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
        _mask(from: src, to: dst, count: source.count, offset: offset)
    }

    @usableFromInline
    func _mask(from src: UnsafeRawPointer, to dst: UnsafeMutableRawPointer, count: Int, offset: Int) {
        let w = word(offset: offset)
        var i = 0
        while i &+ 32 <= count {
            let a = src.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let b = src.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
            let c = src.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self)
            let d = src.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)
            dst.storeBytes(of: a ^ w, toByteOffset: i, as: UInt64.self)
            dst.storeBytes(of: b ^ w, toByteOffset: i &+ 8, as: UInt64.self)
            dst.storeBytes(of: c ^ w, toByteOffset: i &+ 16, as: UInt64.self)
            dst.storeBytes(of: d ^ w, toByteOffset: i &+ 24, as: UInt64.self)
            i &+= 32
        }
        while i &+ 8 <= count {
            let a = src.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            dst.storeBytes(of: a ^ w, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        while i < count {
            let byte = src.load(fromByteOffset: i, as: UInt8.self) ^ self[offset &+ i]
            dst.storeBytes(of: byte, toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
    }

    public var description: String {
        [b0, b1, b2, b3].map { h in
            let s = String(h, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
}

extension ByteBuffer {
    /// Masks (or unmasks: XOR is its own inverse) the readable bytes in place.
    /// `offset` is the position of the first readable byte within the frame payload.
    public mutating func webSocketMask(_ key: MaskingKey, offset: Int = 0) {
        withUnsafeMutableReadableBytes { key.apply(to: $0, offset: offset) }
    }
}
