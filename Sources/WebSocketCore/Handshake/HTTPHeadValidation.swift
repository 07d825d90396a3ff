import NIOHTTP1

/// A head that cannot be written as HTTP/1.1: which part is wrong and why. A CR or LF in a
/// value would end the line early and let the value's author add header lines of their own
/// (header injection), a NUL is refused by most peers, and a header name must be a token.
///
/// The check runs over the UTF-8 bytes: in Swift `"\r\n"` is one `Character`, so a check over
/// `Character`s would never see the pair.
package struct InvalidHTTPHead: Error, Hashable, Sendable, CustomStringConvertible {
    /// The part of the head that is wrong.
    package enum Part: String, Hashable, Sendable {
        case method
        case target = "request target"
        case reasonPhrase = "reason phrase"
        case headerName = "header name"
        case headerValue = "header value"
    }

    /// The part of the head that is wrong.
    package var part: Part
    /// The header's name for ``Part/headerName`` and ``Part/headerValue`` (escaped for display).
    package var header: String?
    /// What is wrong, in words (`contains CR (0x0D)`).
    package var problem: String

    /// Creates an error.
    package init(part: Part, header: String? = nil, problem: String) {
        self.part = part
        self.header = header
        self.problem = problem
    }

    /// `header value of X-Custom contains CR (0x0D)`.
    package var description: String {
        if let header { return "\(part.rawValue) of \(header) \(problem)" }
        return "\(part.rawValue) \(problem)"
    }
}

/// The rules for writing an HTTP/1.1 head (RFC 9110 §5.1, §5.5; RFC 9112 §3, §4): names and
/// methods are tokens; values, reason phrases and targets contain no CR, LF or NUL (a target
/// no space either: it would split the request line). Nothing is rewritten: a head that breaks
/// a rule is refused whole.
package enum HTTPHeadValidation {
    /// Checks every field of a request head.
    package static func validate(_ head: HTTPRequestHead) throws(InvalidHTTPHead) {
        if let problem = tokenProblem(head.method.rawValue) { throw InvalidHTTPHead(part: .method, problem: problem) }
        if head.uri.utf8.isEmpty { throw InvalidHTTPHead(part: .target, problem: "is empty") }
        if let problem = forbiddenByte(in: head.uri, alsoSpace: true) { throw InvalidHTTPHead(part: .target, problem: problem) }
        try validate(head.headers)
    }

    /// Checks every field of a response head.
    package static func validate(_ head: HTTPResponseHead) throws(InvalidHTTPHead) {
        if let problem = forbiddenByte(in: head.status.reasonPhrase, alsoSpace: false) {
            throw InvalidHTTPHead(part: .reasonPhrase, problem: problem)
        }
        try validate(head.headers)
    }

    /// Checks header names (tokens) and values (no CR, LF or NUL).
    package static func validate(_ headers: HTTPHeaders) throws(InvalidHTTPHead) {
        for (name, value) in headers {
            if let problem = tokenProblem(name) { throw InvalidHTTPHead(part: .headerName, header: display(name), problem: problem) }
            if let problem = forbiddenByte(in: value, alsoSpace: false) {
                throw InvalidHTTPHead(part: .headerValue, header: name, problem: problem)
            }
        }
    }

    /// Why `name` is not a token (RFC 9110 §5.6.2), or nil.
    package static func tokenProblem(_ name: String) -> String? {
        if name.utf8.isEmpty { return "is empty" }
        for byte in name.utf8 where !isTokenByte(byte) { return "contains \(describe(byte)), which a token cannot" }
        return nil
    }

    /// The first CR, LF or NUL (and, for a target, space) in `value`, described, or nil.
    static func forbiddenByte(in value: String, alsoSpace: Bool) -> String? {
        for byte in value.utf8 {
            switch byte {
            case 0x0D, 0x0A, 0x00: return "contains \(describe(byte))"
            case 0x20 where alsoSpace: return "contains \(describe(byte))"
            default: continue
            }
        }
        return nil
    }

    /// tchar: `!#$%&'*+-.^_`|~`, digits and letters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func describe(_ byte: UInt8) -> String {
        let hex = "0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
        switch byte {
        case 0x0D: return "CR (\(hex))"
        case 0x0A: return "LF (\(hex))"
        case 0x00: return "NUL (\(hex))"
        case 0x20: return "a space (\(hex))"
        case 0x21..<0x7F: return "'\(Character(Unicode.Scalar(byte)))' (\(hex))"
        default: return "byte \(hex)"
        }
    }

    /// A name with its unprintable bytes escaped, so that the error cannot break a log line.
    static func display(_ name: String) -> String {
        var out = ""
        for byte in name.utf8.prefix(64) {
            if (0x21..<0x7F).contains(byte) { out.append(Character(Unicode.Scalar(byte))) } else { out += "\\x" + String(byte, radix: 16) }
        }
        return out
    }
}
