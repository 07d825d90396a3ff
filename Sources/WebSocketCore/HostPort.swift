/// `HOST:PORT` or `[IPv6]:PORT`, split at the port's colon with the brackets removed: what the
/// syslog destination URLs and `serve --metrics-listen` read. Each caller checks the parts
/// (an empty host, the port's range) with errors of its own.
package enum HostPort {
    package enum Problem: Error {
        /// `[` without `]:` after the address.
        case unterminatedBracket
        /// No `:` before a port.
        case missingPort
    }

    package static func split(_ text: Substring) -> Result<(host: Substring, port: Substring, bracketed: Bool), Problem> {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(.unterminatedBracket)
            }
            return .success((text[text.index(after: text.startIndex)..<close], text[text.index(close, offsetBy: 2)...], true))
        }
        guard let colon = text.lastIndex(of: ":") else { return .failure(.missingPort) }
        return .success((text[..<colon], text[text.index(after: colon)...], false))
    }
}
