import WebSocketLogging

/// RFC 3339 timestamps as the formatters write them (`2026-12-07T21:08:44.020068Z`) and as
/// `--since`/`--until` take them, to seconds since the epoch (UTC).
enum Timestamps {
    /// Seconds since 1970 of `YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|±HH:MM]` (a space may stand for `T`).
    static func parse(_ bytes: some Collection<UInt8>) -> Double? {
        let b = Array(bytes.prefix(40))
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        guard let year = digits(0, 4), b.count >= 10, b[4] == UInt8(ascii: "-"), let month = digits(5, 2),
              b[7] == UInt8(ascii: "-"), let day = digits(8, 2), (1...12).contains(month), (1...31).contains(day) else { return nil }
        var seconds = Double(daysFromCivil(year, month, day)) * 86_400
        var i = 10
        if i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " ") {
            guard let hour = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let minute = digits(i + 4, 2),
                  hour < 24, minute < 60 else { return nil }
            seconds += Double(hour * 3600 + minute * 60)
            i += 6
            if i < b.count, b[i] == UInt8(ascii: ":") {
                guard let second = digits(i + 1, 2), second < 61 else { return nil }
                seconds += Double(second)
                i += 3
                if i < b.count, b[i] == UInt8(ascii: ".") {
                    i += 1
                    var scale = 0.1
                    while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                        seconds += Double(b[i] - 0x30) * scale
                        scale /= 10
                        i += 1
                    }
                }
            }
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                guard let oh = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let om = digits(i + 4, 2) else { return nil }
                let offset = Double(oh * 3600 + om * 60)
                seconds += b[i] == UInt8(ascii: "+") ? -offset : offset
                i += 6
            } else if i < b.count, b[i] == UInt8(ascii: "Z") {
                i += 1
            }
        }
        return i == b.count ? seconds : nil
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `2026-12-07T21:08:00Z`: a whole-second UTC time, for bucket starts.
    static func format(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.down))
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let secs = total - days * 86_400
        let (y, m, d) = LogTimestamp.civil(days: days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))Z"
    }
}
