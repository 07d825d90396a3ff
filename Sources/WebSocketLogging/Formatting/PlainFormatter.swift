import Logging

/// `TIMESTAMP LEVEL logger [connection_id remote_addr] message key=value…`
///
/// The bracket part is absent for records without a connection. The message (which begins
/// with the DEBUG prefix `>`, `<`, `=`, `x`, `%` or `!` where there is one) and every value
/// have control characters and newlines escaped, so one record is always one line: a close
/// reason of `"bye\nFAKE"` prints as `bye\nFAKE`. Values with spaces, `=` or `"` are quoted.
/// A DEBUG trace's fields follow only where its message does not already say them
/// (`> TEXT 'hi' [2 bytes]`, not `… opcode=TEXT fin=true rsv1=false size=2 preview='hi'`).
public struct PlainFormatter: LogFormatter {
    /// The longest line, newline included (values are cut to fit, as in ``JSONFormatter``).
    public var maxLineLength: Int

    /// A formatter whose lines, newline included, never exceed `maxLineLength` bytes.
    public init(maxLineLength: Int = 8192) {
        precondition(maxLineLength >= 256, "maxLineLength must leave room for the fixed parts")
        self.maxLineLength = maxLineLength
    }

    public func format(_ record: LogRecord, into line: inout LogLine) {
        // Each attempt is one writer session: one uniqueness check per record, not per append.
        line.appendFitting(maxLength: maxLineLength,
                           { line, limit in line.withWriter { render(record, into: &$0, limit: limit, withFields: true) } },
                           fallback: { line in line.withWriter { render(record, into: &$0, limit: 24, withFields: false) } })
    }

    func render(_ record: LogRecord, into line: inout LogLine.Writer, limit: Int, withFields: Bool) {
        record.timestamp.write(into: &line)
        line.append(UInt8(ascii: " "))
        line.append(record.level.upperName)
        line.append(UInt8(ascii: " "))
        line.append(plain: record.label, quoteIfNeeded: true, limit: min(limit, 128))
        if let connection = record.connection {
            line.append(UInt8(ascii: " "))
            connection.plainTag.withUnsafeBytes { line.append($0) }
        }
        line.append(UInt8(ascii: " "))
        line.append(plain: record.message, quoteIfNeeded: false, limit: limit)
        if withFields {
            var writer = PlainFieldWriter(line: line, limit: limit, saidBy: record.event?.prefix != nil ? record.message : nil)
            if let node = record.node { writer.visit("node", string: node) }
            record.event?.visitFields(&writer)
            for key in record.metadata.keys.sorted() {
                writer.line.append(UInt8(ascii: " "))
                writer.line.append(plain: key, quoteIfNeeded: true, limit: 128)
                writer.line.append(UInt8(ascii: "="))
                writer.line.append(plain: Self.text(record.metadata[key]!), quoteIfNeeded: true, limit: limit)
            }
            if let error = record.error {
                let (type, message) = errorFields(error)
                writer.visit("error_type", string: type)
                writer.visit("error_message", string: message)
            }
            line = writer.line
        } else {
            line.append(" truncated=true")
        }
        line.append(UInt8(ascii: "\n"))
    }

    static func text(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .dictionary(let d): "{" + d.keys.sorted().map { "\($0)=\(text(d[$0]!))" }.joined(separator: ",") + "}"
        case .array(let a): "[" + a.map(text).joined(separator: ",") + "]"
        }
    }
}
