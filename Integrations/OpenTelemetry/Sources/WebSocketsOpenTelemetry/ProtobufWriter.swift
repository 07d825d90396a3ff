/// The protobuf wire format, as much of it as OTLP's log messages use: varints, fixed-width
/// numbers and length-delimited fields. Writing it directly keeps this package free of a code
/// generator; the receiver test decodes every message with the official definitions.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    private enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    private mutating func tag(_ field: UInt32, _ type: WireType) {
        varint(UInt64(field) << 3 | UInt64(type.rawValue))
    }

    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func uint64(_ field: UInt32, _ value: UInt64) {
        tag(field, .varint)
        varint(value)
    }

    /// `int64` (two's complement, ten bytes when negative, as protobuf specifies).
    mutating func int64(_ field: UInt32, _ value: Int64) { uint64(field, UInt64(bitPattern: value)) }

    mutating func bool(_ field: UInt32, _ value: Bool) { uint64(field, value ? 1 : 0) }

    mutating func fixed64(_ field: UInt32, _ value: UInt64) {
        tag(field, .fixed64)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func fixed32(_ field: UInt32, _ value: UInt32) {
        tag(field, .fixed32)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func double(_ field: UInt32, _ value: Double) { fixed64(field, value.bitPattern) }

    mutating func string(_ field: UInt32, _ value: String) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    mutating func data(_ field: UInt32, _ value: some Collection<UInt8>) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A nested message, written by `body` into a writer of its own, then length-prefixed.
    mutating func message(_ field: UInt32, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter(capacity: 64)
        body(&nested)
        data(field, nested.bytes)
    }
}

/// Reads the few wire types an OTLP answer uses (varint, length-delimited), skipping others;
/// stops at the first malformed byte.
struct ProtobufReader {
    enum Value { case varint(UInt64), bytes([UInt8]) }
    struct Field {
        var number: UInt64
        var value: Value
        var bytes: [UInt8]? { if case .bytes(let b) = value { b } else { nil } }
    }

    private let data: [UInt8]
    private var offset = 0

    init(_ data: [UInt8]) { self.data = data }

    private mutating func varint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < data.count, shift < 64 {
            let byte = data[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    mutating func next() -> Field? {
        while let key = varint() {
            let number = key >> 3
            switch key & 7 {
            case 0:
                guard let v = varint() else { return nil }
                return Field(number: number, value: .varint(v))
            case 2:
                guard let length = varint(), length <= UInt64(data.count - offset) else { return nil }
                let bytes = Array(data[offset..<offset + Int(length)])
                offset += Int(length)
                return Field(number: number, value: .bytes(bytes))
            case 1: offset += 8
            case 5: offset += 4
            default: return nil
            }
            if offset > data.count { return nil }
        }
        return nil
    }

    /// The first field numbered `number`.
    mutating func field(_ number: UInt64) -> Field? {
        while let f = next() { if f.number == number { return f } }
        return nil
    }
}
