#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A wall-clock instant with microsecond precision, rendered as RFC 3339 UTC
/// (`2026-11-25T13:52:30.123456Z`) without Foundation or `DateFormatter`.
public struct LogTimestamp: Sendable, Hashable, Comparable {
    /// Seconds since the Unix epoch.
    public var seconds: Int
    /// Microseconds within the second (0..<1_000_000).
    public var microseconds: Int

    /// A time from seconds since 1970 (UTC) and microseconds.
    public init(seconds: Int, microseconds: Int) {
        self.seconds = seconds
        self.microseconds = microseconds
    }

    /// The current time from `CLOCK_REALTIME`.
    public static func now() -> LogTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return LogTimestamp(seconds: Int(ts.tv_sec), microseconds: Int(ts.tv_nsec) / 1000)
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.seconds, a.microseconds) < (b.seconds, b.microseconds)
    }

    /// Year, month, day from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    package static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` (exactly 6 fraction digits), composed on the stack
    /// and appended in one go.
    public func write(into line: inout LogLine) {
        line.withWriter { write(into: &$0) }
    }

    /// Writes the timestamp with a writer (a formatter's record session). The line keeps the
    /// text of the last second it wrote, so only the microseconds are new for most records.
    func write(into line: inout LogLine.Writer) {
        let storage = line.storage
        if storage.stampSecond != seconds {
            storage.stampPrefix = Self.prefix(seconds: seconds)
            storage.stampSecond = seconds
        }
        var prefix = storage.stampPrefix
        let out = UnsafeMutableRawPointer(line.reserve(27))
        withUnsafeBytes(of: &prefix) { LogLine.copyBytes(from: $0.baseAddress!, to: out, count: 20) }
        let micros = Int(UInt(bitPattern: microseconds) % 1_000_000)  // in range whatever the caller built
        LogLine.putSixDigits(micros, to: out + 20)
        out.storeBytes(of: UInt8(ascii: "Z"), toByteOffset: 26, as: UInt8.self)
        line.count &+= 27
    }

    /// `YYYY-MM-DDTHH:MM:SS.` of `seconds` since the epoch (20 bytes in 24).
    static func prefix(seconds: Int) -> (UInt64, UInt64, UInt64) {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secOfDay = seconds - days * 86400
        let (y, m, d) = Self.civil(days: days)
        var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &text) { t in
            func put(_ value: Int, at offset: Int, digits: Int) { LogLine.putDigits(value, digits, into: t, at: offset) }
            put(y, at: 0, digits: 4)
            t[4] = UInt8(ascii: "-")
            put(m, at: 5, digits: 2)
            t[7] = UInt8(ascii: "-")
            put(d, at: 8, digits: 2)
            t[10] = UInt8(ascii: "T")
            put(secOfDay / 3600, at: 11, digits: 2)
            t[13] = UInt8(ascii: ":")
            put(secOfDay / 60 % 60, at: 14, digits: 2)
            t[16] = UInt8(ascii: ":")
            put(secOfDay % 60, at: 17, digits: 2)
            t[19] = UInt8(ascii: ".")
        }
        return text
    }

    /// The RFC 3339 text.
    public var rfc3339: String {
        var line = LogLine(capacity: 27)
        write(into: &line)
        return String(decoding: line.bytes, as: UTF8.self)
    }
}
