/// An incremental UTF-8 validator (RFC 3629, as RFC 6455 §8.1 requires for text).
///
/// Feed bytes in any chunking with ``validate(_:)``; it returns `false` as soon as the bytes
/// seen so far can no longer be the prefix of valid UTF-8 (overlong forms, surrogates, code
/// points over U+10FFFF, stray continuation bytes), which is what lets the engine fail a text
/// message on the first bad fragment. ``isComplete`` says whether the input ended on a scalar
/// boundary. ASCII runs are skipped 32 and 8 bytes at a time.
public struct UTF8Validator: Sendable, Hashable {
    // State: what the next byte must be.
    //   0  accept: a lead byte
    //   1  one continuation byte (80...BF) remains
    //   2  two remain, next in 80...BF
    //   3  three remain, next in 80...BF
    //   4  after E0: next in A0...BF, then one
    //   5  after ED: next in 80...9F, then one
    //   6  after F0: next in 90...BF, then two
    //   7  after F4: next in 80...8F, then two
    //   8  failed (sticky)
    @usableFromInline var state: UInt8 = 0

    /// A validator at the start of a message.
    public init() {}

    /// True when all bytes so far form complete scalars (the message may end here).
    @inlinable public var isComplete: Bool { state == 0 }
    /// True once an invalid byte was seen; stays true until ``reset()``.
    @inlinable public var hasFailed: Bool { state == 8 }

    /// Starts over for a new message.
    public mutating func reset() { state = 0 }

    /// Validates the next chunk. - Returns: `false` if the input is no longer a valid prefix.
    @inlinable
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return state != 8 }
        return validate(base, count: bytes.count)
    }

    /// Validates the next chunk of any contiguous collection of bytes.
    public mutating func validate(_ bytes: some Collection<UInt8>) -> Bool {
        if let r = bytes.withContiguousStorageIfAvailable({ validate(UnsafeRawBufferPointer($0)) }) {
            return r
        }
        return Array(bytes).withUnsafeBytes { validate($0) }
    }

    @usableFromInline
    mutating func validate(_ p: UnsafeRawPointer, count: Int) -> Bool {
        var s = state
        if s == 8 { return false }
        var i = 0
        while i < count {
            if s == 0 {
                // ASCII fast path: skip whole words whose bytes all have the top bit clear.
                while i &+ 32 <= count {
                    let a = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    let b = p.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
                    let c = p.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self)
                    let d = p.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)
                    if (a | b | c | d) & 0x8080_8080_8080_8080 != 0 { break }
                    i &+= 32
                }
                while i &+ 8 <= count {
                    if p.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
                    i &+= 8
                }
                if i >= count { break }
                let byte = p.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                switch byte {
                case 0x00...0x7F: s = 0
                case 0xC2...0xDF: s = 1
                case 0xE0: s = 4
                case 0xE1...0xEC, 0xEE...0xEF: s = 2
                case 0xED: s = 5
                case 0xF0: s = 6
                case 0xF1...0xF3: s = 3
                case 0xF4: s = 7
                default: state = 8; return false  // 80...C1 (stray/overlong), F5...FF
                }
            } else {
                let byte = p.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                let ok: Bool
                let next: UInt8
                switch s {
                case 1: ok = byte & 0xC0 == 0x80; next = 0
                case 2: ok = byte & 0xC0 == 0x80; next = 1
                case 3: ok = byte & 0xC0 == 0x80; next = 2
                case 4: ok = (0xA0...0xBF).contains(byte); next = 1
                case 5: ok = (0x80...0x9F).contains(byte); next = 1
                case 6: ok = (0x90...0xBF).contains(byte); next = 2
                default: ok = (0x80...0x8F).contains(byte); next = 2  // 7
                }
                guard ok else { state = 8; return false }
                s = next
            }
        }
        state = s
        return true
    }
}
