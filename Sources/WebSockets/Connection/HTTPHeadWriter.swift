import NIOCore
import NIOHTTP1

extension ByteBuffer {
    /// Writes `HTTP/1.1 CODE REASON`, the headers and the empty line.
    mutating func writeHTTPResponseHead(_ head: HTTPResponseHead) {
        writeString("HTTP/\(head.version.major).\(head.version.minor) \(head.status.code) \(head.status.reasonPhrase)\r\n")
        writeHTTPHeaders(head.headers)
    }

    /// Writes `METHOD TARGET HTTP/1.1`, the headers and the empty line.
    mutating func writeHTTPRequestHead(_ head: HTTPRequestHead) {
        writeString("\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\r\n")
        writeHTTPHeaders(head.headers)
    }

    private mutating func writeHTTPHeaders(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            writeString(name)
            writeStaticString(": ")
            // Never let a value break the head: CR and LF cannot be sent.
            writeString(value.contains(where: { $0 == "\r" || $0 == "\n" }) ? value.filter { $0 != "\r" && $0 != "\n" } : value)
            writeStaticString("\r\n")
        }
        writeStaticString("\r\n")
    }
}
