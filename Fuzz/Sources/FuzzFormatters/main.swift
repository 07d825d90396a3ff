// Arbitrary bytes in every field a log record can carry (message, metadata keys and values,
// request headers, close reasons, error descriptions, peer addresses, request targets) through
// the JSON, ECS, plain and syslog formatters, with input-chosen line limits.
// Properties: every output is exactly one line ending in "\n"; JSON and ECS output parse as one
// JSON object (checked with Foundation's parser, independent of ours); syslog output has no newline.
import Foundation
import FuzzSupport
import Logging
import NIOHTTP1
import WebSocketCore
import WebSocketLogging

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFormatters(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let maxLine = 512 + Int(input.byte()) * 32   // JSONFormatter needs at least 512
    let piece = { (input: inout FuzzInput) -> String in input.string(Int(input.byte() & 63)) }
    var headers = HTTPHeaders()
    headers.add(name: "X-Tenant", value: piece(&input))
    let context = ConnectionContext(peerAddress: piece(&input), peerPort: Int(input.byte()))
        .with(clientAddress: piece(&input), source: "x-forwarded-for", requestHeaders: headers, traceContext: nil,
              path: piece(&input), route: input.byte() & 1 == 0 ? piece(&input) : nil)
    let events: [WebSocketLogEvent] = [
        .connectionClosed(ConnectionClosedInfo(code: 1000, codeSent: 1000, reasonSent: piece(&input), codeReceived: 4000,
                                               reasonReceived: piece(&input), initiator: .remote, duration: 1.5)),
        .connectionRejected(ConnectionRejectedInfo(status: 400, reason: piece(&input), rejection: "invalid_request", path: piece(&input))),
        .handshakeRequest(.header(name: piece(&input), value: piece(&input)), .received),
        .frameReceived(FrameInfo(opcode: .text, fin: true, rsv1: false, size: 3, preview: piece(&input))),
        .handlerFailed(errorType: piece(&input), description: piece(&input)),
        .serverListening(ServerListeningInfo(address: piece(&input), host: piece(&input), port: Int(input.byte()), tls: true)),
        .httpResponseSent(HTTPResponseSentInfo(status: 200, reason: piece(&input), path: piece(&input))),
        .connectionOpen(ConnectionOpenInfo(path: piece(&input), subprotocol: piece(&input), subprotocolsOffered: piece(&input),
                                           handshakeDuration: Double(input.byte()) / 7)),
    ]
    let event = input.byte() % 9 == 8 ? nil : events[Int(input.byte()) % events.count]
    // Keys come from the input and may repeat: assigned, not a literal (which traps on duplicates).
    var metadata: Logger.Metadata = ["n": .stringConvertible(Int(input.byte()))]
    metadata[piece(&input)] = .string(piece(&input))
    metadata[piece(&input)] = .array([.string(piece(&input)), .dictionary([piece(&input): .string(piece(&input))])])
    let record = LogRecord(level: .info, label: piece(&input), message: piece(&input) + input.string(input.bytes.count),
                           event: event, connection: input.byte() & 1 == 0 ? context : nil, metadata: metadata)
    let formatters: [any LogFormatter] = [JSONFormatter(maxLineLength: maxLine), PlainFormatter(maxLineLength: maxLine),
                                          SyslogFormatter(hostname: "fuzz", maxMessageLength: maxLine),
                                          ECSFormatter(maxLineLength: maxLine)]
    for (i, formatter) in formatters.enumerated() {
        var line = LogLine()
        do { try formatter.format(record, into: &line) } catch { require(false, "formatter \(i) threw \(error)") }
        let bytes = line.bytes
        let newlines = bytes.filter { $0 == 0x0A }.count
        if i == 2 {
            require(newlines <= 1 && (newlines == 0 || bytes.last == 0x0A), "syslog message with an inner newline")
            continue
        }
        require(newlines == 1 && bytes.last == 0x0A, "formatter \(i): \(newlines) newlines")
        require(bytes.count <= maxLine, "formatter \(i): \(bytes.count) bytes over the limit \(maxLine)")
        if i == 0 || i == 3 {
            let object = try? JSONSerialization.jsonObject(with: Data(bytes))
            require(object is [String: Any], "not one JSON object: \(String(decoding: bytes, as: UTF8.self))")
        }
    }
    return 0
}

@_cdecl("FuzzFormatters_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzFormatters)
}
