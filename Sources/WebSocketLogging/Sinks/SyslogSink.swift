#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends lines (from ``SyslogFormatter``) to a syslog daemon, from a thread of its own.
///
/// - `.udp`: one datagram per message (RFC 5426).
/// - `.tcp`: octet-counted framing, `LENGTH SP MESSAGE` (RFC 6587 §3.4.1); reconnects on the
///   next batch after a failure.
/// - `.unix`: one datagram per message on a Unix socket (e.g. `/dev/log` or rsyslog's `imuxsock`).
///
/// The trailing newline of each line is removed. Messages that cannot be delivered (daemon
/// down) are lost after one reconnection attempt per batch; the connection's work is never held up.
public final class SyslogSink: LogSink, @unchecked Sendable {
    /// How messages reach the daemon.
    public enum Transport: Sendable, Hashable {
        case udp(host: String, port: Int)
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    /// How this sink reaches the daemon.
    public let transport: Transport
    private let connection: Connection
    private let writer: BackgroundWriter

    /// - Parameters:
    ///   - transport: where and how to send.
    ///   - bufferSize: bytes buffered before `overflowPolicy` applies.
    ///   - overflowPolicy: `.drop` by default: a dead daemon must not block the server.
    public init(transport: Transport, bufferSize: Int = 1 << 20, overflowPolicy: OverflowPolicy = .drop) {
        self.transport = transport
        let connection = Connection(transport: transport)
        self.connection = connection
        writer = BackgroundWriter(bufferSize: bufferSize, overflowPolicy: overflowPolicy,
                                  deliver: { batch, ends in connection.send(batch, ends: ends) })
    }

    public func write(_ line: UnsafeRawBufferPointer) { writer.write(line) }
    public func writeDropReport(_ line: UnsafeRawBufferPointer) { writer.write(line, bounded: false) }
    public func flush() { writer.flush() }
    public func takeDroppedCount() -> Int { writer.takeDroppedCount() }

    /// Flushes and closes the socket.
    public func close() {
        writer.close()
        connection.close()
    }

    /// The socket, touched only by the writer thread (and `close` after it stopped).
    final class Connection: @unchecked Sendable {
        let transport: Transport
        var fd: Int32 = -1

        init(transport: Transport) { self.transport = transport }

        func send(_ batch: [UInt8], ends: [Int]) {
            batch.withUnsafeBytes { all in
                var start = 0
                var framed: [UInt8] = []
                for end in ends {
                    var message = UnsafeRawBufferPointer(rebasing: all[start..<end])
                    start = end
                    if message.last == 0x0A { message = UnsafeRawBufferPointer(rebasing: message.dropLast()) }
                    switch transport {
                    case .tcp:
                        framed.append(contentsOf: String(message.count).utf8)
                        framed.append(UInt8(ascii: " "))
                        framed.append(contentsOf: message)
                    case .udp, .unix:
                        sendDatagram(message)
                    }
                }
                if case .tcp = transport {
                    for _ in 0..<2 {
                        if fd < 0 { fd = open() }
                        guard fd >= 0 else { return }
                        if framed.withUnsafeBytes({ writeFully(fd, $0) }) { return }
                        close()  // broken connection: reconnect once
                    }
                }
            }
        }

        func sendDatagram(_ message: UnsafeRawBufferPointer) {
            if fd < 0 { fd = open() }
            guard fd >= 0 else { return }
            if Glibc.send(fd, message.baseAddress, message.count, Int32(MSG_NOSIGNAL)) < 0 {
                close()
            }
        }

        func open() -> Int32 {
            switch transport {
            case .udp(let host, let port): return Self.connectInet(host: host, port: port, type: SOCK_DGRAM)
            case .tcp(let host, let port): return Self.connectInet(host: host, port: port, type: SOCK_STREAM)
            case .unix(let path): return Self.connectUnix(path: path)
            }
        }

        func close() {
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }

        static func connectInet(host: String, port: Int, type: __socket_type) -> Int32 {
            var hints = addrinfo()
            hints.ai_socktype = Int32(type.rawValue)
            hints.ai_flags = AI_NUMERICSERV
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else { return -1 }
            defer { freeaddrinfo(result) }
            var candidate: UnsafeMutablePointer<addrinfo>? = info
            while let ai = candidate {
                let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
                if fd >= 0 {
                    if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return fd }
                    Glibc.close(fd)
                }
                candidate = ai.pointee.ai_next
            }
            return -1
        }

        static func connectUnix(path: String) -> Int32 {
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { Glibc.close(fd); return -1 }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                }
            }
            if ok { return fd }
            Glibc.close(fd)
            return -1
        }
    }
}
