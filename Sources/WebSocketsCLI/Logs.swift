#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

/// `websockets logs [FILE|-]`: what happened in a log this library wrote, in a terminal, as
/// JSON, or as a page with charts.
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise a log of JSON or ECS lines: connections, close codes, addresses, paths, rejections, warnings, durations, server_stats.",
        discussion: """
            Reads the file (or standard input: -) one line at a time: JSON and ECS lines are detected per line; other \
            lines (a framework's text) and lines cut mid-way are counted and skipped. Memory is bounded by --max-keys \
            distinct keys per table (further keys are counted as "other"), not by the size of the log.
            """)

    @Argument(help: "The log file, or - for standard input.") var file = "-"
    @Option(help: "Only records at or after this UTC time (2026-12-07, 2026-12-07T21:00, 2026-12-07T21:00:00.5Z).") var since: String?
    @Option(help: "Only records before this UTC time.") var until: String?
    @Option(help: "table (for a terminal) or json (stable keys, see docs/LOGS-REPORT.md).") var format: ReportFormat = .table
    @Option(parsing: .unconditional, help: "Rows per table (at least 1).") var top = 10
    @Option(help: "Also write a self-contained HTML page with charts to this file.") var html: String?
    @Option(parsing: .unconditional, help: "Distinct addresses or paths kept, each (at least 1); further ones are counted as other.")
    var maxKeys = 10_000

    enum ReportFormat: String, ExpressibleByArgument {
        case table, json
    }

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1, not \(top)") }
        guard maxKeys >= 1 else { throw ValidationError("--max-keys must be at least 1, not \(maxKeys)") }
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, Timestamps.parse(value.utf8) == nil {
                throw ValidationError("\(name) \(value): not a time; write it as 2026-12-07, 2026-12-07T21:00 or 2026-12-07T21:00:00Z (UTC)")
            }
        }
    }

    func run() throws {
        let fd: Int32
        if file == "-" {
            fd = 0
        } else {
            fd = open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CommandError("logs \(file): cannot open: \(errnoText(errno))") }
        }
        defer { if fd != 0 { close(fd) } }
        var report = LogReport(since: since.flatMap { Timestamps.parse($0.utf8) }, until: until.flatMap { Timestamps.parse($0.utf8) },
                               maxKeys: maxKeys)
        try Self.readLines(fd: fd, name: file == "-" ? "standard input" : file) { line, scanner in
            report.add(line: line, scanner: &scanner)
        } tooLong: {
            report.lines.total += 1
            report.lines.invalid += 1
        }
        if let html {
            let page = report.html(top: top)
            let out = open(html, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard out >= 0 else { throw CommandError("--html \(html): cannot write: \(errnoText(errno))") }
            defer { close(out) }
            guard Self.writeAll(out, page) else { throw CommandError("--html \(html): cannot write: \(errnoText(errno))") }
        }
        let text = format == .json ? report.json(top: top) : report.table(top: top)
        _ = Self.writeAll(1, text)
    }

    static let maxLine = 1 << 20

    /// Calls `body` with each line of `fd` (without its newline; the last one even without),
    /// reading 1 MiB at a time; a line longer than 1 MiB is skipped (`tooLong`), never held.
    static func readLines(fd: Int32, name: String, _ body: (UnsafeBufferPointer<UInt8>, inout JSONLineScanner) -> Void,
                          tooLong: () -> Void) throws {
        var scanner = JSONLineScanner()
        let chunk = 1 << 20
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk + maxLine)
        defer { buffer.deallocate() }
        var held = 0  // bytes of an unfinished line at the start of buffer
        var skipping = false  // inside a line too long to keep
        while true {
            let n = read(fd, buffer + held, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw CommandError("logs \(name): cannot read: \(errnoText(errno))")
            }
            if n == 0 { break }
            let end = held + n
            var start = 0
            while start < end {
                guard let nl = memchr(buffer + start, 0x0A, end - start) else { break }
                let at = UnsafeMutablePointer<UInt8>(nl.assumingMemoryBound(to: UInt8.self)) - buffer
                if skipping { skipping = false } else { body(UnsafeBufferPointer(start: buffer + start, count: at - start), &scanner) }
                start = at + 1
            }
            held = end - start
            if held > maxLine || skipping {
                if !skipping { tooLong() }
                skipping = true
                held = 0
            } else if held > 0 && start > 0 {
                memmove(buffer, buffer + start, held)
            }
        }
        if held > 0 && !skipping { body(UnsafeBufferPointer(start: buffer, count: held), &scanner) }
    }

    static func writeAll(_ fd: Int32, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 { if errno == EINTR { continue }; return false }
                done += n
            }
            return true
        }
    }
}
