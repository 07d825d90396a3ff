import Foundation
import Logging
import Testing
@testable import WebSocketCore
@testable import WebSocketLogging
import W3CTraceContext
import WebSocketTestSupport

@Suite("JSONFormatter")
struct JSONFormatterTests {
    @Test("a connection record renders exactly, keys in the documented order")
    func exactLine() throws {
        let line = try format(record(.connectionOpen(ConnectionOpenInfo(path: "/chat", subprotocol: "v2", handshakeDuration: 0.0025)),
                                     connection: fixedContext()))
        let id = fixedContext().id.description
        #expect(line == """
            {"timestamp":"2025-11-25T13:52:30.123456Z","level":"info","logger":"websockets.server","message":"connection open",\
            "event":"connection_open","event_data":{"connection_id":"\(id)","remote_addr":"127.0.0.1","peer_addr":"127.0.0.1",\
            "peer_port":54321,"path":"/chat","subprotocol":"v2","handshake_duration":0.0025}}

            """)
    }

    @Test("records without a connection have no event_data; server events put their fields in fields")
    func noConnection() throws {
        let listening = try parseJSON(try format(record(.serverListening(ServerListeningInfo(address: "127.0.0.1:8765", host: "127.0.0.1", port: 8765)))))
        #expect(listening["event_data"] == nil)
        #expect((listening["fields"] as? [String: Any])?["address"] as? String == "127.0.0.1:8765")
        let closing = try format(record(.serverClosing))
        #expect(try keyOrder(closing) == ["timestamp", "level", "logger", "message", "event"])
        let app = try parseJSON(try format(record(nil, message: "hello")))
        #expect(app["event"] as? String == "log")
    }

    @Test("connection_closed carries typed numbers and both close codes")
    func closedRecord() throws {
        let line = try format(record(.connectionClosed(sampleClosed), connection: fixedContext()))
        let data = try #require(try parseJSON(line)["event_data"] as? [String: Any])
        #expect(data["close_code"] as? Int == 1000)
        #expect(data["close_reason_received"] as? String == "bye")
        #expect(data["initiator"] as? String == "remote")
        #expect(data["duration"] as? Double == 1.5)
        #expect(data["latency"] as? Double == 0.000812)
        #expect(data["bytes_in"] as? Int == 120)
        #expect(line.contains("\"duration\":1.5,"))
    }

    @Test("metadata keeps numbers and booleans typed, sorted; error has type and message")
    func metadataAndError() throws {
        let line = try format(record(nil, message: "m", metadata: ["b": .stringConvertible(42), "a": .stringConvertible(true),
                                                                     "c": .stringConvertible(2.5), "d": "text",
                                                                     "e": ["x": .stringConvertible(-7)], "f": [.string("y"), .stringConvertible(false)]],
                                     error: SampleError()))
        #expect(line.contains(#""metadata":{"a":true,"b":42,"c":2.5,"d":"text","e":{"x":-7},"f":["y",false]}"#))
        let parsed = try parseJSON(line)
        let error = try #require(parsed["error"] as? [String: String])
        #expect(error["message"] == "handler exploded\nsecond line")
        #expect(error["type"]?.hasSuffix("SampleError") == true)
        #expect(try keyOrder(line) == ["timestamp", "level", "logger", "message", "event", "metadata", "error"])
    }

    @Test("every scalar and control character is escaped so a line never breaks")
    func escaping() throws {
        var all = ""
        for v in 0..<0x80 { all.unicodeScalars.append(Unicode.Scalar(v)!) }
        all += "\u{2028}\u{2029}\u{85}é日🎉\u{10FFFF}\"\\"
        let line = try format(record(.closeStep(step: all, code: 1000, reason: "bye\nFAKE"), message: all, connection: fixedContext()))
        #expect(line.filter { $0 == "\n" }.count == 1 && line.last == "\n")
        #expect(!line.utf8.dropLast().contains { $0 < 0x20 || $0 == 0x7F })
        #expect(!line.contains("\u{2028}") && !line.contains("\u{2029}"))
        let parsed = try parseJSON(line)
        #expect(parsed["message"] as? String == all)
        #expect((parsed["event_data"] as? [String: Any])?["close_reason"] as? String == "bye\nFAKE")
    }

    @Test("random strings always give one valid JSON line that round-trips")
    func randomStrings() throws {
        var rng = FixedRNG()
        for _ in 0..<300 {
            var s = ""
            for _ in 0..<Int.random(in: 0...40, using: &rng) {
                let v = UInt32.random(in: 0...0x10FFFF, using: &rng)
                if let scalar = Unicode.Scalar(Bool.random(using: &rng) ? v % 0x100 : v) { s.unicodeScalars.append(scalar) }
            }
            let line = try format(record(nil, message: s, metadata: [s: .string(s)]))
            #expect(line.filter { $0 == "\n" }.count == 1)
            let parsed = try parseJSON(line)
            #expect(parsed["message"] as? String == s)
        }
    }

    @Test("over-long lines are cut in their values, never in their structure")
    func maxLength() throws {
        let formatter = JSONFormatter(maxLineLength: 1024)
        let huge = String(repeating: "é", count: 5000)
        let line = try format(record(.closeStep(step: huge, code: nil, reason: huge), message: huge, connection: fixedContext(),
                                     metadata: ["k": .string(huge)]), formatter)
        #expect(line.utf8.count <= 1024)
        let parsed = try parseJSON(line)
        #expect((parsed["message"] as? String)?.hasSuffix("…") == true)
        #expect((parsed["event_data"] as? [String: Any])?["connection_id"] as? String == fixedContext().id.description)
        // Too many fields to fit even when shortened: only the fixed keys remain.
        var many: Logger.Metadata = [:]
        for i in 0..<500 { many["key\(i)"] = .string("value") }
        let minimal = try format(record(nil, message: "m", metadata: many), formatter)
        #expect(minimal.utf8.count <= 1024)
        #expect(try parseJSON(minimal)["truncated"] as? Bool == true)
    }

    @Test("values made of control characters (escaped to 6 bytes each) still fit the smallest line (found by FuzzFormatters)")
    func escapedValuesFit() throws {
        let controls = String(repeating: "\u{1}", count: 5000)
        let label = String(repeating: "\u{7}", count: 200)
        for connection in [nil, fixedContext(client: String(repeating: "\u{2}", count: 300))] {
            let r = record(.closeStep(step: controls, code: nil, reason: controls), message: controls, connection: connection,
                           metadata: [controls: .string(controls)], label: label)
            let json = try format(r, JSONFormatter(maxLineLength: 512))
            #expect(json.utf8.count <= 512, "\(json.utf8.count) bytes")
            #expect(json.filter { $0 == "\n" }.count == 1)
            _ = try parseJSON(json)
            let plain = try format(r, PlainFormatter(maxLineLength: 256))
            #expect(plain.utf8.count <= 256, "\(plain.utf8.count) bytes")
            #expect(plain.filter { $0 == "\n" }.count == 1)
        }
    }

    @Test("timestamps are RFC 3339 UTC with exactly 6 fraction digits", arguments: [
        (0, 0, "1970-01-01T00:00:00.000000Z"),
        (951_782_400, 7, "2000-02-29T00:00:00.000007Z"),
        (1_709_164_799, 999_999, "2024-02-28T23:59:59.999999Z"),
        (4_102_444_800, 500_000, "2100-01-01T00:00:00.500000Z"),
        (-1, 0, "1969-12-31T23:59:59.000000Z"),
    ])
    func timestamps(seconds: Int, micros: Int, expected: String) {
        #expect(LogTimestamp(seconds: seconds, microseconds: micros).rfc3339 == expected)
    }

    @Test("timestamps agree with Foundation's ISO 8601 formatter")
    func timestampsAgree() {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime]
        var rng = FixedRNG()
        for _ in 0..<500 {
            let s = Int.random(in: 0...4_000_000_000, using: &rng)
            let ours = LogTimestamp(seconds: s, microseconds: 0).rfc3339
            #expect(ours.replacingOccurrences(of: ".000000Z", with: "Z") == iso.string(from: Date(timeIntervalSince1970: Double(s))))
        }
        let now = LogTimestamp.now()
        #expect(abs(Double(now.seconds) - Date().timeIntervalSince1970) < 5)
    }

    @Test("connection ids are RFC 9562 version 4 UUIDs")
    func connectionIDs() {
        let ids = (0..<100).map { _ in ConnectionID().description }
        #expect(Set(ids).count == 100)
        for id in ids {
            #expect(id.count == 36)
            #expect(UUID(uuidString: id) != nil)
            let chars = Array(id)
            #expect(chars[14] == "4")
            #expect("89ab".contains(chars[19]))
        }
    }
}

@Suite("LogLine")
struct LogLineTests {
    /// The byte-by-byte definition the word-at-a-time scan must match.
    static func reference(_ bytes: [UInt8]) -> Bool { bytes.contains(where: LogLine.needsJSONEscape) }

    @Test("the word-at-a-time escape scan agrees with the byte check: every byte value at every position, and random text")
    func escapeScan() {
        // Lengths up to 40 take every path: 1–3 bytes, 4–7, two words for 8–16, the loop with its
        // overlapping last word beyond.
        var mismatches: [String] = []
        for length in 0...40 {
            for position in 0..<max(length, 1) where length > 0 {
                for value in 0...255 {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[position] = UInt8(value)
                    if bytes.withUnsafeBufferPointer(LogLine.mayNeedJSONEscape) != Self.reference(bytes) {
                        mismatches.append("byte \(value) at \(position) of \(length)")
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            // Mostly printable ASCII, sometimes anything: words with and without suspects.
            let bytes = (0..<length).map { _ in
                Int.random(in: 0..<10, using: &generator) == 0 ? UInt8.random(in: 0...255, using: &generator)
                    : UInt8.random(in: 0x20...0x7E, using: &generator)
            }
            let fast = bytes.withUnsafeBufferPointer(LogLine.mayNeedJSONEscape)
            #expect(fast == Self.reference(bytes), "\(bytes)")
            if fast != Self.reference(bytes) { return }
        }
    }

    @Test("appends of every length up to 80 bytes copy exactly those bytes (the short copies use overlapping words)")
    func shortCopies() {
        var generator = SystemRandomNumberGenerator()
        var line = LogLine(capacity: 16)
        var expected: [UInt8] = []
        for length in 0...80 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            bytes.withUnsafeBytes { line.append(contentsOf: $0) }
            expected += bytes
            #expect(line.bytes == expected, "after appending \(length) bytes")
        }
    }

    @Test("JSON numbers: up to 6 decimals, trailing zeros trimmed, large values in Swift's shortest form", arguments: [
        (0.0025, "0.0025"), (0.000812, "0.000812"), (1.0, "1"), (0.0, "0"), (-2.5, "-2.5"),
        (0.0000004, "0"), (0.0000005, "0.000001"), (0.9999996, "1"), (123.456789, "123.456789"),
        (999_999_999.5, "999999999.5"), (86_399.000001, "86399.000001"), (1e9, "1000000000.0"), (1e12 + 0.5, "1000000000000.5"), (-1e300, "-1e+300"),
        (.nan, "null"), (.infinity, "null"),
    ])
    func jsonDoubles(value: Double, expected: String) {
        var line = LogLine()
        line.append(jsonDouble: value)
        #expect(String(decoding: line.bytes, as: UTF8.self) == expected)
    }

    @Test("a reused line's cached timestamp text follows the second of each record")
    func timestampCache() {
        var line = LogLine()
        let stamps = [LogTimestamp(seconds: 1_764_078_750, microseconds: 1), LogTimestamp(seconds: 1_764_078_750, microseconds: 999_999),
                      LogTimestamp(seconds: 1_764_078_751, microseconds: 0), LogTimestamp(seconds: 0, microseconds: 42),
                      LogTimestamp(seconds: 1_764_078_750, microseconds: 5)]
        for stamp in stamps {
            line.removeAll()
            stamp.write(into: &line)
            #expect(String(decoding: line.bytes, as: UTF8.self) == stamp.rfc3339)
        }
        line.removeAll()
        stamps[2].write(into: &line)
        #expect(String(decoding: line.bytes, as: UTF8.self) == "2025-11-25T13:52:31.000000Z")
        // Microseconds out of range never index outside the digit table.
        #expect(LogTimestamp(seconds: 0, microseconds: 1_000_001).rfc3339 == "1970-01-01T00:00:00.000001Z")
    }

    @Test("copies of a line do not share writes (copy on write), and truncate keeps the rest")
    func valueSemantics() {
        var a = LogLine(capacity: 4)
        a.append("hello")
        var b = a
        b.append(" world")
        a.append(UInt8(ascii: "!"))
        #expect(String(decoding: a.bytes, as: UTF8.self) == "hello!")
        #expect(String(decoding: b.bytes, as: UTF8.self) == "hello world")
        b.truncate(to: 5)
        #expect(b.bytes == Array("hello".utf8))
        #expect(a.withUnsafeBytes { Array($0) } == Array("hello!".utf8))
    }
}

@Suite("PlainFormatter")
struct PlainFormatterTests {
    @Test("without a connection there is no bracket part")
    func noConnection() throws {
        let line = try format(record(.serverListening(ServerListeningInfo(address: "127.0.0.1:8765"))), PlainFormatter())
        #expect(line == "2025-11-25T13:52:30.123456Z INFO websockets.server server listening on 127.0.0.1:8765 address=127.0.0.1:8765 tls=false\n")
    }

    @Test("with a connection: [id address], DEBUG prefix, key=value fields")
    func withConnection() throws {
        let info = FrameInfo(opcode: .text, fin: true, rsv1: false, size: 2, preview: "'hi'")
        let line = try format(record(.frameSent(info), level: .debug, connection: fixedContext(client: "203.0.113.7")), PlainFormatter())
        #expect(line == "2025-11-25T13:52:30.123456Z DEBUG websockets.server [\(fixedContext().id) 203.0.113.7] > TEXT 'hi' [2 bytes]\n")
    }

    @Test("a DEBUG line adds only what its message does not say: a close step's reason, not its code again")
    func debugFieldsNotRepeated() throws {
        let event = WebSocketLogEvent.closeStep(step: "failing connection with 1002 (protocol error)", code: 1002, reason: "invalid opcode 3")
        let line = try format(record(event, level: .debug, connection: fixedContext(client: "203.0.113.7")), PlainFormatter())
        #expect(line.hasSuffix("] x failing connection with 1002 (protocol error) close_reason=\"invalid opcode 3\"\n"), "\(line)")
    }

    @Test("a close reason with a newline cannot forge a second line")
    func injection() throws {
        let closed = ConnectionClosedInfo(code: 1000, codeReceived: 1000, reasonReceived: "bye\nFAKE 2025 INFO forged", initiator: .remote, duration: 0)
        let line = try format(record(.connectionClosed(closed), message: "closed: bye\nFAKE\r\u{1B}[31m", connection: fixedContext()),
                              PlainFormatter())
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line.contains(#"close_reason_received="bye\nFAKE 2025 INFO forged""#))
        #expect(line.contains(#"closed: bye\nFAKE\r\x1b[31m"#))
    }

    @Test("values with spaces, = or quotes are quoted; metadata and errors follow the fields")
    func quoting() throws {
        let line = try format(record(nil, message: "m", metadata: ["tenant": "acme corp", "eq": "a=b", "q": "say \"hi\"", "empty": ""],
                                     error: SampleError()), PlainFormatter())
        #expect(line.contains(#" empty="" eq="a=b" q="say \"hi\"" tenant="acme corp""#))
        #expect(line.contains(#"error_message="handler exploded\nsecond line""#))
    }
}

@Suite("Trace context in every format")
struct TraceContextFormatTests {
    static let traced: ConnectionContext = {
        let trace = try! TraceContext(traceParentHeaderValue: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        return fixedContext().with(clientAddress: nil, source: "peer", requestHeaders: nil, traceContext: trace)
    }()

    @Test("JSON, ECS, plain and syslog carry the trace and span ids of the connection; JSON and ECS lines are schema-valid")
    func everyFormat() async throws {
        let r = record(.connectionClosed(sampleClosed), connection: Self.traced)
        let json = try format(r, JSONFormatter())
        #expect(json.contains("\"peer_port\":54321,\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\",\"trace_flags\":\"01\","))
        let ecs = try format(r, ECSFormatter())
        #expect(ecs.contains(",\"trace\":{\"id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"},\"span\":{\"id\":\"00f067aa0ba902b7\"}"))
        let plain = try format(r, PlainFormatter())
        #expect(plain.contains(" 127.0.0.1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7]"))
        let syslog = try format(r, SyslogFormatter(hostname: "h"))
        #expect(syslog.contains(" trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\" span_id=\"00f067aa0ba902b7\" trace_flags=\"01\""))
        #expect(try await validateWithSchema([json]).status == 0)
        #expect(try await validateWithSchema([ecs], schema: "ecs-record.schema.json").status == 0)
        let untraced = try format(record(.connectionClosed(sampleClosed), connection: fixedContext()), JSONFormatter())
        #expect(!untraced.contains("trace_id"))
    }
}
