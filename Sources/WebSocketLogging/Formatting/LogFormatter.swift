/// Renders a record as exactly one line.
///
/// Implementations append to `line` (which arrives empty) and end with a single `\n`. The
/// pipeline guards against formatters that throw or break this contract: it writes a minimal
/// safe line instead and counts the fault.
public protocol LogFormatter: Sendable {
    func format(_ record: LogRecord, into line: inout LogLine) throws
}

/// Renders metadata values with their natural type where swift-log hides it in
/// `.stringConvertible` (integers, floating point, booleans).
enum MetadataScalar {
    case int(Int)
    case double(Double)
    case bool(Bool)

    init?(_ value: any CustomStringConvertible & Sendable) {
        switch value {
        case let v as Int: self = .int(v)
        case let v as Int64: self = .int(Int(v))
        case let v as Int32: self = .int(Int(v))
        case let v as UInt16: self = .int(Int(v))
        case let v as UInt32: self = .int(Int(v))
        case let v as UInt64 where v <= UInt64(Int.max): self = .int(Int(v))
        case let v as UInt where v <= UInt(Int.max): self = .int(Int(v))
        case let v as Double: self = .double(v)
        case let v as Float: self = .double(Double(v))
        case let v as Bool: self = .bool(v)
        default: return nil
        }
    }
}

/// The `type` and `message` of an error, as rendered in the `error` object.
func errorFields(_ error: any Error) -> (type: String, message: String) {
    (String(reflecting: type(of: error)), String(describing: error))
}

/// Writes event fields as ` key=value` pairs (the plain format, and `description`).
struct PlainFieldWriter: LogFieldVisitor {
    var line: LogLine.Writer
    var limit = Int.max
    /// A DEBUG trace's message: fields it already says (the frame's opcode, size and preview,
    /// the header line, the state) are left out, as are flags and the direction its prefix
    /// shows; what it does not say (a close reason, a close code) is kept.
    var saidBy: String?

    /// The ` key=value` pairs `visit` writes, without the leading space.
    static func text(_ visit: (inout PlainFieldWriter) -> Void) -> String {
        var line = LogLine(capacity: 64)
        line.withWriter { w in
            var writer = PlainFieldWriter(line: w)
            visit(&writer)
            w = writer.line
        }
        return line.withUnsafeBytes { String(decoding: $0.drop { $0 == 0x20 }, as: UTF8.self) }
    }

    mutating func key(_ k: StaticString) {
        line.append(UInt8(ascii: " "))
        line.append(k)
        line.append(UInt8(ascii: "="))
    }

    mutating func visit(_ k: StaticString, string: String) {
        if let saidBy, string.isEmpty || k.description == "direction" || saidBy.contains(string) { return }
        key(k)
        line.append(plain: string, quoteIfNeeded: true, limit: limit)
    }

    mutating func visit(_ k: StaticString, int: Int) {
        if let saidBy, saidBy.contains(String(int)) { return }
        key(k)
        line.append(int: int)
    }

    mutating func visit(_ k: StaticString, double: Double) {
        key(k)
        line.append(jsonDouble: double)
    }

    mutating func visit(_ k: StaticString, bool: Bool) {
        if saidBy != nil { return }
        key(k)
        line.append(bool ? "true" : "false")
    }
}
