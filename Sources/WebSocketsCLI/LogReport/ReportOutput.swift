import WebSocketCore
import WebSocketLogging

/// The report as a terminal table or as JSON (`--format json`: the keys of docs/LOGS-REPORT.md,
/// in that order).
extension LogReport {
    struct Summary {
        var count: Int
        var p50: Double?
        var p90: Double?
        var p99: Double?
        var max: Double?
    }

    func summary(_ d: Distribution) -> Summary {
        let n = d.histogram.total
        return Summary(count: n, p50: d.histogram.quantile(0.5).map { Swift.min($0, d.max) },
                       p90: d.histogram.quantile(0.9).map { Swift.min($0, d.max) },
                       p99: d.histogram.quantile(0.99).map { Swift.min($0, d.max) }, max: n > 0 ? d.max : nil)
    }

    static func closeName(_ code: String) -> String {
        guard let n = UInt16(code) else { return "" }
        return CloseCode(n).name
    }

    // MARK: table

    func table(top: Int) -> String {
        var out = ""
        func line(_ s: String = "") {
            var s = Substring(s)
            while s.last == " " { s.removeLast() }
            out += s + "\n"
        }
        func section(_ title: String) { line(); line(title) }
        func rows(_ counts: CappedCounts, _ label: (String) -> String = { $0 }) {
            let shown = counts.top(top)
            if shown.isEmpty { line("  (none)") }
            let width = shown.map { label($0.key).count }.max() ?? 0
            for (key, count) in shown { line("  " + pad(label(key), width) + "  " + String(count)) }
            let hidden = counts.count - shown.count
            if hidden > 0 { line("  … \(hidden) more") }
            if counts.other > 0 { line("  (other: \(counts.otherKeys) keys past the cap of \(counts.cap)) \(counts.other)") }
        }
        line("websockets logs: \(lines.total) lines, \(lines.json + lines.ecs) records (\(lines.json) JSON, \(lines.ecs) ECS), "
             + "\(lines.skipped) other lines skipped, \(lines.invalid) invalid or cut lines")
        if lines.outsideRange > 0 { line("  \(lines.outsideRange) records outside --since/--until") }
        if let first, let last {
            line("span: \(Timestamps.format(first)) to \(Timestamps.format(last)) (\(Self.seconds(last - first)))")
        } else {
            line("span: no records")
        }
        section("connections: \(opened) opened, \(closed) closed")
        section("close codes")
        let codes = closeCodes.top(top)
        if codes.isEmpty { line("  (none)") }
        let nameWidth = codes.map { Self.closeName($0.key).count }.max() ?? 0
        let countWidth = codes.map { String($0.count).count }.max() ?? 0
        for (code, count) in codes {
            let reasons = closeReasons[code]?.top(3).map { "\"\($0.key)\" \($0.count)" }.joined(separator: ", ") ?? ""
            line("  \(pad(code, 5)) \(pad(Self.closeName(code), nameWidth))  \(lpad(String(count), countWidth))" + (reasons.isEmpty ? "" : "  " + reasons))
        }
        section("initiators")
        rows(initiators)
        section("top remote addresses")
        rows(addresses)
        section("top paths (routes when present)")
        rows(paths)
        section("rejections (status kind)")
        rows(rejections)
        section("HTTP responses (status)")
        rows(httpResponses)
        section("warnings and errors (level event)")
        rows(problems)
        section("distributions            count        p50        p90        p99        max")
        for (name, s, unit) in [("connection duration", summary(connectionDuration), "s"), ("handshake duration", summary(handshakeDuration), "s"),
                                ("messages/connection", summary(messagesPerConnection), "")] {
            line("  " + pad(name, 20) + lpad(String(s.count), 9) + [s.p50, s.p90, s.p99, s.max].map { lpad(Self.number($0, unit), 11) }.joined())
        }
        section("server_stats: \(stats.count) windows" + (statsDropped > 0 ? " (\(statsDropped) more past the cap of \(Self.maxStatsPoints))" : ""))
        if !stats.isEmpty {
            line("  peak open \(stats.map(\.active).max() ?? 0), last open \(stats.last?.active ?? 0), opened \(stats.reduce(0) { $0 + $1.opened }), "
                 + "closed \(stats.reduce(0) { $0 + $1.closed }) (abnormal \(stats.reduce(0) { $0 + $1.abnormal })), rejected \(stats.reduce(0) { $0 + $1.rejected })")
        }
        return out
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    private func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }

    static func number(_ v: Double?, _ unit: String) -> String {
        guard let v else { return "-" }
        if unit == "s" { return seconds(v) }
        return v == v.rounded() ? String(Int(v)) : String(Int(v.rounded()))
    }

    static func seconds(_ v: Double) -> String {
        if v < 1e-3 { return "\(Int((v * 1e6).rounded()))µs" }
        if v < 1 { return "\(Int((v * 1e3).rounded()))ms" }
        if v < 120 { return "\((v * 10).rounded() / 10)s" }
        if v < 7_200 { return "\((v / 6).rounded() / 10)min" }
        return "\((v / 360).rounded() / 10)h"
    }

    // MARK: JSON

    func json(top: Int) -> String {
        var o = JSONOut()
        o.open()
        o.key("report_version"); o.int(1)
        o.key("lines"); o.open()
        for (k, v) in [("total", lines.total), ("json", lines.json), ("ecs", lines.ecs), ("skipped", lines.skipped),
                       ("invalid", lines.invalid), ("outside_range", lines.outsideRange)] { o.key(k); o.int(v) }
        o.close()
        o.key("span"); o.open()
        o.key("first"); first.map { o.string(Timestamps.format($0)) } ?? o.null()
        o.key("last"); last.map { o.string(Timestamps.format($0)) } ?? o.null()
        o.key("seconds"); if let first, let last { o.double(last - first) } else { o.null() }
        o.close()
        o.key("events"); counts(&o, events, top: Int.max, name: "event")
        o.key("connections"); o.open()
        o.key("opened"); o.int(opened)
        o.key("closed"); o.int(closed)
        o.key("initiators"); counts(&o, initiators, top: Int.max, name: "initiator")
        o.key("close_codes"); o.openArray()
        for (code, count) in closeCodes.top(top) {
            o.open()
            o.key("code"); o.int(Int(code) ?? 0)
            o.key("name"); o.string(Self.closeName(code))
            o.key("count"); o.int(count)
            o.key("reasons"); counts(&o, closeReasons[code] ?? CappedCounts(cap: 0), top: 5, name: "reason")
            o.close()
        }
        o.closeArray()
        o.key("remote_addresses"); counts(&o, addresses, top: top, name: "address")
        o.key("paths"); counts(&o, paths, top: top, name: "path")
        o.close()
        o.key("rejections"); counts(&o, rejections, top: top, name: "status_rejection")
        o.key("http_responses"); counts(&o, httpResponses, top: top, name: "status")
        o.key("warnings_errors"); counts(&o, problems, top: top, name: "level_event")
        o.key("distributions"); o.open()
        for (k, d) in [("connection_duration", connectionDuration), ("handshake_duration", handshakeDuration),
                       ("messages_per_connection", messagesPerConnection)] {
            let s = summary(d)
            o.key(k); o.open()
            o.key("count"); o.int(s.count)
            for (name, v) in [("p50", s.p50), ("p90", s.p90), ("p99", s.p99), ("max", s.max)] { o.key(name); v.map { o.double($0) } ?? o.null() }
            o.close()
        }
        o.close()
        o.key("server_stats"); o.open()
        o.key("windows"); o.int(stats.count)
        o.key("dropped"); o.int(statsDropped)
        o.key("series"); o.openArray()
        for p in stats {
            o.open()
            o.key("timestamp"); o.string(Timestamps.format(p.time))
            for (k, v) in [("connections_active", p.active), ("connections_opened", p.opened), ("connections_closed", p.closed),
                           ("closed_abnormal", p.abnormal), ("handshakes_rejected", p.rejected), ("messages_in", p.messagesIn),
                           ("messages_out", p.messagesOut)] { o.key(k); o.int(v) }
            o.key("window"); o.double(p.window)
            o.close()
        }
        o.closeArray()
        o.close()
        o.key("timeline"); o.open()
        o.key("bucket_seconds"); o.double(timeline.width)
        o.key("buckets"); o.openArray()
        for b in timeline.series {
            o.open()
            o.key("start"); o.string(Timestamps.format(b.start))
            o.key("opened"); o.int(b.opened)
            o.key("closed"); o.int(b.closed)
            o.close()
        }
        o.closeArray()
        o.close()
        o.close()
        return o.text + "\n"
    }

    /// `{"keys":[{NAME: key, "count": n}…], "more": hidden keys, "other": count past the cap, "other_keys": n}`.
    private func counts(_ o: inout JSONOut, _ c: CappedCounts, top: Int, name: String) {
        let shown = c.top(top)
        o.open()
        o.key("top"); o.openArray()
        for (key, count) in shown {
            o.open()
            o.key(name); o.string(key)
            o.key("count"); o.int(count)
            o.close()
        }
        o.closeArray()
        o.key("more_keys"); o.int(c.count - shown.count)
        o.key("other"); o.int(c.other)
        o.key("other_keys"); o.int(c.otherKeys)
        o.close()
    }
}

/// A JSON text, written in order.
struct JSONOut {
    private(set) var text = ""
    private var needsComma = false

    private mutating func comma() { if needsComma { text += "," } }
    mutating func open() { comma(); text += "{"; needsComma = false }
    mutating func close() { text += "}"; needsComma = true }
    mutating func openArray() { comma(); text += "["; needsComma = false }
    mutating func closeArray() { text += "]"; needsComma = true }
    mutating func key(_ k: String) { comma(); text += "\"\(k)\":"; needsComma = false }
    mutating func int(_ v: Int) { comma(); text += String(v); needsComma = true }
    mutating func double(_ v: Double) {
        comma()
        text += v.isFinite ? (v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)) : "null"
        needsComma = true
    }
    mutating func null() { comma(); text += "null"; needsComma = true }
    /// `s` quoted and escaped by the log formatters' own JSON writer.
    mutating func string(_ s: String) {
        comma()
        var line = LogLine(capacity: s.utf8.count + 2)
        line.append(jsonString: s)
        text += String(decoding: line.bytes, as: UTF8.self)
        needsComma = true
    }
}
