import WebSocketLogging

/// The report as one self-contained page (`--html FILE`): inline CSS and SVG charts drawn here,
/// no script and no network (a Content-Security-Policy forbids both). Every text from the log
/// (addresses, paths, reasons: what clients chose) is escaped.
extension LogReport {
    func html(top: Int) -> String {
        var body = "<h1>WebSocket log report</h1>\n"
        let span = first.flatMap { f in last.map { "\(Timestamps.format(f)) to \(Timestamps.format($0)) (\(Self.seconds($0 - f)))" } } ?? "no records"
        body += "<p class=\"lead\">\(lines.json + lines.ecs) records (\(lines.json) JSON, \(lines.ecs) ECS) of \(lines.total) lines; "
            + "\(lines.skipped) other lines skipped, \(lines.invalid) invalid or cut. Span: \(escape(span)).</p>\n"
        body += "<p class=\"lead\"><b>\(opened)</b> connections opened, <b>\(closed)</b> closed.</p>\n<div class=\"grid\">\n"

        let openSeries: [(Double, Double)]
        let openTitle: String
        if !stats.isEmpty {
            openSeries = stats.map { ($0.time, Double($0.active)) }
            openTitle = "Connections open (server_stats)"
        } else {
            var running = 0
            openSeries = timeline.series.map { bucket in
                running = max(0, running + bucket.opened - bucket.closed)
                return (bucket.start + timeline.width, Double(running))
            }
            openTitle = "Connections open (opens minus closes in this log)"
        }
        body += figure("open", openTitle, Self.lineChart(openSeries))
        let buckets = timeline.series
        body += figure("rate", "Opened and closed per " + (timeline.width == 60 ? "minute" : Self.seconds(timeline.width)),
                       Self.pairedColumns(buckets.map { (Timestamps.format($0.start), Double($0.opened), Double($0.closed)) }),
                       legend: "<span class=\"a\">■</span> opened <span class=\"b\">■</span> closed")
        body += figure("codes", "Close codes", Self.bars(closeCodes.top(top).map { ("\($0.key) \(Self.closeName($0.key))", Double($0.count)) }))
        let durationBuckets = connectionDuration.histogram.buckets
        body += figure("durations", "Connection duration", Self.columns(durationBuckets.map { ("≤ " + Self.seconds($0.upper), Double($0.count)) }))
        body += figure("addresses", "Top remote addresses (connections opened)", Self.bars(addresses.top(top).map { ($0.key, Double($0.count)) }))
        body += "</div>\n"

        body += section("Close codes", ["code", "name", "count", "reasons"], closeCodes.top(top).map { code, count in
            [code, Self.closeName(code), String(count),
             closeReasons[code]?.top(3).map { "\"\($0.key)\" \($0.count)" }.joined(separator: ", ") ?? ""]
        })
        body += section("Top paths (routes when present)", ["path", "connections"], paths.top(top).map { [$0.key, String($0.count)] })
        body += section("Initiators", ["initiator", "count"], initiators.top(top).map { [$0.key, String($0.count)] })
        body += section("Rejections", ["status kind", "count"], rejections.top(top).map { [$0.key, String($0.count)] })
        body += section("HTTP responses", ["status", "count"], httpResponses.top(top).map { [$0.key, String($0.count)] })
        body += section("Warnings and errors", ["level event", "count"], problems.top(top).map { [$0.key, String($0.count)] })
        body += section("Distributions", ["", "count", "p50", "p90", "p99", "max"],
                        [("connection duration", summary(connectionDuration), "s"), ("handshake duration", summary(handshakeDuration), "s"),
                         ("messages per connection", summary(messagesPerConnection), "")].map { name, s, unit in
                            [name, String(s.count)] + [s.p50, s.p90, s.p99, s.max].map { Self.number($0, unit) }
                        })
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>WebSocket log report</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff}
            h1{font-size:22px;margin:0 0 8px} h2{font-size:16px;margin:24px 0 8px}
            .lead{margin:4px 0;color:#3b4252}
            .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:16px;margin-top:16px}
            figure{margin:0;border:1px solid #d8dee9;border-radius:6px;padding:10px}
            figcaption{font-weight:600;margin-bottom:6px}
            svg{width:100%;height:auto;display:block} svg text{font-size:10px;fill:#4c566a}
            .mark.a,.a{fill:#3b82f6;color:#3b82f6} .mark.b,.b{fill:#f59e0b;color:#f59e0b}
            .mark.line{fill:none;stroke:#3b82f6;stroke-width:2} .axis{stroke:#aab2c0;stroke-width:1}
            .empty{fill:#8892a6;font-size:12px}
            table{border-collapse:collapse;margin:4px 0} td,th{border-bottom:1px solid #e5e9f0;padding:3px 10px;text-align:left}
            td:nth-child(n+2){font-variant-numeric:tabular-nums}
            </style></head><body>
            \(body)</body></html>

            """
    }

    private func figure(_ name: String, _ title: String, _ svg: String, legend: String = "") -> String {
        "<figure><figcaption>\(escape(title)) \(legend)</figcaption>\n<svg data-chart=\"\(name)\" viewBox=\"0 0 460 220\" role=\"img\" aria-label=\"\(escape(title))\">\(svg)</svg></figure>\n"
    }

    private func section(_ title: String, _ head: [String], _ rows: [[String]]) -> String {
        var out = "<h2>\(escape(title))</h2>\n"
        guard !rows.isEmpty else { return out + "<p>none</p>\n" }
        out += "<table><tr>" + head.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows { out += "<tr>" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }
        return out + "</table>\n"
    }

    // MARK: charts (a 460 × 220 view box; plot area x 50…450, y 10…180)

    private static let (left, right, top, bottom) = (50.0, 450.0, 10.0, 180.0)

    private static func empty() -> String { "<text class=\"empty\" x=\"230\" y=\"110\" text-anchor=\"middle\">no data</text>" }

    private static func fmt(_ v: Double) -> String { String((v * 10).rounded() / 10) }

    private static func axes(maxValue: Double) -> String {
        "<line class=\"axis\" x1=\"\(left)\" y1=\"\(bottom)\" x2=\"\(right)\" y2=\"\(bottom)\"/>"
            + "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(bottom)\"/>"
            + "<text x=\"\(left - 4)\" y=\"\(top + 8)\" text-anchor=\"end\">\(number(maxValue, ""))</text>"
            + "<text x=\"\(left - 4)\" y=\"\(bottom)\" text-anchor=\"end\">0</text>"
    }

    static func lineChart(_ points: [(Double, Double)]) -> String {
        guard let x0 = points.first?.0, let x1 = points.last?.0 else { return empty() }
        let maxY = max(1, points.map(\.1).max() ?? 1)
        let spanX = max(x1 - x0, 1)
        var path = ""
        for (i, (x, y)) in points.enumerated() {
            let px = left + (x - x0) / spanX * (right - left), py = bottom - y / maxY * (bottom - top)
            path += (i == 0 ? "M" : " L") + "\(fmt(px)) \(fmt(py))"
        }
        if points.count == 1 { path += " L\(fmt(right)) \(fmt(bottom - points[0].1 / maxY * (bottom - top)))" }
        return axes(maxValue: maxY) + "<path class=\"mark line\" d=\"\(path)\"/>"
            + "<text x=\"\(left)\" y=\"\(bottom + 14)\">\(Timestamps.format(x0))</text>"
            + "<text x=\"\(right)\" y=\"\(bottom + 14)\" text-anchor=\"end\">\(Timestamps.format(x1))</text>"
    }

    static func columns(_ items: [(String, Double)]) -> String {
        guard !items.isEmpty else { return empty() }
        let maxY = max(1, items.map(\.1).max() ?? 1)
        let step = min(48, (right - left) / Double(items.count))
        var out = axes(maxValue: maxY)
        for (i, (label, v)) in items.enumerated() {
            let h = v / maxY * (bottom - top)
            out += "<rect class=\"mark a\" x=\"\(fmt(left + Double(i) * step + step * 0.1))\" y=\"\(fmt(bottom - h))\" width=\"\(fmt(max(step * 0.8, 0.5)))\" height=\"\(fmt(max(h, 0.5)))\"><title>\(escape(label)): \(number(v, ""))</title></rect>"
        }
        out += "<text x=\"\(left)\" y=\"\(bottom + 14)\">\(escape(items[0].0))</text>"
        out += "<text x=\"\(fmt(left + step * Double(items.count)))\" y=\"\(bottom + 14)\" text-anchor=\"end\">\(escape(items[items.count - 1].0))</text>"
        return out
    }

    static func pairedColumns(_ items: [(String, Double, Double)]) -> String {
        guard !items.isEmpty else { return empty() }
        let maxY = max(1, items.map { max($0.1, $0.2) }.max() ?? 1)
        let step = min(48, (right - left) / Double(items.count))
        var out = axes(maxValue: maxY)
        for (i, (label, a, b)) in items.enumerated() {
            for (j, v, cls) in [(0.0, a, "a"), (1.0, b, "b")] {
                let h = v / maxY * (bottom - top)
                out += "<rect class=\"mark \(cls)\" x=\"\(fmt(left + Double(i) * step + step * (0.05 + 0.45 * j)))\" y=\"\(fmt(bottom - h))\" width=\"\(fmt(max(step * 0.42, 0.3)))\" height=\"\(fmt(max(h, 0.5)))\"><title>\(escape(label)) \(cls == "a" ? "opened" : "closed"): \(number(v, ""))</title></rect>"
            }
        }
        out += "<text x=\"\(left)\" y=\"\(bottom + 14)\">\(escape(items[0].0))</text>"
        out += "<text x=\"\(right)\" y=\"\(bottom + 14)\" text-anchor=\"end\">\(escape(items[items.count - 1].0))</text>"
        return out
    }

    static func bars(_ items: [(String, Double)]) -> String {
        guard !items.isEmpty else { return empty() }
        let shown = Array(items.prefix(12))
        let maxX = max(1, shown.map(\.1).max() ?? 1)
        let step = min(24, (bottom - top + 30) / Double(shown.count))
        var out = ""
        for (i, (label, v)) in shown.enumerated() {
            let y = top + Double(i) * step
            let w = v / maxX * (right - 200)
            let text = label.count > 24 ? String(label.prefix(23)) + "…" : label
            out += "<text x=\"148\" y=\"\(fmt(y + step * 0.6))\" text-anchor=\"end\">\(escape(text))</text>"
            out += "<rect class=\"mark a\" x=\"152\" y=\"\(fmt(y + step * 0.15))\" width=\"\(fmt(max(w, 0.5)))\" height=\"\(fmt(step * 0.7))\"><title>\(escape(label)): \(number(v, ""))</title></rect>"
            out += "<text x=\"\(fmt(156 + w))\" y=\"\(fmt(y + step * 0.6))\">\(number(v, ""))</text>"
        }
        return out
    }
}

/// Text made safe inside HTML elements and attribute values.
func escape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}
