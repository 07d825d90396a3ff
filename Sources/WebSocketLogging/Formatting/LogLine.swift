/// A growable byte buffer that formatters render one log line into.
///
/// Writers here never allocate beyond the buffer's own growth: numbers, timestamps and escaped
/// strings are written byte by byte. Pipelines reuse one `LogLine` per thread, so in the
/// steady state formatting a record allocates nothing.
///
/// The bytes live in a buffer of the line's own (copy on write, like `Array`). Each `append`
/// checks once that the buffer is not shared; a formatter that writes a whole record inside
/// ``withWriter(_:)`` checks once per record, and each write then costs a capacity check.
public struct LogLine: @unchecked Sendable {  // value semantics: storage is copied before a shared one is written
    /// The bytes; shared between copies of a line until one of them writes.
    final class Storage {
        var base: UnsafeMutablePointer<UInt8>
        var capacity: Int
        /// The second whose `YYYY-MM-DDTHH:MM:SS.` is in ``stampPrefix`` (a line is reused for
        /// thousands of records per second: the date arithmetic runs once per second).
        var stampSecond = Int.min
        /// The first 20 bytes of the timestamp of ``stampSecond`` (24 bytes of room).
        var stampPrefix: (UInt64, UInt64, UInt64) = (0, 0, 0)

        init(capacity: Int) {
            self.capacity = max(capacity, 16)
            base = .allocate(capacity: self.capacity)
        }

        /// Grows to at least `minimum` bytes (doubling), keeping the first `count`.
        func grow(toAtLeast minimum: Int, keeping count: Int) {
            let newCapacity = max(minimum, capacity * 2)
            let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            newBase.update(from: base, count: count)
            base.deallocate()
            base = newBase
            capacity = newCapacity
        }

        deinit { base.deallocate() }
    }

    var storage: Storage
    /// The number of bytes written.
    public private(set) var count: Int

    /// An empty line with room for `capacity` bytes.
    public init(capacity: Int = 512) {
        storage = Storage(capacity: capacity)
        count = 0
    }

    /// A copy of the line's bytes. Formatting and sinks use ``withUnsafeBytes(_:)``, which does
    /// not copy; setting replaces the content.
    public var bytes: [UInt8] {
        get { Array(UnsafeBufferPointer(start: storage.base, count: count)) }
        set {
            removeAll()
            append(contentsOf: newValue)
        }
    }

    /// Calls `body` with the bytes written so far.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.base, count: count))
    }

    /// Empties the line, keeping its storage.
    public mutating func removeAll() { count = 0 }

    /// Drops the bytes from `count` on (what was written after a mark taken from ``count``).
    public mutating func truncate(to count: Int) {
        precondition(count >= 0 && count <= self.count, "truncate(to:) beyond the line")
        self.count = count
    }

    /// Runs `body` with a writer over this line's buffer: one uniqueness check for everything
    /// `body` writes (a formatter's whole record).
    mutating func withWriter<R>(_ body: (inout Writer) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = Storage(capacity: storage.capacity)
            copy.base.update(from: storage.base, count: count)
            storage = copy
        }
        var writer = Writer(storage: storage, count: count)
        defer { count = writer.count }
        return try body(&writer)
    }

    // MARK: - Appending (each a short writer session)

    /// Appends one byte.
    public mutating func append(_ byte: UInt8) { withWriter { $0.append(byte) } }
    /// Appends a literal's UTF-8 bytes.
    public mutating func append(_ s: StaticString) { withWriter { $0.append(s) } }
    /// Appends bytes.
    public mutating func append(contentsOf other: [UInt8]) { withWriter { w in other.withUnsafeBytes { w.append($0) } } }
    /// Appends raw bytes.
    public mutating func append(contentsOf other: UnsafeRawBufferPointer) { withWriter { $0.append(other) } }
    /// Appends `s` unescaped (the caller knows it needs no escaping).
    public mutating func appendRaw(_ s: String) { withWriter { $0.appendRaw(s) } }
    /// Appends a decimal integer.
    public mutating func append(int value: Int) { withWriter { $0.append(int: value) } }
    /// Appends a JSON number: below 10^9, fixed notation with up to 6 decimals, trailing zeros
    /// trimmed; from 10^9 on, Swift's shortest round-trip form (`1000000000.0`, `1e+300`). NaN
    /// and infinities (not JSON) become `null`.
    public mutating func append(jsonDouble value: Double) { withWriter { $0.append(jsonDouble: value) } }
    /// Appends `s` as a JSON string with quotes, escaping `"`, `\`, every control character,
    /// DEL and U+2028/U+2029, and cutting it (on a scalar boundary, marked with `…`) after
    /// `limit` bytes.
    public mutating func append(jsonString s: String, limit: Int = .max) { withWriter { $0.append(jsonString: s, limit: limit) } }
    /// Appends `s` for the plain format: control characters, newlines and backslashes escaped
    /// so that a record is always one line; quoted (`"a b"`) when `quoteIfNeeded` and the value
    /// is empty or contains a space, `=` or `"`.
    public mutating func append(plain s: String, quoteIfNeeded: Bool, limit: Int = .max) {
        withWriter { $0.append(plain: s, quoteIfNeeded: quoteIfNeeded, limit: limit) }
    }

    // MARK: - Shared helpers

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

    /// Whether any byte of `utf8` is one ``needsJSONEscape(_:)`` rewrites, checked 8 bytes at a
    /// time: a word with a control byte, `"`, `\\`, DEL or any non-ASCII byte is checked byte by
    /// byte (only 0xE2 matters among the non-ASCII ones). Values up to 32 bytes take one to four
    /// overlapping loads and no loop (bytes checked twice are harmless); longer ones a loop whose
    /// last word overlaps the one before it.
    @inline(__always)
    static func mayNeedJSONEscape(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = utf8.baseAddress else { return false }
        let n = utf8.count
        let p = UnsafeRawPointer(base)
        switch n {
        case 0:
            return false
        case 1...3:  // bytes 0, n/2 and n-1 cover them all; the rest padded with `A`
            let word = UInt64(base[0]) | UInt64(base[n >> 1]) << 8 | UInt64(base[n - 1]) << 16 | 0x4141_4141_4100_0000
            return wordMayNeedJSONEscape(word) && utf8.contains(where: needsJSONEscape)
        case 4...7:  // two overlapping halves
            let word = UInt64(p.loadUnaligned(as: UInt32.self)) | UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)) << 32
            return wordMayNeedJSONEscape(word) && utf8.contains(where: needsJSONEscape)
        case 8...16:  // two overlapping words
            let first = p.loadUnaligned(as: UInt64.self), last = p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            return (wordMayNeedJSONEscape(first) || wordMayNeedJSONEscape(last)) && utf8.contains(where: needsJSONEscape)
        case 17...32:  // four words, the last two overlapping the first two
            let a = p.loadUnaligned(as: UInt64.self), b = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let c = p.loadUnaligned(fromByteOffset: n - 16, as: UInt64.self), d = p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            return (wordMayNeedJSONEscape(a) || wordMayNeedJSONEscape(b) || wordMayNeedJSONEscape(c) || wordMayNeedJSONEscape(d))
                && utf8.contains(where: needsJSONEscape)
        default:
            return wordsMayNeedJSONEscape(base, n)
        }
    }

    /// ``mayNeedJSONEscape(_:)`` for more than 32 bytes.
    static func wordsMayNeedJSONEscape(_ base: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = 0
        while true {
            if i + 8 > n { i = n - 8 }
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            if wordMayNeedJSONEscape(word) {
                for j in i..<(i + 8) where needsJSONEscape(base[j]) { return true }
            }
            i += 8
            if i >= n { return false }
        }
    }

    /// Whether a word of 8 bytes has a control byte, `"`, `\\`, DEL or a non-ASCII byte.
    @inline(__always)
    static func wordMayNeedJSONEscape(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        /// Bytes of `x` equal to zero leave their high bit set (exact for any byte below 0x80).
        @inline(__always) func zeroBytes(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
        let suspicious = (x & highs)                          // non-ASCII
            | ((x &- ones &* 0x20) & ~x & highs)              // < 0x20
            | zeroBytes(x ^ (ones &* 0x22))                   // "
            | zeroBytes(x ^ (ones &* 0x5C))                   // \
            | zeroBytes(x ^ (ones &* 0x7F))                   // DEL
        return suspicious != 0
    }

    /// Copies `count` bytes without calling `memcpy` for the short copies a log line is made
    /// of (keys, addresses, timestamps): up to 32 bytes as overlapping 8-byte words.
    @inline(__always)
    static func copyBytes(from source: UnsafeRawPointer, to target: UnsafeMutableRawPointer, count n: Int) {
        switch n {
        case 8...16:
            let a = source.loadUnaligned(as: UInt64.self)
            let b = source.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            target.storeBytes(of: a, as: UInt64.self)
            target.storeBytes(of: b, toByteOffset: n - 8, as: UInt64.self)
        case 17...32:
            let a = source.loadUnaligned(as: UInt64.self)
            let b = source.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let c = source.loadUnaligned(fromByteOffset: n - 16, as: UInt64.self)
            let d = source.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            target.storeBytes(of: a, as: UInt64.self)
            target.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
            target.storeBytes(of: c, toByteOffset: n - 16, as: UInt64.self)
            target.storeBytes(of: d, toByteOffset: n - 8, as: UInt64.self)
        case 4..<8:
            let a = source.loadUnaligned(as: UInt32.self)
            let b = source.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
            target.storeBytes(of: a, as: UInt32.self)
            target.storeBytes(of: b, toByteOffset: n - 4, as: UInt32.self)
        case 0..<4:
            for i in 0..<n { target.storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self) }
        default:
            target.copyMemory(from: source, byteCount: n)
        }
    }

    /// `00` to `99`: two decimal digits per lookup.
    @inline(__always)
    static var digitPairs: UnsafePointer<UInt8> {
        ("00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899" as StaticString).utf8Start
    }

    /// Writes the two digits of `value` (0...99) at `target`.
    @inline(__always)
    static func putTwoDigits(_ value: Int, to target: UnsafeMutableRawPointer) {
        target.copyMemory(from: digitPairs + 2 * value, byteCount: 2)
    }

    /// Writes the six digits of `value` (0..<1_000_000, zero-padded) at `target`: microseconds.
    @inline(__always)
    static func putSixDigits(_ value: Int, to target: UnsafeMutableRawPointer) {
        putTwoDigits(value / 10_000, to: target)
        putTwoDigits(value / 100 % 100, to: target + 2)
        putTwoDigits(value % 100, to: target + 4)
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
            truncate(to: start)
            render(&self, limit)
            if count - start <= maxLength { return }
        }
        truncate(to: start)
        fallback(&self)
    }
}

extension LogLine {
    /// Writes into a ``LogLine``'s buffer, which ``LogLine/withWriter(_:)`` made unique: each
    /// write checks capacity and nothing else. The writing primitives of every formatter.
    struct Writer {
        let storage: Storage
        /// The line's length so far.
        public internal(set) var count: Int

        init(storage: Storage, count: Int) {
            self.storage = storage
            self.count = count
        }

        /// Room for `n` more bytes; returns where they go.
        @inline(__always)
        mutating func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
            if _slowPath(count &+ n > storage.capacity) { storage.grow(toAtLeast: count &+ n, keeping: count) }
            return storage.base + count
        }

        /// Drops the bytes from `count` on.
        public mutating func truncate(to count: Int) {
            precondition(count >= 0 && count <= self.count, "truncate(to:) beyond the line")
            self.count = count
        }

        /// Appends one byte.
        @inline(__always)
        public mutating func append(_ byte: UInt8) {
            reserve(1).pointee = byte
            count &+= 1
        }

        /// Appends a literal's UTF-8 bytes.
        @inline(__always)
        public mutating func append(_ s: StaticString) {
            let n = s.utf8CodeUnitCount
            LogLine.copyBytes(from: s.utf8Start, to: reserve(n), count: n)
            count &+= n
        }

        /// Appends raw bytes.
        public mutating func append(_ bytes: UnsafeRawBufferPointer) {
            guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
            LogLine.copyBytes(from: source, to: reserve(bytes.count), count: bytes.count)
            count &+= bytes.count
        }

        /// Appends bytes.
        public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) { append(UnsafeRawBufferPointer(bytes)) }

        /// Appends `s` unescaped (the caller knows it needs no escaping).
        public mutating func appendRaw(_ s: String) {
            var s = s
            s.withUTF8 { append($0) }
        }

        /// Appends a decimal integer.
        public mutating func append(int value: Int) {
            if value < 0 {
                append(UInt8(ascii: "-"))
                append(uint: value.magnitude)
            } else {
                append(uint: UInt(value))
            }
        }

        mutating func append(uint value: UInt) {
            if value < 10 {
                append(UInt8(ascii: "0") &+ UInt8(value))
                return
            }
            var digits = 0
            var n = value
            while n > 0 { n /= 10; digits += 1 }
            let out = reserve(digits)
            n = value
            for i in stride(from: digits - 1, through: 0, by: -1) {
                out[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n % 10)
                n /= 10
            }
            count &+= digits
        }

        /// Appends a JSON number (see ``LogLine/append(jsonDouble:)``).
        public mutating func append(jsonDouble value: Double) {
            guard value.isFinite else { append("null"); return }
            // Below 1e9 the microseconds (< 2^53) are exact; larger values in Swift's shortest form.
            guard abs(value) < 1e9 else { appendRaw(value.description); return }
            var v = value
            if v < 0 { append(UInt8(ascii: "-")); v = -v }
            let micros = UInt((v * 1_000_000).rounded())
            let whole = micros / 1_000_000
            let frac = Int(micros % 1_000_000)
            append(uint: whole)
            guard frac > 0 else { return }
            // `.ffffff`, then the trailing zeros dropped.
            let out = UnsafeMutableRawPointer(reserve(7))
            out.storeBytes(of: UInt8(ascii: "."), as: UInt8.self)
            LogLine.putSixDigits(frac, to: out + 1)
            var length = 7
            while out.load(fromByteOffset: length - 1, as: UInt8.self) == UInt8(ascii: "0") { length -= 1 }
            count &+= length
        }

        /// Appends `s` as a JSON string with quotes (see ``LogLine/append(jsonString:limit:)``).
        public mutating func append(jsonString s: String, limit: Int = .max) {
            // Native and small strings are contiguous: read in place, without a mutable copy.
            let done: Void? = s.utf8.withContiguousStorageIfAvailable { appendQuotedJSON($0, limit: limit) }
            if done == nil {
                var s = s
                s.withUTF8 { appendQuotedJSON($0, limit: limit) }
            }
        }

        mutating func appendQuotedJSON(_ utf8: UnsafeBufferPointer<UInt8>, limit: Int) {
            // Fast path: most values need no escaping and fit; quotes and bytes in one reservation.
            if utf8.count <= limit && !LogLine.mayNeedJSONEscape(utf8) {
                let n = utf8.count
                let out = reserve(n &+ 2)
                out.pointee = UInt8(ascii: "\"")
                if let source = utf8.baseAddress { LogLine.copyBytes(from: source, to: out + 1, count: n) }
                out[n &+ 1] = UInt8(ascii: "\"")
                count &+= n &+ 2
                return
            }
            append(UInt8(ascii: "\""))
            appendJSONEscaped(utf8, limit: limit)
            append(UInt8(ascii: "\""))
        }

        mutating func appendJSONEscaped(_ utf8: UnsafeBufferPointer<UInt8>, limit: Int) {
            appendEscaped(utf8, limit: limit) { w, utf8, i, end in
                let c = utf8[i]
                switch c {
                case UInt8(ascii: "\""): w.append("\\\"")
                case UInt8(ascii: "\\"): w.append("\\\\")
                case 0x0A: w.append("\\n")
                case 0x0D: w.append("\\r")
                case 0x09: w.append("\\t")
                case 0x08: w.append("\\b")
                case 0x0C: w.append("\\f")
                case 0x00..<0x20, 0x7F: w.appendUnicodeEscape(UInt16(c))
                case 0xE2 where i + 2 < end && utf8[i + 1] == 0x80 && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
                    w.appendUnicodeEscape(utf8[i + 2] == 0xA8 ? 0x2028 : 0x2029)
                    return 3
                default: w.append(c)
                }
                return 1
            }
        }

        /// Copies `utf8` up to its cut point (``LogLine/cutPoint(_:limit:)``), writing each byte
        /// with `escape`, which returns how many input bytes it consumed. Stops on a scalar
        /// boundary once `limit` bytes are written (escapes make a value up to 6× longer) and
        /// marks any cut with `…`. The frame both the JSON and the plain escaping share.
        mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, limit: Int,
                                    _ escape: (inout Writer, UnsafeBufferPointer<UInt8>, _ at: Int, _ end: Int) -> Int) {
            let end = LogLine.cutPoint(utf8, limit: limit)
            let start = count
            var cut = false
            var i = 0
            while i < end {
                if count - start >= limit && utf8[i] & 0xC0 != 0x80 {
                    cut = true
                    break
                }
                i += escape(&self, utf8, i, end)
            }
            if cut || end < utf8.count { append("…") }
        }

        mutating func appendUnicodeEscape(_ v: UInt16) {
            append("\\u")
            for shift in stride(from: 12, through: 0, by: -4) {
                append(LogLine.hex[Int((v >> UInt16(shift)) & 0xF)])
            }
        }

        /// Appends `s` for the plain format (see ``LogLine/append(plain:quoteIfNeeded:limit:)``).
        public mutating func append(plain s: String, quoteIfNeeded: Bool, limit: Int = .max) {
            var s = s
            s.withUTF8 { utf8 in
                let needsQuotes = quoteIfNeeded && (utf8.isEmpty || utf8.contains { $0 == 0x20 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") })
                if needsQuotes { append(UInt8(ascii: "\"")) }
                // Fast path: nothing to escape and within the limit.
                if utf8.count <= limit && !utf8.contains(where: { LogLine.needsPlainEscape($0, quoted: needsQuotes) }) {
                    append(utf8)
                    if needsQuotes { append(UInt8(ascii: "\"")) }
                    return
                }
                appendEscaped(utf8, limit: limit) { w, utf8, i, end in
                    let c = utf8[i]
                    switch c {
                    case 0x0A: w.append("\\n")
                    case 0x0D: w.append("\\r")
                    case 0x09: w.append("\\t")
                    case UInt8(ascii: "\\"): w.append("\\\\")
                    case UInt8(ascii: "\"") where needsQuotes: w.append("\\\"")
                    case 0x00..<0x20, 0x7F:
                        w.append("\\x")
                        w.append(LogLine.hex[Int(c >> 4)])
                        w.append(LogLine.hex[Int(c & 0xF)])
                    case 0xE2 where i + 2 < end && utf8[i + 1] == 0x80 && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
                        w.append(utf8[i + 2] == 0xA8 ? "\\u2028" : "\\u2029")
                        return 3
                    case 0xC2 where i + 1 < end && utf8[i + 1] == 0x85:  // NEL, a line break to some readers
                        w.append("\\u0085")
                        return 2
                    default: w.append(c)
                    }
                    return 1
                }
                if needsQuotes { append(UInt8(ascii: "\"")) }
            }
        }
    }
}
