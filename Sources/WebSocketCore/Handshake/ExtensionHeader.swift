/// One element of a `Sec-WebSocket-Extensions` header: an extension name and its parameters
/// (RFC 6455 §9.1). Parameter values are unquoted; a parameter without a value has `nil`.
public struct ExtensionOffer: Hashable, Sendable, CustomStringConvertible {
    /// The extension token, e.g. `permessage-deflate`.
    public var name: String
    /// The parameters in order; `value` is `nil` for a parameter without `=`.
    public var parameters: [(name: String, value: String?)]

    /// An offer or response element with its parameters.
    public init(name: String, parameters: [(name: String, value: String?)] = []) {
        self.name = name
        self.parameters = parameters
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.parameters.count == b.parameters.count
            && zip(a.parameters, b.parameters).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        for p in parameters {
            hasher.combine(p.name)
            hasher.combine(p.value)
        }
    }

    /// The header form: `permessage-deflate; client_max_window_bits=12`.
    public var description: String {
        ([name] + parameters.map { p in p.value.map { "\(p.name)=\($0)" } ?? p.name }).joined(separator: "; ")
    }

    /// Parses every `Sec-WebSocket-Extensions` header value, in order.
    ///
    /// Grammar (§9.1): `extension-list = 1#extension`, `extension = token *( ";" param )`,
    /// `param = token [ "=" (token | quoted-string) ]`.
    /// - Throws: ``ExtensionHeaderError`` naming the first malformed element.
    public static func parse(_ values: [String]) throws(ExtensionHeaderError) -> [ExtensionOffer] {
        var result: [ExtensionOffer] = []
        for value in values {
            var scanner = Scanner(Array(value.utf8))
            try scanner.parseList(into: &result)
        }
        return result
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipOWS() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 } }

        mutating func token() throws(ExtensionHeaderError) -> String {
            let start = i
            while i < bytes.count, HTTPToken.isTokenChar(bytes[i]) { i += 1 }
            guard i > start else { throw .expectedToken(position: start) }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        mutating func quoted() throws(ExtensionHeaderError) -> String {
            let start = i
            i += 1  // opening quote
            var out: [UInt8] = []
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard i < bytes.count else { break }
                }
                out.append(bytes[i])
                i += 1
            }
            throw .unterminatedQuotedString(position: start)
        }

        mutating func parseList(into result: inout [ExtensionOffer]) throws(ExtensionHeaderError) {
            while true {
                skipOWS()
                if i == bytes.count { return }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }  // empty list elements are allowed
                var offer = ExtensionOffer(name: try token())
                skipOWS()
                while i < bytes.count, bytes[i] == UInt8(ascii: ";") {
                    i += 1
                    skipOWS()
                    let name = try token()
                    skipOWS()
                    var value: String?
                    if i < bytes.count, bytes[i] == UInt8(ascii: "=") {
                        i += 1
                        skipOWS()
                        // §9.1: a quoted-string value must, once unquoted, still be a token.
                        if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
                            let v = try quoted()
                            guard !v.isEmpty, v.utf8.allSatisfy(HTTPToken.isTokenChar) else {
                                throw .invalidParameterValue(parameter: name)
                            }
                            value = v
                        } else {
                            value = try token()
                        }
                        skipOWS()
                    }
                    offer.parameters.append((name, value))
                }
                result.append(offer)
                skipOWS()
                if i == bytes.count { return }
                guard bytes[i] == UInt8(ascii: ",") else { throw .unexpectedCharacter(position: i) }
                i += 1
            }
        }
    }
}

/// A malformed `Sec-WebSocket-Extensions` header.
public enum ExtensionHeaderError: Error, Hashable, Sendable, CustomStringConvertible {
    case expectedToken(position: Int)
    case unterminatedQuotedString(position: Int)
    case invalidParameterValue(parameter: String)
    case unexpectedCharacter(position: Int)

    public var description: String {
        switch self {
        case .expectedToken(let p): "expected a token at offset \(p) of Sec-WebSocket-Extensions"
        case .unterminatedQuotedString(let p): "unterminated quoted string at offset \(p) of Sec-WebSocket-Extensions"
        case .invalidParameterValue(let n): "invalid value for extension parameter \(n)"
        case .unexpectedCharacter(let p): "unexpected character at offset \(p) of Sec-WebSocket-Extensions"
        }
    }
}
