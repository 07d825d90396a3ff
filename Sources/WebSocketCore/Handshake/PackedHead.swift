import NIOHTTP1

/// An HTTP head (or its headers alone) kept for the life of a connection as one byte array of
/// length-prefixed strings, rebuilt on access: `HTTPHeaders` holds a string per name and value,
/// most of them allocations of their own, for heads that most connections never read again
/// after the handshake.
package struct PackedHead: Sendable {
    private let bytes: [UInt8]

    /// A request head; `withHeaders: false` keeps its start line only (the headers are kept elsewhere).
    package init(_ head: HTTPRequestHead, withHeaders: Bool = true) {
        bytes = Self.pack([head.method.rawValue, head.uri], version: head.version, withHeaders ? head.headers : [:])
    }

    package init(_ head: HTTPResponseHead) {
        bytes = Self.pack([String(head.status.code), head.status.reasonPhrase], version: head.version, head.headers)
    }

    /// Headers alone.
    package init(headers: HTTPHeaders) {
        bytes = Self.pack(["", ""], version: HTTPVersion(major: 0, minor: 0), headers)
    }

    /// The headers (of any form).
    package var headers: HTTPHeaders {
        var reader = Reader(bytes: bytes)
        reader.skipStartLine()
        return reader.headers()
    }

    /// The values of header `name` (compared case-insensitively, as `HTTPHeaders` does), in
    /// order, without rebuilding the others.
    package func values(of name: String) -> [String] {
        var reader = Reader(bytes: bytes)
        reader.skipStartLine()
        var found: [String] = []
        while reader.hasMore {
            let matches = reader.nextNameMatches(name)
            let value = reader.string()
            if matches { found.append(value) }
        }
        return found
    }

    package var request: HTTPRequestHead {
        var reader = Reader(bytes: bytes)
        let method = reader.string(), uri = reader.string(), version = reader.version()
        return HTTPRequestHead(version: version, method: HTTPMethod(rawValue: method), uri: uri, headers: reader.headers())
    }

    package var response: HTTPResponseHead {
        var reader = Reader(bytes: bytes)
        let code = Int(reader.string()) ?? 0, reason = reader.string(), version = reader.version()
        return HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: code, reasonPhrase: reason),
                                headers: reader.headers())
    }

    private static func pack(_ line: [String], version: HTTPVersion, _ headers: HTTPHeaders) -> [UInt8] {
        var size = 0
        func count(_ s: String) { size += s.utf8.count + lengthSize(s.utf8.count) }
        line.forEach(count)
        size += lengthSize(version.major) + lengthSize(version.minor)
        for (name, value) in headers { count(name); count(value) }
        var out = [UInt8]()
        out.reserveCapacity(size)  // exactly: the array lives as long as the connection
        func write(_ n: Int) {
            var n = n
            while n >= 0x80 { out.append(UInt8(n & 0x7F) | 0x80); n >>= 7 }
            out.append(UInt8(n))
        }
        func write(_ s: String) { write(s.utf8.count); out.append(contentsOf: s.utf8) }
        line.forEach(write)
        write(version.major)
        write(version.minor)
        for (name, value) in headers { write(name); write(value) }
        return out
    }

    private static func lengthSize(_ n: Int) -> Int {
        var n = n, size = 1
        while n >= 0x80 { n >>= 7; size += 1 }
        return size
    }

    private struct Reader {
        let bytes: [UInt8]
        var at = 0

        mutating func int() -> Int {
            var n = 0, shift = 0
            while at < bytes.count {
                let b = bytes[at]
                at += 1
                n |= Int(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            return n
        }

        mutating func string() -> String {
            let n = int()
            defer { at += n }
            return String(decoding: bytes[at..<at + n], as: UTF8.self)
        }

        var hasMore: Bool { at < bytes.count }

        mutating func skipStartLine() {
            for _ in 0..<2 { at += int() }
            _ = int()
            _ = int()
        }

        /// Reads a name: whether it equals `name` in ASCII case-insensitively.
        mutating func nextNameMatches(_ name: String) -> Bool {
            let n = int()
            defer { at += n }
            guard n == name.utf8.count else { return false }
            func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
            var i = at
            for c in name.utf8 {
                if lower(bytes[i]) != lower(c) { return false }
                i += 1
            }
            return true
        }

        mutating func version() -> HTTPVersion {
            let major = int()
            return HTTPVersion(major: major, minor: int())
        }

        mutating func headers() -> HTTPHeaders {
            var pairs: [(String, String)] = []
            while at < bytes.count {
                let name = string()
                pairs.append((name, string()))
            }
            return HTTPHeaders(pairs)
        }
    }
}
