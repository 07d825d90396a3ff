#if canImport(Glibc)
import Glibc
#endif

/// One JSON object per line, scanned without building it: every member is kept as a byte range
/// of the line (an object's or array's only as present) with the key of the object holding it (`event_data`, `websocket`,
/// `stats`, or none at the top), so a record costs no allocation until a value is read. A line
/// that is not one complete JSON object (cut mid-way, not JSON) is rejected as a whole.
struct JSONLineScanner {
    enum Kind: UInt8 { case string, number, bool, null, object, array }

    /// A scalar member: the bytes of its parent's key, its own key and its value (a string's
    /// without the quotes, escapes still in).
    struct Member {
        var parent: Range<Int>
        var key: Range<Int>
        var value: Range<Int>
        var kind: Kind
        var escaped: Bool
    }

    private(set) var members: [Member] = []
    private var bytes = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    private var at = 0
    private static let maxDepth = 16

    init() { members.reserveCapacity(64) }

    /// Scans `line` (kept until the next call); `false` if it is not exactly one JSON object.
    mutating func scan(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        members.removeAll(keepingCapacity: true)
        bytes = line
        at = 0
        skipSpace()
        guard peek == UInt8(ascii: "{"), object(parent: 0..<0, depth: 0) else { return false }
        skipSpace()
        return at == bytes.count
    }

    private var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

    private mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0D { at += 1 }
    }

    private mutating func object(parent: Range<Int>, depth: Int) -> Bool {
        guard depth < Self.maxDepth else { return false }
        at += 1  // {
        skipSpace()
        if peek == UInt8(ascii: "}") { at += 1; return true }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\""), let (key, _) = string() else { return false }
            skipSpace()
            guard peek == UInt8(ascii: ":") else { return false }
            at += 1
            skipSpace()
            guard value(parent: parent, key: key, depth: depth) else { return false }
            skipSpace()
            switch peek {
            case UInt8(ascii: ","): at += 1
            case UInt8(ascii: "}"): at += 1; return true
            default: return false
            }
        }
    }

    private mutating func array(depth: Int) -> Bool {
        guard depth < Self.maxDepth else { return false }
        at += 1  // [
        skipSpace()
        if peek == UInt8(ascii: "]") { at += 1; return true }
        while true {
            skipSpace()
            guard value(parent: 0..<0, key: nil, depth: depth) else { return false }
            skipSpace()
            switch peek {
            case UInt8(ascii: ","): at += 1
            case UInt8(ascii: "]"): at += 1; return true
            default: return false
            }
        }
    }

    /// A value; members of an object are kept (array elements are checked, not kept).
    private mutating func value(parent: Range<Int>, key: Range<Int>?, depth: Int) -> Bool {
        guard let c = peek else { return false }
        let start = at
        var kind = Kind.number
        var escaped = false
        var range: Range<Int>
        switch c {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            if let key { members.append(Member(parent: parent, key: key, value: start..<start, kind: c == UInt8(ascii: "{") ? .object : .array, escaped: false)) }
            return c == UInt8(ascii: "{") ? object(parent: key ?? 0..<0, depth: depth + 1) : array(depth: depth + 1)
        case UInt8(ascii: "\""):
            guard let (r, e) = string() else { return false }
            range = r
            escaped = e
            kind = .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let word: StaticString = c == UInt8(ascii: "t") ? "true" : c == UInt8(ascii: "f") ? "false" : "null"
            guard literal(word) else { return false }
            range = start..<at
            kind = c == UInt8(ascii: "n") ? .null : .bool
        default:
            while at < bytes.count, Self.isNumberByte(bytes[at]) { at += 1 }
            guard at > start else { return false }
            range = start..<at
        }
        if let key { members.append(Member(parent: parent, key: key, value: range, kind: kind, escaped: escaped)) }
        return true
    }

    private static func isNumberByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
            || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count, memcmp(bytes.baseAddress! + at, word.utf8Start, n) == 0 else { return false }
        at += n
        return true
    }

    /// The string starting at `at` (a quote): its contents' range and whether it has escapes.
    private mutating func string() -> (Range<Int>, Bool)? {
        at += 1
        let start = at
        var escaped = false
        while at < bytes.count {
            switch bytes[at] {
            case UInt8(ascii: "\""):
                at += 1
                return (start..<(at - 1), escaped)
            case UInt8(ascii: "\\"):
                escaped = true
                at += 2
            case 0..<0x20: return nil
            default: at += 1
            }
        }
        return nil
    }

    // MARK: reading

    /// The member `key` of the object `parent` (`nil`: the top level).
    func member(_ parent: StaticString?, _ key: StaticString) -> Member? {
        for m in members where equal(m.key, key) {
            if let parent { if equal(m.parent, parent) { return m } } else if m.parent.isEmpty { return m }
        }
        return nil
    }

    private func equal(_ range: Range<Int>, _ text: StaticString) -> Bool {
        range.count == text.utf8CodeUnitCount && (range.isEmpty || memcmp(bytes.baseAddress! + range.lowerBound, text.utf8Start, range.count) == 0)
    }

    /// A string member's text, unescaped.
    func string(_ parent: StaticString?, _ key: StaticString) -> String? {
        guard let m = member(parent, key), m.kind == .string else { return nil }
        let raw = UnsafeBufferPointer(rebasing: bytes[m.value])
        return m.escaped ? Self.unescape(raw) : String(decoding: raw, as: UTF8.self)
    }

    /// A number member's value.
    func number(_ parent: StaticString?, _ key: StaticString) -> Double? {
        guard let m = member(parent, key), m.kind == .number, m.value.count < 64 else { return nil }
        var text: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &text) { buffer -> Double? in
            let c = buffer.bindMemory(to: CChar.self)
            for (i, b) in bytes[m.value].enumerated() { c[i] = CChar(bitPattern: b) }
            c[m.value.count] = 0
            var end: UnsafeMutablePointer<CChar>?
            let v = strtod(c.baseAddress!, &end)
            return end == c.baseAddress! + m.value.count ? v : nil
        }
    }

    /// An integer member's value.
    func int(_ parent: StaticString?, _ key: StaticString) -> Int? {
        guard let m = member(parent, key), m.kind == .number, m.value.count <= 18 else { return nil }
        var v = 0
        var negative = false
        for (i, b) in bytes[m.value].enumerated() {
            if i == 0 && b == UInt8(ascii: "-") { negative = true; continue }
            guard b >= 0x30 && b <= 0x39 else { return number(parent, key).flatMap { $0.rounded() == $0 ? Int($0) : nil } }
            v = v * 10 + Int(b - 0x30)
        }
        return negative ? -v : v
    }

    /// Whether the line has member `key` under `parent`.
    func has(_ parent: StaticString?, _ key: StaticString) -> Bool { member(parent, key) != nil }

    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var v: UInt32 = 0
            for b in raw[at..<(at + 4)] {
                guard let d = hexDigit(b) else { return nil }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while i < raw.count {
            let b = raw[i]
            guard b == UInt8(ascii: "\\"), i + 1 < raw.count else { out.append(b); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(i) else { continue }
                i += 4
                if (0xD800..<0xDC00).contains(scalar), i + 6 <= raw.count, raw[i] == UInt8(ascii: "\\"),
                   raw[i + 1] == UInt8(ascii: "u"), let low = hex4(i + 2), (0xDC00..<0xE000).contains(low) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                out.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x61...0x66: b - 0x61 + 10
        case 0x41...0x46: b - 0x41 + 10
        default: nil
        }
    }
}
