import NIOHTTP1

/// An HTTP head kept for the life of a connection as one byte array (length-prefixed strings),
/// rebuilt on access: `HTTPHeaders` holds a string per name and value, most of them allocations
/// of their own, for heads that most connections never read again after the handshake.
struct PackedHead: Sendable {
    private let bytes: [UInt8]

    init(_ head: HTTPRequestHead) {
        bytes = Self.pack([head.method.rawValue, head.uri], version: head.version, head.headers)
    }

    init(_ head: HTTPResponseHead) {
        bytes = Self.pack([String(head.status.code), head.status.reasonPhrase], version: head.version, head.headers)
    }

    var request: HTTPRequestHead {
        var reader = Reader(bytes: bytes)
        let method = reader.string(), uri = reader.string(), version = reader.version()
        return HTTPRequestHead(version: version, method: HTTPMethod(rawValue: method), uri: uri, headers: reader.headers())
    }

    var response: HTTPResponseHead {
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
