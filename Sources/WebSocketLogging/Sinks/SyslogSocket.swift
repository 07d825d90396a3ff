#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The blocking socket a ``SyslogSink`` writes on, touched only by its writer thread.
/// Connect, send and receive time out (`ioTimeout`), on every transport (a Unix datagram
/// socket whose reader stopped blocks a send too), so that a daemon that stops reading turns
/// into a failed delivery (retried, then counted) instead of a writer stuck for ever.
struct SyslogSocket {
    private(set) var fd: Int32 = -1
    var isOpen: Bool { fd >= 0 }

    mutating func open(_ transport: SyslogSink.Transport, ioTimeout: UInt64) -> Bool {
        close()
        switch transport {
        case .udp(let host, let port): fd = Self.connectInet(host: host, port: port, type: SOCK_DGRAM, timeout: ioTimeout)
        case .tcp(let host, let port), .relp(let host, let port):
            fd = Self.connectInet(host: host, port: port, type: SOCK_STREAM, timeout: ioTimeout)
        case .unix(let path): fd = Self.connectUnix(path: path, timeout: ioTimeout)
        }
        return fd >= 0
    }

    /// Shortens (or restores) the send and receive timeouts, in nanoseconds: a closing sink's
    /// remaining time bounds the socket it already has.
    func setTimeout(_ nanoseconds: UInt64) {
        guard fd >= 0 else { return }
        Self.setTimeouts(fd, nanoseconds)
    }

    static func setTimeouts(_ fd: Int32, _ nanoseconds: UInt64) {
        let ns = max(nanoseconds, 1_000_000)  // 0 would mean "no timeout"
        var tv = timeval(tv_sec: Int(ns / 1_000_000_000), tv_usec: Int(ns % 1_000_000_000 / 1_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))  // also bounds connect
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// One datagram; false when it was not sent (the caller retries it).
    func sendDatagram(_ message: UnsafeRawBufferPointer) -> Bool {
        Glibc.send(fd, message.baseAddress, message.count, Int32(MSG_NOSIGNAL)) == message.count
    }

    /// Writes as much of `bytes` as the peer takes; returns how many bytes were written (all of
    /// them unless the connection broke or the send timed out).
    func sendStream(_ bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return offset
            }
            offset += n
        }
        return offset
    }

    /// Reads what is there (blocking up to the timeout) into `buffer`; false on end of stream,
    /// error or timeout.
    func receive(into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[..<n])
                return true
            }
            if n < 0 && errno == EINTR { continue }
            return false
        }
    }

    /// Whether a stream's peer has closed (or reset) it: a daemon that stopped closes its
    /// connections, and writing on regardless would hand a batch to a socket nobody reads.
    func peerHasClosed() -> Bool {
        var byte: UInt8 = 0
        let n = Glibc.recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n == 0 { return true }
        if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR }
        return false  // unexpected data (a syslog daemon says nothing on plain TCP): still open
    }

    static func connectInet(host: String, port: Int, type: __socket_type, timeout: UInt64 = 10_000_000_000) -> Int32 {
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
                setTimeouts(fd, timeout)
                if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return fd }
                Glibc.close(fd)
            }
            candidate = ai.pointee.ai_next
        }
        return -1
    }

    static func connectUnix(path: String, timeout: UInt64) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        setTimeouts(fd, timeout)
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
