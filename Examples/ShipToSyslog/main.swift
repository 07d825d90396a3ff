// Ship the library's records to a syslog daemon (see rsyslog.conf): RFC 5424 messages whose MSG
// is the record's JSON line, so that rsyslog writes the same JSON lines as `websockets serve`.
//
//   swift run ShipToSyslog [PORT] [SYSLOG]     SYSLOG: relp://HOST:PORT (default relp://127.0.0.1:2514),
//                                              tcp://HOST:PORT, udp://HOST:PORT or unix:PATH (e.g. unix:/dev/log)
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import WebSocketLogging
import WebSockets

let arguments = CommandLine.arguments.dropFirst()
let port = arguments.first.flatMap { Int($0) } ?? 8765
let destination = arguments.dropFirst().first ?? "relp://127.0.0.1:2514"
let transport: SyslogSink.Transport
do {
    transport = try SyslogSink.Transport(parsing: destination)
} catch {
    FileHandle.standardError.write(Data("ShipToSyslog: \(error)\n".utf8))
    exit(64)
}

// While the daemon is unreachable, records wait (1 MiB) and go out once it is back; past that
// they are dropped and counted, and a log_records_dropped record says how many. Over RELP every
// record is acknowledged, so a daemon restart loses nothing.
let sink = SyslogSink(transport: transport)
let formatter = SyslogFormatter(facility: .local0, appName: "chat-gateway", body: .json)
LoggingSystem.bootstrap({ label, provider in
    StructuredLogHandler.syslog(label: label, sink: sink, formatter: formatter, metadataProvider: provider)
}, metadataProvider: ConnectionContext.metadataProvider)

let server = try await WebSocketServer.serve(host: "127.0.0.1", port: port) { ws in
    for try await message in ws.messages { try await ws.send(message) }
}
print("listening on 127.0.0.1:\(server.port); logging to \(transport)")
fflush(nil)
let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "syslog-demo"))
try await group.run()
sink.close()  // delivers what is buffered (up to 5 s if the daemon is down), then reports any loss
