import NIOCore
import NIOHTTP1
import WebSocketCore

extension ByteBuffer {
    /// Writes `HTTP/1.1 CODE REASON`, the headers and the empty line, of a response head the
    /// server's decision validated (every head ``HandshakeOutcome`` carries): the check is
    /// made there once per connection, with a 500 and an ERROR for a head that fails it.
    mutating func writeHTTPResponseHead(_ head: HTTPResponseHead) {
        assert((try? HTTPHeadValidation.validate(head)) != nil, "a response head the decision did not validate")
        writeString("HTTP/\(head.version.major).\(head.version.minor) \(head.status.code) \(head.status.reasonPhrase)\r\n")
        writeHTTPHeaders(head.headers)
    }

    /// Writes `METHOD TARGET HTTP/1.1`, the headers and the empty line, of a request head
    /// `WebSocketClient.connect` validated before connecting (it refuses one that cannot be sent).
    mutating func writeHTTPRequestHead(_ head: HTTPRequestHead) {
        assert((try? HTTPHeadValidation.validate(head)) != nil, "a request head connect did not validate")
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
