#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1

/// Limits on an HTTP/1.1 head, with Python websockets' defaults.
public struct HTTPHeadLimits: Sendable, Hashable {
    /// Longest request or status line (→ 414 URI Too Long for requests). Default 8 KiB.
    public var maxStartLineLength: Int
    /// Longest header line (→ 431). Default 8 KiB.
    public var maxHeaderLineLength: Int
    /// Most header lines (→ 431). Default 128.
    public var maxHeaderCount: Int

    /// Creates limits; each parameter sets the property of the same name.
    public init(maxStartLineLength: Int = 8192, maxHeaderLineLength: Int = 8192, maxHeaderCount: Int = 128) {
        self.maxStartLineLength = maxStartLineLength
        self.maxHeaderLineLength = maxHeaderLineLength
        self.maxHeaderCount = maxHeaderCount
    }
}

/// Why an HTTP head could not be parsed; ``status`` is the response a server sends.
public struct HTTPHeadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong with the head.
    public enum Kind: String, Sendable, Hashable {
        case startLineTooLong = "start_line_too_long"
        case headerLineTooLong = "header_line_too_long"
        case tooManyHeaders = "too_many_headers"
        case malformedStartLine = "malformed_start_line"
        case malformedHeader = "malformed_header"
        case obsoleteLineFolding = "obsolete_line_folding"
        case unsupportedVersion = "unsupported_version"
        case unexpectedBody = "unexpected_body"
    }

    /// What was wrong.
    public var kind: Kind
    /// The explanation sent in the response body and logged.
    public var reason: String

    /// 414 for a long request line, 431 for header limits, 505 for a version other than 1.x,
    /// 400 otherwise.
    public var status: HTTPResponseStatus {
        switch kind {
        case .startLineTooLong: .uriTooLong
        case .headerLineTooLong, .tooManyHeaders: .requestHeaderFieldsTooLarge
        case .unsupportedVersion: .httpVersionNotSupported
        default: .badRequest
        }
    }

    /// The rejection a server sends for this error.
    public var rejection: HandshakeRejection {
        HandshakeRejection(kind: .invalidRequest, status: status, reason: reason)
    }

    public var description: String { reason }
}

/// An incremental parser for one HTTP/1.1 request head (server) or response head (client):
/// start line, header lines, empty line (RFC 9112 §2–5). Bytes after the head (frames sent right
/// behind it) are left in the buffer.
///
/// Stricter than a general HTTP parser where the WebSocket handshake allows it: obsolete line
/// folding and whitespace before the colon are rejected (RFC 9112 §5.1–5.2), and a request with
/// a body is refused. A bare LF is accepted as a line end, as RFC 9112 §2.2 permits.
///
/// Works on the buffer's bytes: while the head arrives it only scans for line ends and checks
/// the limits (the head stays in the caller's buffer, which the limits bound); once the empty
/// line is there it parses the lines in one pass, making a `String` only for each name and value.
public struct HTTPHeadParser: Sendable {
    /// The limits enforced while parsing.
    public let limits: HTTPHeadLimits
    /// Readable bytes already scanned for line ends.
    private var scanned = 0
    /// Where the line being scanned starts, counted from the reader index.
    private var lineStart = 0
    /// Complete lines of this head so far, the start line included.
    private var lineCount = 0

    /// A parser enforcing `limits`.
    public init(limits: HTTPHeadLimits = .init()) {
        self.limits = limits
    }

    /// True until the first byte of a head arrives (or after a head was returned).
    public var isIdle: Bool { scanned == 0 && lineCount == 0 }

    /// Parses a request head. `nil` until the empty line arrives; consumes the head's bytes.
    public mutating func parseRequest(_ buffer: inout ByteBuffer) throws(HTTPHeadError) -> HTTPRequestHead? {
        guard let length = try scan(&buffer) else { return nil }
        let parsed = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(HTTPHeadError) -> HTTPRequestHead in
                let head = UnsafeRawBufferPointer(rebasing: bytes[..<length])
                let (start, fields) = try Self.lines(head)
                return try Self.request(UnsafeRawBufferPointer(rebasing: head[start]), fields)
            }
        }
        buffer.moveReaderIndex(forwardBy: length)
        self = HTTPHeadParser(limits: limits)
        return try parsed.get()
    }

    /// Parses a response head. `nil` until the empty line arrives; consumes the head's bytes.
    public mutating func parseResponse(_ buffer: inout ByteBuffer) throws(HTTPHeadError) -> HTTPResponseHead? {
        guard let length = try scan(&buffer) else { return nil }
        let parsed = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(HTTPHeadError) -> HTTPResponseHead in
                let head = UnsafeRawBufferPointer(rebasing: bytes[..<length])
                let (start, fields) = try Self.lines(head)
                return try Self.response(UnsafeRawBufferPointer(rebasing: head[start]), fields.headers)
            }
        }
        buffer.moveReaderIndex(forwardBy: length)
        self = HTTPHeadParser(limits: limits)
        return try parsed.get()
    }

    /// Looks for the empty line that ends the head, from where the previous call stopped, and
    /// enforces the limits as bytes arrive (a peer cannot make anyone buffer more than the limits
    /// allow). Empty lines before the start line are consumed (RFC 9112 §2.2). Returns the head's
    /// length, its empty line included, once it is complete.
    private mutating func scan(_ buffer: inout ByteBuffer) throws(HTTPHeadError) -> Int? {
        var leading = 0  // bytes of empty lines before the start line
        let outcome: Result<Int?, HTTPHeadError> = buffer.withUnsafeReadableBytes { bytes in
            var i = scanned
            while i < bytes.count {
                guard let lf = Self.index(of: 0x0A, in: bytes, from: i) else { break }
                let end = lf > lineStart && bytes[lf - 1] == 0x0D ? lf - 1 : lf
                let length = end - lineStart
                i = lf + 1
                if length == 0 {
                    if lineCount == 0 { leading = i; lineStart = i; continue }
                    return .success(i)
                }
                if let error = limitError(length, isStart: lineCount == 0) { return .failure(error) }
                lineCount += 1
                if lineCount - 1 > limits.maxHeaderCount {
                    return .failure(HTTPHeadError(kind: .tooManyHeaders,
                                                  reason: "too many header fields (limit \(limits.maxHeaderCount))"))
                }
                lineStart = i
            }
            // An incomplete line: bounded by the limits too.
            if let error = limitError(bytes.count - lineStart, isStart: lineCount == 0) { return .failure(error) }
            scanned = bytes.count
            return .success(nil)
        }
        switch outcome {
        case .failure(let error): throw error
        case .success(let length?):
            buffer.moveReaderIndex(forwardBy: leading)
            return length - leading
        case .success(nil):
            buffer.moveReaderIndex(forwardBy: leading)
            scanned -= leading
            lineStart -= leading
            return nil
        }
    }

    private func limitError(_ length: Int, isStart: Bool) -> HTTPHeadError? {
        if isStart, length > limits.maxStartLineLength {
            return HTTPHeadError(kind: .startLineTooLong, reason: "request line over \(limits.maxStartLineLength) bytes")
        }
        if !isStart, length > limits.maxHeaderLineLength {
            return HTTPHeadError(kind: .headerLineTooLong, reason: "header line over \(limits.maxHeaderLineLength) bytes")
        }
        return nil
    }

    private static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from: Int, to: Int? = nil) -> Int? {
        let end = to ?? bytes.count
        guard from < end, let found = memchr(bytes.baseAddress! + from, Int32(byte), end - from) else { return nil }
        return UnsafeRawPointer(found) - bytes.baseAddress!
    }

    /// What the header lines said besides the headers: whether the request announces a body.
    struct Fields {
        var headers = HTTPHeaders()
        var announcesBody = false
    }

    /// Splits a complete head (its empty line included) into the start line's range and the
    /// parsed header fields. The header lines are checked before the start line, as always.
    private static func lines(_ head: UnsafeRawBufferPointer) throws(HTTPHeadError) -> (Range<Int>, Fields) {
        var start: Range<Int>?
        var fields = Fields()
        var sawContentLength = false
        var lineStart = 0
        while let lf = index(of: 0x0A, in: head, from: lineStart) {
            let end = lf > lineStart && head[lf - 1] == 0x0D ? lf - 1 : lf
            defer { lineStart = lf + 1 }
            guard end > lineStart else { break }  // the empty line
            guard start != nil else { start = lineStart..<end; continue }
            let line = UnsafeRawBufferPointer(rebasing: head[lineStart..<end])
            if line[0] == 0x20 || line[0] == 0x09 {
                throw HTTPHeadError(kind: .obsoleteLineFolding, reason: "obsolete line folding is not allowed")
            }
            guard let colon = index(of: UInt8(ascii: ":"), in: line, from: 0) else {
                throw HTTPHeadError(kind: .malformedHeader, reason: "header line without a colon")
            }
            let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
            guard !name.isEmpty, name.allSatisfy(HTTPToken.isTokenChar) else {
                throw HTTPHeadError(kind: .malformedHeader, reason: "invalid header name")
            }
            var valueStart = colon + 1, valueEnd = line.count
            while valueStart < valueEnd, line[valueStart] == 0x20 || line[valueStart] == 0x09 { valueStart += 1 }
            while valueEnd > valueStart, line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
            guard !value.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else {
                throw HTTPHeadError(kind: .malformedHeader, reason: "control character in header value")
            }
            if equalsIgnoringCase(name, "content-length") {
                // The first Content-Length decides, as `HTTPHeaders.first(name:)` would.
                if !sawContentLength { fields.announcesBody = fields.announcesBody || !(value.count == 1 && value[0] == 0x30) }
                sawContentLength = true
            } else if equalsIgnoringCase(name, "transfer-encoding") {
                fields.announcesBody = true
            }
            fields.headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }
        return (start ?? 0..<0, fields)
    }

    /// `name` equals the lowercase ASCII `lower`, ignoring case.
    private static func equalsIgnoringCase(_ name: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        guard name.count == lower.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount)
        for i in 0..<name.count where name[i] | 0x20 != expected[i] { return false }
        return true
    }

    private static func request(_ line: UnsafeRawBufferPointer, _ fields: Fields) throws(HTTPHeadError) -> HTTPRequestHead {
        // Exactly two spaces: method SP request-target SP version (RFC 9112 §3).
        guard let sp1 = index(of: 0x20, in: line, from: 0),
              let sp2 = index(of: 0x20, in: line, from: sp1 + 1),
              index(of: 0x20, in: line, from: sp2 + 1) == nil,
              sp1 > 0, sp2 > sp1 + 1,
              line[..<sp1].allSatisfy(HTTPToken.isTokenChar) else {
            throw HTTPHeadError(kind: .malformedStartLine, reason: "malformed request line")
        }
        let version = try version(UnsafeRawBufferPointer(rebasing: line[(sp2 + 1)...]))
        let method = UnsafeRawBufferPointer(rebasing: line[..<sp1])
        let isGET = method.count == 3 && method[0] == 0x47 && method[1] == 0x45 && method[2] == 0x54
        // Kept byte for byte: repairing invalid UTF-8 would change the path a route sees (and
        // could lengthen it past the start-line limit).
        let target = UnsafeRawBufferPointer(rebasing: line[(sp1 + 1)..<sp2])
        guard !target.contains(where: { $0 < 0x21 || $0 == 0x7F }), let uri = String(validating: target, as: UTF8.self) else {
            throw HTTPHeadError(kind: .malformedStartLine, reason: "request target with a control character or invalid UTF-8")
        }
        let head = HTTPRequestHead(version: version,
                                   method: isGET ? .GET : HTTPMethod(rawValue: String(decoding: method, as: UTF8.self)),
                                   uri: uri, headers: fields.headers)
        if fields.announcesBody {
            throw HTTPHeadError(kind: .unexpectedBody, reason: "request body not supported in a WebSocket handshake")
        }
        return head
    }

    private static func response(_ line: UnsafeRawBufferPointer, _ headers: HTTPHeaders) throws(HTTPHeadError) -> HTTPResponseHead {
        // version SP 3DIGIT [SP reason] (RFC 9112 §4).
        let sp1 = index(of: 0x20, in: line, from: 0) ?? line.count
        let codeEnd = index(of: 0x20, in: line, from: sp1 + 1) ?? line.count
        let digits = sp1 < line.count ? UnsafeRawBufferPointer(rebasing: line[(sp1 + 1)..<codeEnd]) : UnsafeRawBufferPointer(start: nil, count: 0)
        guard digits.count == 3, digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw HTTPHeadError(kind: .malformedStartLine, reason: "malformed status line")
        }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard (100...599).contains(code) else {
            throw HTTPHeadError(kind: .malformedStartLine, reason: "malformed status line")
        }
        let version = try version(UnsafeRawBufferPointer(rebasing: line[..<sp1]))
        let reason = codeEnd < line.count ? String(decoding: UnsafeRawBufferPointer(rebasing: line[(codeEnd + 1)...]), as: UTF8.self) : ""
        return HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: code, reasonPhrase: reason), headers: headers)
    }

    static func version(_ u: UnsafeRawBufferPointer) throws(HTTPHeadError) -> HTTPVersion {
        guard u.count == 8, u.starts(with: "HTTP/".utf8), u[6] == UInt8(ascii: "."),
              (0x30...0x39).contains(u[5]), (0x30...0x39).contains(u[7]) else {
            throw HTTPHeadError(kind: .malformedStartLine, reason: "malformed HTTP version")
        }
        guard u[5] == UInt8(ascii: "1") else {
            throw HTTPHeadError(kind: .unsupportedVersion, reason: "only HTTP/1.x is supported")
        }
        return HTTPVersion(major: 1, minor: Int(u[7] - 0x30))
    }
}

extension HTTPHeadLimits {
    /// The limits checked on a request head another HTTP server parsed (a mounted upgrader's):
    /// the same errors, and so the same 414 and 431, as ``HTTPHeadParser`` gives while parsing.
    /// Line lengths are counted as they were sent: `NAME: VALUE` and `METHOD TARGET HTTP/1.1`.
    package func check(_ head: HTTPRequestHead) -> HTTPHeadError? {
        let startLine = head.method.rawValue.utf8.count + 1 + head.uri.utf8.count + " HTTP/1.1".utf8.count
        if startLine > maxStartLineLength {
            return HTTPHeadError(kind: .startLineTooLong, reason: "request line over \(maxStartLineLength) bytes")
        }
        if head.headers.count > maxHeaderCount {
            return HTTPHeadError(kind: .tooManyHeaders, reason: "too many header fields (limit \(maxHeaderCount))")
        }
        for (name, value) in head.headers where name.utf8.count + 2 + value.utf8.count > maxHeaderLineLength {
            return HTTPHeadError(kind: .headerLineTooLong, reason: "header line over \(maxHeaderLineLength) bytes")
        }
        return nil
    }
}
