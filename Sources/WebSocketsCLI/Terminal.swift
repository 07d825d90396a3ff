#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore

/// Control characters escaped so a peer cannot drive the terminal (as `python -m websockets`).
func escapeControlCharacters(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
            out += "\\x" + String(format: "%02x", scalar.value)
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// Standard input's lines, read on a thread of their own.
func stdinLines() -> AsyncStream<String> {
    AsyncStream { continuation in
        let thread = Thread {
            while let line = readLine(strippingNewline: true) { continuation.yield(line) }
            continuation.finish()
        }
        thread.start()
    }
}

/// The CPUs this process may run on (its affinity mask): NIO's core count follows cgroup
/// limits but not `taskset`, and more event loop threads than CPUs only adds context switches.
func availableCPUs() -> Int {
    // /proc/self/status: "Cpus_allowed:\tff,ffffffff" (a hex mask, comma-separated words).
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else {
        return System.coreCount
    }
    let mask = line.dropFirst("Cpus_allowed:".count).filter(\.isHexDigit)
    let count = mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
    return count > 0 ? min(count, System.coreCount) : System.coreCount
}

/// Fails with the file and the reason when `path` cannot be read (before a TLS library's
/// error without either).
func requireReadable(_ path: String, what: String, option: String) throws {
    if access(path, R_OK) != 0 {
        throw CommandError("\(option) \(path): cannot read the \(what): \(errnoText(errno))")
    }
}

/// Writes to a descriptor without going through stdio (whose globals are not concurrency-safe).
func writeOutput(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}

/// `strerror` of an errno, lowercased like the rest of the command's messages.
func errnoText(_ code: Int32) -> String { String(cString: strerror(code)).lowercased() }
