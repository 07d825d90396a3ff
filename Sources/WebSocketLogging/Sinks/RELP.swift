/// RELP, rsyslog's Reliable Event Logging Protocol (librelp's `doc/relp.html`): frames of
/// `TXNR SP COMMAND SP DATALEN [SP DATA] LF`; the client opens a session (`open`), sends each
/// record as a `syslog` command and the server answers every command with `rsp` and a status
/// (`200 OK`). A record counts as delivered only once its `rsp 200` is read.
enum RELP {
    /// Transaction numbers run 1...999,999,999 and wrap to 1 (0 is the server's own `serverclose`).
    static let maxTxnr = 999_999_999
    /// Commands sent before their answers are read: bounds the bytes in flight, and keeps both
    /// sides from blocking on full socket buffers.
    static let window = 128
    /// A frame longer than this is a broken stream, not a record (rsyslog's default maximum
    /// message size is 8 KiB).
    static let maxDataLength = 1 << 20

    struct Frame: Equatable {
        var txnr: Int
        var command: String
        var data: [UInt8]

        /// `rsp` data starts with a three-digit status.
        var status: Int? {
            guard data.count >= 3, data.prefix(3).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return data.prefix(3).reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
    }

    struct MalformedFrame: Error {}

    /// Appends one frame's bytes.
    static func encode(txnr: Int, command: StaticString, data: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.append(contentsOf: String(txnr).utf8)
        out.append(0x20)
        command.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(0x20)
        out.append(contentsOf: String(data.count).utf8)
        if !data.isEmpty {
            out.append(0x20)
            out.append(contentsOf: data)
        }
        out.append(0x0A)
    }

    /// Removes and returns the first complete frame of `buffer`; nil when more bytes are needed.
    static func decode(_ buffer: inout [UInt8]) throws(MalformedFrame) -> Frame? {
        var i = 0
        func number(until terminators: Set<UInt8>) throws(MalformedFrame) -> Int? {
            var value = 0
            var digits = 0
            while i < buffer.count {
                let b = buffer[i]
                if terminators.contains(b) {
                    guard digits > 0 else { throw MalformedFrame() }
                    return value
                }
                guard b >= 0x30 && b <= 0x39, digits < 10 else { throw MalformedFrame() }
                value = value * 10 + Int(b - 0x30)
                digits += 1
                i += 1
            }
            return nil
        }
        guard let txnr = try number(until: [0x20]) else { return nil }
        i += 1
        let commandStart = i
        while i < buffer.count && buffer[i] != 0x20 {
            guard i - commandStart < 32, (buffer[i] >= 0x61 && buffer[i] <= 0x7A) else { throw MalformedFrame() }
            i += 1
        }
        guard i < buffer.count else { return nil }
        guard i > commandStart else { throw MalformedFrame() }
        let command = String(decoding: buffer[commandStart..<i], as: UTF8.self)
        i += 1
        guard let length = try number(until: [0x20, 0x0A]) else { return nil }
        guard length <= maxDataLength else { throw MalformedFrame() }
        var data: [UInt8] = []
        if buffer[i] == 0x20 {
            guard length > 0 else { throw MalformedFrame() }
            guard buffer.count >= i + 1 + length + 1 else { return nil }
            data = Array(buffer[(i + 1)..<(i + 1 + length)])
            i += 1 + length
        } else if length > 0 {
            throw MalformedFrame()
        }
        guard buffer[i] == 0x0A else { throw MalformedFrame() }
        buffer.removeFirst(i + 1)
        return Frame(txnr: txnr, command: command, data: data)
    }
}

/// One RELP session on a connected socket (the writer thread's).
struct RELPSession {
    var socket: SyslogSocket
    private var nextTxnr = 1
    private var input: [UInt8] = []

    init(socket: SyslogSocket) { self.socket = socket }

    /// Sends `open` and reads its answer; false if the server refuses or the connection fails.
    mutating func open() -> Bool {
        let offers = "relp_version=0\nrelp_software=swift-websockets\ncommands=syslog"
        var frame: [UInt8] = []
        offers.utf8CString.dropLast().withUnsafeBytes { RELP.encode(txnr: take(), command: "open", data: $0, into: &frame) }
        guard frame.withUnsafeBytes({ socket.sendStream($0) }) == frame.count,
              let answer = readFrame(), answer.command == "rsp", answer.txnr == 1, answer.status == 200 else { return false }
        return true
    }

    /// Sends the messages (`ranges` of `bytes`) in windows and reads their answers. Returns how
    /// many, from the first, are settled: acknowledged (`rsp 200`) or refused (any other status:
    /// counted in `refused`). Stops at the first failure; the rest must be sent again.
    mutating func send(_ bytes: UnsafeRawBufferPointer, _ ranges: ArraySlice<Range<Int>>, refused: inout Int) -> Int {
        var settled = 0
        var frames: [UInt8] = []
        var start = ranges.startIndex
        while start < ranges.endIndex {
            let end = min(start + RELP.window, ranges.endIndex)
            frames.removeAll(keepingCapacity: true)
            let first = nextTxnr
            for range in ranges[start..<end] {
                RELP.encode(txnr: take(), command: "syslog", data: UnsafeRawBufferPointer(rebasing: bytes[range]), into: &frames)
            }
            guard frames.withUnsafeBytes({ socket.sendStream($0) }) == frames.count else { return settled }
            var expected = first
            for _ in start..<end {
                guard let answer = readFrame(), answer.command == "rsp", answer.txnr == expected else { return settled }
                if answer.status != 200 { refused += 1 }
                settled += 1
                expected = expected == RELP.maxTxnr ? 1 : expected + 1
            }
            start = end
        }
        return settled
    }

    /// Ends the session politely (`close`, then its answer, briefly) and closes the socket.
    mutating func close() {
        if socket.isOpen {
            var frame: [UInt8] = []
            RELP.encode(txnr: take(), command: "close", data: UnsafeRawBufferPointer(start: nil, count: 0), into: &frame)
            if frame.withUnsafeBytes({ socket.sendStream($0) }) == frame.count { _ = readFrame() }
        }
        socket.close()
    }

    private mutating func take() -> Int {
        defer { nextTxnr = nextTxnr == RELP.maxTxnr ? 1 : nextTxnr + 1 }
        return nextTxnr
    }

    /// The next frame from the server; nil on a broken, closed or timed-out connection or a
    /// malformed frame. A `serverclose` (the daemon is shutting down) is nil too.
    private mutating func readFrame() -> RELP.Frame? {
        while true {
            do {
                if let frame = try RELP.decode(&input) {
                    return frame.command == "serverclose" ? nil : frame
                }
            } catch {
                return nil
            }
            guard socket.receive(into: &input) else { return nil }
        }
    }
}
