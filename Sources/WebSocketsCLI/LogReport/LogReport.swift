import WebSocketLogging

/// What `websockets logs` learns from a log, one line at a time. Memory is bounded by the number
/// of distinct keys kept (``CappedCounts``: addresses, paths, reasons…, each capped; further keys
/// are counted together as `(other)`), by fixed histograms and by a capped series: never by the
/// log's size.
struct LogReport {
    struct Lines {
        var total = 0
        var json = 0
        var ecs = 0
        /// Lines that are not ours (a framework's text, another program's JSON): counted, skipped.
        var skipped = 0
        /// Lines that start like JSON but are not one complete object (cut mid-way): counted, skipped.
        var invalid = 0
        /// Records outside `--since`/`--until`.
        var outsideRange = 0
    }

    /// A value distribution: fixed buckets and the exact extremes.
    struct Distribution {
        var histogram: LogHistogram
        var max = 0.0

        init(minimum: Double) { histogram = LogHistogram(minimum: minimum) }

        mutating func record(_ value: Double) {
            guard value.isFinite, value >= 0 else { return }
            histogram.record(value)
            max = Swift.max(max, value)
        }
    }

    /// One `server_stats` window.
    struct StatsPoint {
        var time: Double
        var window: Double
        var active: Int
        var opened: Int
        var closed: Int
        var abnormal: Int
        var rejected: Int
        var messagesIn: Int
        var messagesOut: Int
    }

    var lines = Lines()
    var first: Double?
    var last: Double?
    var events = CappedCounts(cap: 200)
    var opened = 0
    var closed = 0
    var initiators = CappedCounts(cap: 16)
    var closeCodes = CappedCounts(cap: 1_000)
    /// Reasons per close code, each capped.
    var closeReasons: [String: CappedCounts] = [:]
    var addresses: CappedCounts
    var paths: CappedCounts
    var rejections = CappedCounts(cap: 1_000)
    var httpResponses = CappedCounts(cap: 1_000)
    var problems = CappedCounts(cap: 1_000)
    var connectionDuration = Distribution(minimum: 1e-6)
    var handshakeDuration = Distribution(minimum: 1e-6)
    var messagesPerConnection = Distribution(minimum: 1)
    var stats: [StatsPoint] = []
    var statsDropped = 0
    var timeline = Timeline()
    let since: Double?
    let until: Double?
    static let maxStatsPoints = 20_000

    init(since: Double?, until: Double?, maxKeys: Int) {
        self.since = since
        self.until = until
        addresses = CappedCounts(cap: maxKeys)
        paths = CappedCounts(cap: maxKeys)
    }

    /// Takes one line (without its newline).
    mutating func add(line: UnsafeBufferPointer<UInt8>, scanner: inout JSONLineScanner) {
        lines.total += 1
        var start = 0
        while start < line.count, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        guard start < line.count, line[start] == UInt8(ascii: "{") else { lines.skipped += 1; return }
        guard scanner.scan(line) else { lines.invalid += 1; return }
        if scanner.has(nil, "@timestamp"), scanner.has("event", "action") {
            ingest(scanner, ecs: true)
        } else if scanner.has(nil, "timestamp"), scanner.has(nil, "event"), scanner.has(nil, "level") {
            ingest(scanner, ecs: false)
        } else {
            lines.skipped += 1
        }
    }

    private mutating func ingest(_ s: JSONLineScanner, ecs: Bool) {
        guard let time = s.string(nil, ecs ? "@timestamp" : "timestamp").flatMap({ Timestamps.parse($0.utf8) }) else {
            lines.skipped += 1
            return
        }
        if let since, time < since { lines.outsideRange += 1; return }
        if let until, time >= until { lines.outsideRange += 1; return }
        if ecs { lines.ecs += 1 } else { lines.json += 1 }
        first = min(first ?? time, time)
        last = max(last ?? time, time)
        let event = (ecs ? s.string("event", "action") : s.string(nil, "event")) ?? "log"
        let level = (ecs ? s.string(nil, "log.level") : s.string(nil, "level")) ?? "info"
        events.add(event)
        if level == "warning" || level == "error" || level == "critical" { problems.add(level + " " + event) }
        let data: StaticString = ecs ? "websocket" : s.has(nil, "event_data") ? "event_data" : "fields"
        switch event {
        case "connection_open":
            opened += 1
            timeline.add(time, opened: 1, closed: 0)
            let address = ecs ? (s.string("client", "address") ?? s.string("source", "ip"))
                              : (s.string(data, "remote_addr") ?? s.string(data, "peer_addr"))
            addresses.add(address ?? "(unknown)")
            let route = s.string(data, "route")
            let path = route ?? (ecs ? s.string("url", "path") : s.string(data, "path").map(Self.withoutQuery))
            paths.add(path ?? "(unknown)")
            if let handshake = s.number(data, "handshake_duration") { handshakeDuration.record(handshake) }
        case "connection_closed":
            closed += 1
            timeline.add(time, opened: 0, closed: 1)
            let code = s.int(data, "close_code") ?? 1006
            closeCodes.add(String(code))
            let reason = s.string(data, "close_reason_received").flatMap { $0.isEmpty ? nil : $0 }
                ?? s.string(data, "close_reason_sent").flatMap { $0.isEmpty ? nil : $0 }
            if let reason, closeReasons.count < 1_000 || closeReasons[String(code)] != nil {
                closeReasons[String(code), default: CappedCounts(cap: 20)].add(reason)
            }
            initiators.add(s.string(data, "initiator") ?? "unknown")
            if let duration = s.number(data, "duration") { connectionDuration.record(duration) }
            messagesPerConnection.record(Double((s.int(data, "messages_in") ?? 0) + (s.int(data, "messages_out") ?? 0)))
        case "connection_rejected":
            rejections.add("\(s.int(data, "status") ?? 0) \(s.string(data, "rejection") ?? "unknown")")
        case "http_response_sent":
            httpResponses.add(String(s.int(data, "status") ?? 0))
        case "server_stats":
            let parent: StaticString = ecs ? "stats" : data
            guard stats.count < Self.maxStatsPoints else { statsDropped += 1; break }
            stats.append(StatsPoint(time: time, window: s.number(parent, "window") ?? 0, active: s.int(parent, "connections_active") ?? 0,
                                    opened: s.int(parent, "connections_opened") ?? 0, closed: s.int(parent, "connections_closed") ?? 0,
                                    abnormal: s.int(parent, "closed_abnormal") ?? 0, rejected: s.int(parent, "handshakes_rejected") ?? 0,
                                    messagesIn: s.int(parent, "messages_in") ?? 0, messagesOut: s.int(parent, "messages_out") ?? 0))
        default: break
        }
    }

    static func withoutQuery(_ target: String) -> String {
        guard let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target }
        return String(target[..<q])
    }
}

/// Counts per key, at most `cap` keys: a key first seen once the cap is reached is counted in
/// ``other`` (the report says how many), so a log of a million addresses stays small.
struct CappedCounts {
    let cap: Int
    private(set) var counts: [String: Int] = [:]
    private(set) var other = 0
    private(set) var otherKeys = 0

    init(cap: Int) { self.cap = cap }

    var count: Int { counts.count }
    var total: Int { counts.values.reduce(other, +) }

    mutating func add(_ key: String, _ n: Int = 1) {
        if let c = counts[key] { counts[key] = c + n; return }
        if counts.count < cap { counts[key] = n } else { other += n; otherKeys += 1 }
    }

    /// The `n` largest, largest first (ties by key).
    func top(_ n: Int) -> [(key: String, count: Int)] {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(n).map { ($0.key, $0.value) }
    }
}

/// Opens and closes per time bucket: one-minute buckets, widened (doubled) whenever the span
/// would need more than ``maxBuckets``, so any span fits in a fixed number.
struct Timeline {
    private(set) var width = 60.0
    private(set) var buckets: [Int: (opened: Int, closed: Int)] = [:]
    private var low = Int.max
    private var high = Int.min
    static let maxBuckets = 2_000

    mutating func add(_ time: Double, opened: Int, closed: Int) {
        let index = Int((time / width).rounded(.down))
        buckets[index, default: (0, 0)].opened += opened
        buckets[index, default: (0, 0)].closed += closed
        low = min(low, index)
        high = max(high, index)
        while high - low >= Self.maxBuckets { widen() }
    }

    private mutating func widen() {
        width *= 2
        var merged: [Int: (opened: Int, closed: Int)] = [:]
        for (i, v) in buckets {
            let j = i >= 0 ? i / 2 : (i - 1) / 2
            merged[j, default: (0, 0)].opened += v.opened
            merged[j, default: (0, 0)].closed += v.closed
        }
        buckets = merged
        low = low >= 0 ? low / 2 : (low - 1) / 2
        high = high >= 0 ? high / 2 : (high - 1) / 2
    }

    /// Every bucket from the first to the last (empty ones included), as (start, opened, closed).
    var series: [(start: Double, opened: Int, closed: Int)] {
        guard low <= high else { return [] }
        return (low...high).map { i in (Double(i) * width, buckets[i]?.opened ?? 0, buckets[i]?.closed ?? 0) }
    }
}
