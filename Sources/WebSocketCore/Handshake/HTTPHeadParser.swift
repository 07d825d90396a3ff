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
public struct HTTPHeadParser: Sendable {
    /// The limits enforced while parsing.
    public let limits: HTTPHeadLimits
    private var scanned = 0
    private var lines: [Substring] = []
    private var headLength = 0

    /// A parser enforcing `limits`.
    public init(limits: HTTPHeadLimits = .init()) {
        self.limits = limits
    }

    /// True until the first byte of a head arrives (or after a head was returned).
    public var isIdle: Bool { scanned == 0 && lines.isEmpty }

    /// Parses a request head. `nil` until the empty line arrives; consumes the head's bytes.
    public mutating func parseRequest(_ buffer: inout ByteBuffer) throws(HTTPHeadError) -> HTTPRequestHead? {
        guard let (start, headers) = try readHead(&buffer) else { return nil }
        let parts = start.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty,
              parts[0].utf8.allSatisfy(HTTPToken.isTokenChar) else {
            throw HTTPHeadError(kind: .malformedStartLine, reason: "malformed request line")
        }
        let version = try Self.version(parts[2])
        let head = HTTPRequestHead(version: version, method: HTTPMethod(rawValue: String(parts[0])), uri: String(parts[1]), headers: headers)
        if let length = headers.first(name: "Content-Length"), length.trimmingOWS() != "0" {
            throw HTTPHeadError(kind: .unexpectedBody, reason: "request body not supported in a WebSocket handshake")
        }
        if headers.contains(name: "Transfer-Encoding") {
            throw HTTPHeadError(kind: .unexpectedBody, reason: "request body not supported in a WebSocket handshake")
        }
        return head
    }

    /// Parses a response head. `nil` until the empty line arrives; consumes the head's bytes.
    public mutating func parseResponse(_ buffer: inout ByteBuffer) throws(HTTPHeadError) -> HTTPResponseHead? {
        guard let (start, headers) = try readHead(&buffer) else { return nil }
        let parts = start.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[1].utf8.count == 3, let code = UInt(parts[1]), (100...599).contains(code) else {
            throw HTTPHeadError(kind: .malformedStartLine, reason: "malformed status line")
        }
        let version = try Self.version(parts[0])
        let reason = parts.count == 3 ? String(parts[2]) : ""
        return HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: Int(code), reasonPhrase: reason), headers: headers)
    }

    static func version(_ s: Substring) throws(HTTPHeadError) -> HTTPVersion {
        let u = Array(s.utf8)
        guard u.count == 8, s.hasPrefix("HTTP/"), u[6] == UInt8(ascii: "."),
              (0x30...0x39).contains(u[5]), (0x30...0x39).contains(u[7]) else {
            throw HTTPHeadError(kind: .malformedStartLine, reason: "malformed HTTP version")
        }
        guard u[5] == UInt8(ascii: "1") else {
            throw HTTPHeadError(kind: .unsupportedVersion, reason: "only HTTP/1.x is supported")
        }
        return HTTPVersion(major: 1, minor: Int(u[7] - 0x30))
    }

    /// Collects lines until the empty line; enforces the limits as bytes arrive (a peer
    /// cannot make the parser buffer more than the limits allow).
    private mutating func readHead(_ buffer: inout ByteBuffer) throws(HTTPHeadError) -> (Substring, HTTPHeaders)? {
        let view = buffer.readableBytesView
        var lineStart = view.startIndex
        var i = view.startIndex + scanned
        // Resume where the previous call stopped: find complete lines.
        while i < view.endIndex {
            if view[i] == 0x0A {
                var end = i
                if end > lineStart && view[end - 1] == 0x0D { end -= 1 }
                let line = String(decoding: view[lineStart..<end], as: UTF8.self)
                if line.isEmpty {
                    if lines.isEmpty { lineStart = i + 1; i += 1; continue }  // tolerate leading empty lines (RFC 9112 §2.2)
                    let consumed = i + 1 - view.startIndex
                    buffer.moveReaderIndex(forwardBy: consumed)
                    defer { self = HTTPHeadParser(limits: limits) }
                    return (lines[0], try headers(lines.dropFirst()))
                }
                try checkLength(line.utf8.count, isStart: lines.isEmpty)
                lines.append(line[...])
                if lines.count - 1 > limits.maxHeaderCount {
                    throw HTTPHeadError(kind: .tooManyHeaders, reason: "too many header fields (limit \(limits.maxHeaderCount))")
                }
                lineStart = i + 1
            }
            i += 1
        }
        // An incomplete line: bounded by the limits too.
        try checkLength(view.endIndex - lineStart, isStart: lines.isEmpty)
        // Drop the complete lines we have copied; keep scanning from the partial one.
        buffer.moveReaderIndex(forwardBy: lineStart - view.startIndex)
        scanned = view.endIndex - lineStart
        return nil
    }

    private func checkLength(_ length: Int, isStart: Bool) throws(HTTPHeadError) {
        if isStart, length > limits.maxStartLineLength {
            throw HTTPHeadError(kind: .startLineTooLong, reason: "request line over \(limits.maxStartLineLength) bytes")
        }
        if !isStart, length > limits.maxHeaderLineLength {
            throw HTTPHeadError(kind: .headerLineTooLong, reason: "header line over \(limits.maxHeaderLineLength) bytes")
        }
    }

    private func headers(_ lines: ArraySlice<Substring>) throws(HTTPHeadError) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for line in lines {
            if line.first == " " || line.first == "\t" {
                throw HTTPHeadError(kind: .obsoleteLineFolding, reason: "obsolete line folding is not allowed")
            }
            guard let colon = line.firstIndex(of: ":") else {
                throw HTTPHeadError(kind: .malformedHeader, reason: "header line without a colon")
            }
            let name = line[..<colon]
            guard !name.isEmpty, name.utf8.allSatisfy(HTTPToken.isTokenChar) else {
                throw HTTPHeadError(kind: .malformedHeader, reason: "invalid header name")
            }
            let value = line[line.index(after: colon)...].trimmingOWS()
            guard !value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else {
                throw HTTPHeadError(kind: .malformedHeader, reason: "control character in header value")
            }
            headers.add(name: String(name), value: String(value))
        }
        return headers
    }
}
