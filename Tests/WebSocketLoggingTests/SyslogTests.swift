import Foundation
import Logging
import Testing
import WebSocketTestSupport
@testable import WebSocketCore
@testable import WebSocketLogging

/// A real rsyslogd on loopback (UDP, TCP and a Unix socket) writing what it parsed to a file.
final class Rsyslogd {
    let directory: String
    let udpPort = freePort(SOCK_DGRAM)
    let tcpPort = freePort(SOCK_STREAM)
    var socketPath: String { directory + "/log.sock" }
    var outputPath: String { directory + "/out.log" }
    var process: ChildProcess?

    init() throws {
        directory = NSTemporaryDirectory() + "ws-rsyslog-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = """
            global(workDirectory="\(directory)")
            module(load="imudp")
            module(load="imtcp")
            module(load="imuxsock" SysSock.Use="off")
            input(type="imudp" address="127.0.0.1" port="\(udpPort)")
            input(type="imtcp" address="127.0.0.1" port="\(tcpPort)")
            input(type="imuxsock" Socket="\(socketPath)" UseSpecialParser="off" ParseHostname="on")
            template(name="t" type="string" string="%pri%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n")
            *.* action(type="omfile" file="\(outputPath)" template="t")
            """
        try config.write(toFile: directory + "/rsyslog.conf", atomically: true, encoding: .utf8)
        process = try ChildProcess("/usr/sbin/rsyslogd", ["-n", "-f", directory + "/rsyslog.conf", "-i", directory + "/rsyslogd.pid"],
                                   output: directory + "/rsyslogd.out")
        // Ready when the TCP input accepts and the Unix socket exists (bounded: 10 s).
        for _ in 0..<200 {
            if access(socketPath, F_OK) == 0, case let fd = SyslogSocket.connectInet(host: "127.0.0.1", port: tcpPort, type: SOCK_STREAM), fd >= 0 {
                close(fd)
                return
            }
            usleep(50_000)
        }
        stop()
        throw CocoaError(.fileNoSuchFile)
    }

    /// Lines parsed so far.
    var lines: [String] {
        ((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Waits (at most 10 s) until a line containing `text` arrives.
    func waitForLine(containing text: String) -> String? {
        for _ in 0..<200 {
            if let line = lines.first(where: { $0.contains(text) }) { return line }
            usleep(50_000)
        }
        return nil
    }

    func stop() {
        process?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite("Syslog: RFC 5424 through a real rsyslogd", .serialized)
struct SyslogTests {
    @Test("the formatter writes RFC 5424 with structured data")
    func format() throws {
        let formatter = SyslogFormatter(facility: .local0, appName: "chat server", hostname: "h1")
        let line = try WebSocketLoggingTests.format(record(.connectionClosed(sampleClosed), connection: fixedContext(),
                                                           metadata: ["tenant": "a]b\"c"]), formatter)
        #expect(line.hasPrefix("<134>1 2025-11-25T13:52:30.123456Z h1 chatserver \(getpid()) connection_closed [ws@32473 connection_id=\"\(fixedContext().id)\" remote_addr=\"127.0.0.1\""))
        #expect(line.contains(" close_code=\"1000\" "))
        #expect(line.contains("[meta@32473 tenant=\"a\\]b\\\"c\"] connection closed (1000 OK)\n"))
        let plain = try WebSocketLoggingTests.format(record(nil, message: "hello\nworld", level: .error), formatter)
        #expect(plain.hasSuffix(" log - hello\\nworld\n"))
        #expect(plain.hasPrefix("<131>1 "))
    }

    @Test("records arrive in rsyslog over UDP, TCP and a Unix socket with their structured data", arguments: ["udp", "tcp", "unix"])
    func roundTrip(transport: String) throws {
        let daemon = try Rsyslogd()
        defer { daemon.stop() }
        let sink: SyslogSink
        switch transport {
        case "udp": sink = SyslogSink(transport: .udp(host: "127.0.0.1", port: daemon.udpPort))
        case "tcp": sink = SyslogSink(transport: .tcp(host: "127.0.0.1", port: daemon.tcpPort))
        default: sink = SyslogSink(transport: .unix(path: daemon.socketPath))
        }
        let logger = Logger(label: "websockets.server") { StructuredLogHandler.syslog(label: $0, sink: sink) }
        let events = WebSocketEventLogger(logger: logger).with(connection: fixedContext(client: "203.0.113.8"))
        var closed = sampleClosed
        closed.reasonReceived = "bye]\n\"quoted\" \(transport)"
        events.emit(.connectionClosed(closed))
        logger.info("application record \(transport)", metadata: ["tenant": "acme"])
        sink.flush()
        let line = try #require(daemon.waitForLine(containing: "|connection_closed|"), "nothing arrived over \(transport)")
        let fields = line.split(separator: "|", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        #expect(fields[0] == "14")                 // user.info
        #expect(fields[1] == "websockets")
        #expect(fields[2] == String(getpid()))
        #expect(fields[4].hasPrefix("[ws@32473 connection_id=\"\(fixedContext().id)\" remote_addr=\"203.0.113.8\""))
        #expect(fields[4].contains("close_reason_received=\"bye\\]\\n\\\"quoted\\\" \(transport)\""))
        #expect(fields[5] == "connection closed (1000 OK)")
        let app = try #require(daemon.waitForLine(containing: "application record \(transport)"))
        #expect(app.contains("|log|[meta@32473 tenant=\"acme\"]|"))
        sink.close()
    }

    @Test("destinations parse from their URL forms, and a bad one names what is wrong")
    func transports() throws {
        #expect(try SyslogSink.Transport(parsing: "relp://127.0.0.1:2514") == .relp(host: "127.0.0.1", port: 2514))
        #expect(try SyslogSink.Transport(parsing: "TCP://logs.internal:514") == .tcp(host: "logs.internal", port: 514))
        #expect(try SyslogSink.Transport(parsing: "udp://[::1]:514") == .udp(host: "::1", port: 514))
        #expect(try SyslogSink.Transport(parsing: "unix:/dev/log") == .unix(path: "/dev/log"))
        #expect(try SyslogSink.Transport(parsing: "unix:///dev/log") == .unix(path: "/dev/log"))
        #expect(SyslogSink.Transport.udp(host: "::1", port: 514).description == "udp://[::1]:514")
        for (text, problem) in [("relp://:514", "the host is missing"), ("tcp://h:99999", "the port must be 1-65535"),
                                ("unix:", "the socket path is missing"), ("h:514", "expected relp://"), ("ftp://h:1", "unknown scheme")] {
            #expect(throws: SyslogSink.TransportError.self) { try SyslogSink.Transport(parsing: text) }
            do { _ = try SyslogSink.Transport(parsing: text) } catch { #expect(error.description.hasPrefix("\(text): \(problem)")) }
        }
    }

    @Test("RELP frames: encoded as TXNR SP COMMAND SP DATALEN [SP DATA] LF, decoded from any split of the stream")
    func relpFrames() throws {
        var bytes: [UInt8] = []
        Array("<14>1 hello".utf8).withUnsafeBytes { RELP.encode(txnr: 7, command: "syslog", data: $0, into: &bytes) }
        RELP.encode(txnr: 8, command: "close", data: UnsafeRawBufferPointer(start: nil, count: 0), into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "7 syslog 11 <14>1 hello\n8 close 0\n")
        let offer = "200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,https://github.com/rsyslog/librelp\ncommands=syslog"
        let answers = Array("1 rsp \(offer.utf8.count) \(offer)\n2 rsp 6 200 OK\n0 serverclose 0\n".utf8)
        for split in 0...answers.count {  // a frame may arrive in pieces
            var buffer = Array(answers[..<split])
            var frames: [RELP.Frame] = []
            while let frame = try RELP.decode(&buffer) { frames.append(frame) }
            buffer += answers[split...]
            while let frame = try RELP.decode(&buffer) { frames.append(frame) }
            #expect(frames.map(\.txnr) == [1, 2, 0] && frames.map(\.command) == ["rsp", "rsp", "serverclose"])
            #expect(frames.first?.status == 200 && frames[1].data == Array("200 OK".utf8) && buffer.isEmpty)
        }
        for malformed in ["x rsp 6 200 OK\n", "1 rsp 3 200 OK\n", "1 RSP 0\n", "1 rsp 0 \n", "1 rsp 99999999 ", "12345678901 rsp 0\n"] {
            var buffer = Array(malformed.utf8)
            #expect(throws: RELP.MalformedFrame.self, "\(malformed)") { _ = try RELP.decode(&buffer) }
        }
    }
}
