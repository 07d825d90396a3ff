import NIOCore
import NIOHTTP1
import WebSocketCore

extension ByteBuffer {
    /// Writes `HTTP/1.1 CODE REASON`, the headers and the empty line.
    /// - Throws: ``InvalidHTTPHead`` (nothing written) for a reason phrase or header that
    ///   cannot be sent as it is: never rewritten.
    mutating func writeHTTPResponseHead(_ head: HTTPResponseHead) throws(InvalidHTTPHead) {
        try HTTPHeadValidation.validate(head)
        writeValidatedHTTPResponseHead(head)
    }

    /// Writes a response head the server's decision has validated already (every head
    /// ``HandshakeOutcome`` carries): the check is not made twice per connection.
    mutating func writeValidatedHTTPResponseHead(_ head: HTTPResponseHead) {
        writeString("HTTP/\(head.version.major).\(head.version.minor) \(head.status.code) \(head.status.reasonPhrase)\r\n")
        writeHTTPHeaders(head.headers)
    }

    /// Writes `METHOD TARGET HTTP/1.1`, the headers and the empty line.
    /// - Throws: ``InvalidHTTPHead`` (nothing written) for a method, target or header that
    ///   cannot be sent as it is.
    mutating func writeHTTPRequestHead(_ head: HTTPRequestHead) throws(InvalidHTTPHead) {
        try HTTPHeadValidation.validate(head)
        writeString("\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\r\n")
        writeHTTPHeaders(head.headers)
    }

    private mutating func writeHTTPHeaders(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            writeString(name)
            writeStaticString(": ")
            writeString(value)
            writeStaticString("\r\n")
        }
        writeStaticString("\r\n")
    }
}
