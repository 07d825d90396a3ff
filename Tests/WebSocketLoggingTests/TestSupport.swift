import Foundation
import Logging
import NIOHTTP1
import Testing
@testable import WebSocketCore
@testable import WebSocketLogging

let fixedTime = LogTimestamp(seconds: 1_764_078_750, microseconds: 123_456)  // 2025-11-25T13:52:30.123456Z

func fixedContext(client: String? = nil, headers: HTTPHeaders? = nil) -> ConnectionContext {
    var rng = FixedRNG()
    let ctx = ConnectionContext(id: ConnectionID(using: &rng), peerAddress: "127.0.0.1", peerPort: 54321)
    guard client != nil || headers != nil else { return ctx }
    return ctx.with(clientAddress: client, source: client == nil ? "peer" : "x-forwarded-for", requestHeaders: headers)
}

struct FixedRNG: RandomNumberGenerator {
    var n: UInt64 = 0x0123_4567_89AB_CDEF
    mutating func next() -> UInt64 {
        defer { n = n &* 6_364_136_223_846_793_005 &+ 1 }
        return n
    }
}

func record(_ event: WebSocketLogEvent?, message: String? = nil, level: Logger.Level = .info, connection: ConnectionContext? = nil,
            metadata: Logger.Metadata = [:], error: (any Error)? = nil, label: String = "websockets.server") -> LogRecord {
    LogRecord(timestamp: fixedTime, level: level, label: label, message: message ?? event?.message ?? "", event: event,
              connection: connection, metadata: metadata, error: error)
}

func format(_ record: LogRecord, _ formatter: some LogFormatter = JSONFormatter()) throws -> String {
    var line = LogLine()
    try formatter.format(record, into: &line)
    return String(decoding: line.bytes, as: UTF8.self)
}

/// Parses one JSON line with Foundation: an independent check that our output is JSON.
func parseJSON(_ line: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
    guard let dict = object as? [String: Any] else { throw CocoaError(.coderReadCorrupt) }
    return dict
}

/// The top-level keys of a JSON object line, in order.
func keyOrder(_ line: String) throws -> [String] {
    // Our lines put each top-level key right after `{` or `,` at depth 1.
    var keys: [String] = []
    var depth = 0, inString = false, escaped = false
    var current = "", collecting = false, expectKey = false
    for ch in line {
        if inString {
            if escaped { escaped = false; if collecting { current.append(ch) }; continue }
            if ch == "\\" { escaped = true; if collecting { current.append(ch) }; continue }
            if ch == "\"" {
                inString = false
                if collecting { keys.append(current); collecting = false }
                continue
            }
            if collecting { current.append(ch) }
            continue
        }
        switch ch {
        case "\"":
            inString = true
            if depth == 1 && expectKey { collecting = true; current = ""; expectKey = false }
        case "{", "[":
            depth += 1
            if depth == 1 { expectKey = true }
        case "}", "]": depth -= 1
        case ",": if depth == 1 { expectKey = true }
        default: break
        }
    }
    return keys
}

struct SampleError: Error, CustomStringConvertible {
    var description: String { "handler exploded\nsecond line" }
}

let sampleClosed = ConnectionClosedInfo(code: 1000, codeSent: 1000, reasonSent: "", codeReceived: 1000, reasonReceived: "bye",
                                        initiator: .remote, duration: 1.5, messagesIn: 3, messagesOut: 3, bytesIn: 120,
                                        bytesOut: 90, payloadBytesIn: 100, payloadBytesOut: 80, latency: 0.000_812)
