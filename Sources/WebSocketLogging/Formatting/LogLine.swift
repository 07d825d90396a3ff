/// A growable byte buffer that formatters render one log line into.
///
/// Writers here never allocate beyond the buffer's own growth: numbers, timestamps and escaped
/// strings are written byte by byte. Pipelines reuse one `LogLine` per thread, so in the
/// steady state formatting a record allocates nothing.
public struct LogLine: Sendable {
    /// The line's bytes so far.
    public var bytes: [UInt8]

    /// An empty line with room for `capacity` bytes.
    public init(capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The number of bytes written.
    public var count: Int { bytes.count }
    /// Empties the line, keeping its storage.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Appends one byte.
    @inlinable public mutating func append(_ byte: UInt8) { bytes.append(byte) }

    /// Appends a literal's UTF-8 bytes.
    @inlinable
    public mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends bytes.
    public mutating func append(contentsOf other: [UInt8]) { bytes.append(contentsOf: other) }

    /// Appends raw bytes.
    public mutating func append(contentsOf other: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: other)
    }

    /// Appends `s` unescaped (the caller knows it needs no escaping).
    public mutating func appendRaw(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends a decimal integer.
    public mutating func append(int value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            append(uint: value.magnitude)
        } else {
            append(uint: UInt(value))
        }
    }

    mutating func append(uint value: UInt) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch on the stack
        var n = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while n > 0 {
                d[23 - count] = UInt8(ascii: "0") &+ UInt8(n % 10)
                n /= 10
                count += 1
            }
            bytes.append(contentsOf: d[(24 - count)...])
        }
    }

    /// Appends `value` with `digits` zero-padded digits.
    mutating func append(padded value: Int, digits: Int) {
        var scratch: (UInt64, UInt64) = (0, 0)  // up to 16 digits on the stack, appended at once
        withUnsafeMutableBytes(of: &scratch) { d in
            Self.putDigits(value, digits, into: d, at: 0)
            bytes.append(contentsOf: d[..<digits])
        }
    }

    /// Writes the last `digits` decimal digits of `value` (zero-padded) into `buffer` at `offset`.
    static func putDigits(_ value: Int, _ digits: Int, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        var v = value
        var i = offset + digits
        while i > offset {
            i -= 1
            buffer[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
            v /= 10
        }
    }

    /// Appends a JSON number: fixed notation with up to 6 decimals, trailing zeros trimmed.
    /// NaN and infinities (not JSON) become `null`.
    public mutating func append(jsonDouble value: Double) {
        guard value.isFinite else { append("null"); return }
        guard abs(value) < 1e15 else { appendRaw(value.description); return }
        var v = value
        if v < 0 { bytes.append(UInt8(ascii: "-")); v = -v }
        var micros = (v * 1_000_000).rounded()
        if micros >= 1e21 { micros = 0 }
        let whole = UInt(micros / 1_000_000)
        var frac = Int(micros - Double(whole) * 1_000_000)
        append(uint: whole)
        guard frac > 0 else { return }
        bytes.append(UInt8(ascii: "."))
        var width = 6
        while frac % 10 == 0 { frac /= 10; width -= 1 }
        append(padded: frac, digits: width)
    }

    /// Appends `s` as a JSON string with quotes, escaping `"`, `\`, every control character,
    /// DEL and U+2028/U+2029, and cutting it (on a scalar boundary, marked with `…`) after
    /// `limit` bytes.
    public mutating func append(jsonString s: String, limit: Int = .max) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { appendJSONEscaped($0, limit: limit) }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func appendJSONEscaped(_ utf8: UnsafeBufferPointer<UInt8>, limit: Int) {
        // Fast path: most values need no escaping and fit; copy them in one go.
        if utf8.count <= limit && !utf8.contains(where: Self.needsJSONEscape) {
            bytes.append(contentsOf: utf8)
            return
        }
        let end = Self.cutPoint(utf8, limit: limit)
        let start = bytes.count
        var cut = false
        var i = 0
        while i < end {
            let c = utf8[i]
            // The limit also bounds what is written: escapes make a value up to 6× longer.
            if bytes.count - start >= limit && c & 0xC0 != 0x80 {
                cut = true
                break
            }
            switch c {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0x08: append("\\b")
            case 0x0C: append("\\f")
            case 0x00..<0x20, 0x7F: appendUnicodeEscape(UInt16(c))
            case 0xE2 where i + 2 < end && utf8[i + 1] == 0x80 && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
                appendUnicodeEscape(utf8[i + 2] == 0xA8 ? 0x2028 : 0x2029)
                i += 2
            default: bytes.append(c)
            }
            i += 1
        }
        if cut || end < utf8.count { append("…") }
    }

    /// Bytes the JSON writer rewrites: controls, `"`, `\\`, DEL, and 0xE2 (which starts U+2028/2029).
    @inline(__always)
    static func needsJSONEscape(_ c: UInt8) -> Bool {
        c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c == 0x7F || c == 0xE2
    }

    /// Bytes the plain writer rewrites: controls, `\\`, DEL, 0xE2 (U+2028/2029), 0xC2 (NEL), and
    /// `"` inside a quoted value.
    @inline(__always)
    static func needsPlainEscape(_ c: UInt8, quoted: Bool) -> Bool {
        c < 0x20 || c == UInt8(ascii: "\\") || c == 0x7F || c == 0xE2 || c == 0xC2 || (quoted && c == UInt8(ascii: "\""))
    }

    mutating func appendUnicodeEscape(_ v: UInt16) {
        append("\\u")
        for shift in stride(from: 12, through: 0, by: -4) {
            bytes.append(Self.hex[Int((v >> UInt16(shift)) & 0xF)])
        }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// The largest prefix length ≤ `limit` that ends on a scalar boundary.
    static func cutPoint(_ utf8: UnsafeBufferPointer<UInt8>, limit: Int) -> Int {
        guard utf8.count > limit else { return utf8.count }
        var end = max(0, limit)
        while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }
        return end
    }

    /// String-value limits tried in turn until a record fits (a static: no allocation per record).
    static let valueLimits = [Int.max, 1024, 256, 64, 16]

    /// Renders a record with `render(&line, limit)` for each limit of ``valueLimits`` in turn
    /// until it takes at most `maxLength` bytes; if none fits, renders `fallback` instead. What a
    /// formatter cuts is its values, never its structure.
    mutating func appendFitting(maxLength: Int, _ render: (inout LogLine, Int) -> Void, fallback: (inout LogLine) -> Void) {
        let start = count
        for limit in Self.valueLimits {
            bytes.removeSubrange(start...)
            render(&self, limit)
            if count - start <= maxLength { return }
        }
        bytes.removeSubrange(start...)
        fallback(&self)
    }

    /// Appends `s` for the plain format: control characters, newlines and backslashes escaped
    /// so that a record is always one line; quoted (`"a b"`) when `quoteIfNeeded` and the value
    /// is empty or contains a space, `=` or `"`.
    public mutating func append(plain s: String, quoteIfNeeded: Bool, limit: Int = .max) {
        var s = s
        s.withUTF8 { utf8 in
            let needsQuotes = quoteIfNeeded && (utf8.isEmpty || utf8.contains { $0 == 0x20 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") })
            if needsQuotes { bytes.append(UInt8(ascii: "\"")) }
            // Fast path: nothing to escape and within the limit.
            if utf8.count <= limit && !utf8.contains(where: { Self.needsPlainEscape($0, quoted: needsQuotes) }) {
                bytes.append(contentsOf: utf8)
                if needsQuotes { bytes.append(UInt8(ascii: "\"")) }
                return
            }
            let end = Self.cutPoint(utf8, limit: limit)
            let start = bytes.count
            var cut = false
            var i = 0
            while i < end {
                let c = utf8[i]
                if bytes.count - start >= limit && c & 0xC0 != 0x80 {  // bound the escaped length too
                    cut = true
                    break
                }
                switch c {
                case 0x0A: append("\\n")
                case 0x0D: append("\\r")
                case 0x09: append("\\t")
                case UInt8(ascii: "\\"): append("\\\\")
                case UInt8(ascii: "\"") where needsQuotes: append("\\\"")
                case 0x00..<0x20, 0x7F:
                    append("\\x")
                    bytes.append(Self.hex[Int(c >> 4)])
                    bytes.append(Self.hex[Int(c & 0xF)])
                case 0xE2 where i + 2 < end && utf8[i + 1] == 0x80 && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
                    append(utf8[i + 2] == 0xA8 ? "\\u2028" : "\\u2029")
                    i += 2
                case 0xC2 where i + 1 < end && utf8[i + 1] == 0x85:  // NEL, a line break to some readers
                    append("\\u0085")
                    i += 1
                default: bytes.append(c)
                }
                i += 1
            }
            if cut || end < utf8.count { append("…") }
            if needsQuotes { bytes.append(UInt8(ascii: "\"")) }
        }
    }
}
