import NIOConcurrencyHelpers
import WebSocketCore

/// Shared by every event loop's accepts. A pthread mutex (`NIOLockedValueBox`), not `Mutex`:
/// ThreadSanitizer sees it (docs/ARCHITECTURE.md).
private let connectionIDRandom = NIOLockedValueBox(BufferedSystemRandomNumberGenerator())

/// A random (version 4) UUID identifying one connection in every log record it produces.
/// Generated at accept, before the handshake, so even the first record carries it.
public struct ConnectionID: Sendable, Hashable, CustomStringConvertible {
    /// The UUID's first 64 bits.
    public let high: UInt64
    /// The UUID's last 64 bits.
    public let low: UInt64

    /// A new random id from the system CSPRNG (read in blocks shared by all connections: two
    /// `getrandom` calls per accepted connection were a measurable part of connect churn).
    public init() {
        self = connectionIDRandom.withLockedValue { ConnectionID(using: &$0) }
    }

    /// A random version-4 UUID from `generator` (deterministic generators make reproducible tests).
    public init(using generator: inout some RandomNumberGenerator) {
        // RFC 9562 §5.4: version 4 in bits 48-51, variant 0b10 in bits 64-65.
        high = (generator.next() & ~0xF000) | 0x4000
        low = (generator.next() & ~(0b11 << 62)) | (0b10 << 62)
    }

    /// The canonical lowercase form `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
    public var description: String {
        var line = LogLine(capacity: 36)
        write(into: &line)
        return String(decoding: line.bytes, as: UTF8.self)
    }

    func write(into line: inout LogLine) {
        line.withWriter { write(into: &$0) }
    }

    func write(into line: inout LogLine.Writer) {
        var text: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)  // 36 bytes used
        withUnsafeMutableBytes(of: &text) { t in
            var o = 0
            func put(_ word: UInt64, dashesBefore first: Int, _ second: Int) {
                for nibble in 0..<16 {
                    if nibble == first || nibble == second {
                        t[o] = UInt8(ascii: "-")
                        o += 1
                    }
                    t[o] = LogLine.hex[Int((word >> UInt64(60 - nibble * 4)) & 0xF)]
                    o += 1
                }
            }
            put(high, dashesBefore: 8, 12)
            put(low, dashesBefore: 0, 4)
            line.append(UnsafeRawBufferPointer(rebasing: t[..<36]))
        }
    }
}
