/// Receives the typed fields of a log event, one call per field, in a fixed order.
///
/// Formatters implement this to render fields without building dictionaries: keys are
/// `StaticString` (no allocation) and values keep their JSON type (numbers stay numbers).
public protocol LogFieldVisitor {
    mutating func visit(_ key: StaticString, string: String)
    mutating func visit(_ key: StaticString, int: Int)
    mutating func visit(_ key: StaticString, double: Double)
    mutating func visit(_ key: StaticString, bool: Bool)
}

extension LogFieldVisitor {
    /// Visits `string` only when present.
    @inlinable
    public mutating func visit(_ key: StaticString, optional value: String?) {
        if let value { visit(key, string: value) }
    }

    /// Visits `int` only when present.
    @inlinable
    public mutating func visit(_ key: StaticString, optional value: Int?) {
        if let value { visit(key, int: value) }
    }

    /// Visits `double` only when present.
    @inlinable
    public mutating func visit(_ key: StaticString, optional value: Double?) {
        if let value { visit(key, double: value) }
    }
}

extension StaticString {
    /// The key as a `String` (for formatters that need one).
    var stringValue: String { description }
}
