// Ship the library's records to a syslog daemon as RFC 5424 messages (see rsyslog.conf): MSGID is
// the event name, the connection context and the event's fields are structured data.
//
//   swift run ShipToSyslog [PORT] [SYSLOG]     SYSLOG: tcp:HOST:PORT (default tcp:127.0.0.1:5514),
//                                              udp:HOST:PORT or unix:PATH (e.g. unix:/dev/log)
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import WebSocketLogging
import WebSockets

let arguments = CommandLine.arguments.dropFirst()
let port = arguments.first.flatMap { Int($0) } ?? 8765
let destination = arguments.dropFirst().first ?? "tcp:127.0.0.1:5514"

func transport(_ text: String) -> SyslogSink.Transport? {
    let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
    guard parts.count == 2 else { return nil }
    if parts[0] == "unix" { return .unix(path: parts[1]) }
    guard let colon = parts[1].lastIndex(of: ":"), let p = Int(parts[1][parts[1].index(after: colon)...]) else { return nil }
    let host = String(parts[1][..<colon])
    switch parts[0] {
    case "tcp": return .tcp(host: host, port: p)   // octet-counted framing (RFC 6587)
    case "udp": return .udp(host: host, port: p)
    default: return nil
    }
}
guard let syslogTransport = transport(destination) else { fatalError("SYSLOG must be tcp:HOST:PORT, udp:HOST:PORT or unix:PATH, not \(destination)") }

// `.drop` (the default for syslog): if the daemon is down, records are dropped and counted
// rather than holding up connections; the count is reported by a log_records_dropped record.
let sink = SyslogSink(transport: syslogTransport, overflowPolicy: .drop)
let formatter = SyslogFormatter(facility: .local0, appName: "chat-gateway")
LoggingSystem.bootstrap({ label, provider in
    SyslogLogHandler(label: label, sink: sink, formatter: formatter, metadataProvider: provider)
}, metadataProvider: ConnectionContext.metadataProvider)

let server = try await WebSocketServer.serve(host: "127.0.0.1", port: port) { ws in
    for try await message in ws.messages { try await ws.send(message) }
}
print("listening on 127.0.0.1:\(server.port); logging to \(destination)")
fflush(nil)
let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "syslog-demo"))
try await group.run()
sink.flush()
