import NIOCore
import NIOHTTP1

/// The sans-I/O WebSocket protocol engine for one connection (RFC 6455), serving either role.
///
/// Bytes in, typed events and bytes out; no sockets, clocks or threads. The I/O layer:
/// 1. feeds transport bytes with ``receive(_:)`` and the end of the stream with ``receiveEOF()``;
/// 2. drains ``nextOutput()`` to the transport after every call, and closes the transport when
///    ``transportCloseRequested`` becomes true (once the output is flushed);
/// 3. drains ``nextEvent()`` for the application and, when logging DEBUG, ``nextTrace()``;
/// 4. arms a close timer while ``closeExpected`` is true: timeouts are not the engine's business.
///
/// Peer violations never throw: the engine fails the connection with the close code that
/// ``ProtocolViolation/closeCode`` assigns, records ``failure``, and discards further input.
/// Local misuse (sending while not open) throws ``EngineError``.
public struct WebSocketEngine: Sendable {
    /// Client (masks what it sends) or server (requires masked frames).
    public let role: Role
    /// Limits and behaviour fixed at creation.
    public let configuration: EngineConfiguration
    /// CONNECTING, OPEN, CLOSING or CLOSED (RFC 6455 §4–7).
    public private(set) var state: ConnectionState

    /// Whether ``ProtocolTrace`` values are recorded. Turn on while the logger's level is DEBUG
    /// or lower; it may change at any time, so a live connection picks up a new level.
    public var isTracing = false

    /// The closing handshake's progress: everything about closing in one value. The properties
    /// below read it.
    public private(set) var closeProgress = CloseProgress.none

    /// The close frame this endpoint sent, if any.
    public var closeSent: CloseFrame? {
        if case .closing(let c) = closeProgress { c.sent } else { nil }
    }
    /// The close frame the peer sent, if any.
    public var closeReceived: CloseFrame? {
        switch closeProgress {
        case .none: nil
        case .held(_, let received): received
        case .closing(let c): c.received
        }
    }
    /// Who started the closing handshake; set once known.
    public var closeInitiator: CloseInitiator? {
        switch closeProgress {
        case .none, .held(.violation, _): nil
        case .held(.reply, _): .remote
        case .closing(let c): c.initiator
        }
    }
    /// The violation that made this engine fail the connection, if one did.
    public var failure: ProtocolViolation? {
        if case .closing(let c) = closeProgress { c.failure } else { nil }
    }
    /// What ``EngineConfiguration/deferClose`` holds back until ``releaseHeldClose()``: a
    /// violation, or the reply to the peer's close frame. Input is ignored meanwhile; sending
    /// still works.
    public var heldClose: HeldClose? {
        if case .held(let held, _) = closeProgress { held } else { nil }
    }
    /// True once the engine wants the transport closed (after flushing ``nextOutput()``).
    @inlinable
    public var transportCloseRequested: Bool {
        if case .closing(let c) = closeProgress { c.transportCloseRequested } else { false }
    }
    /// Running counters for the closing log record.
    public private(set) var statistics = ConnectionStatistics()

    /// The negotiated permessage-deflate (or other per-message compression), if any. Setting it
    /// allows RSV1 on the first frame of data messages (RFC 7692 §6).
    public var compression: (any MessageCompression)? {
        didSet { parser.allowedReservedBits = compression == nil ? 0 : 0x40 }
    }

    private var parser: FrameParser
    private var encoder: FrameEncoder
    private var allocator = ByteBufferAllocator()

    private var inbound = ByteBuffer()
    private var phase = ReadPhase.header
    private var message: MessageAssembly?
    private var controlPayload = ByteBuffer()
    /// Input is ignored: CLOSED, or the close progress stops it.
    private var discarding: Bool { state == .closed || closeProgress.stopsInput }

    private var outgoingFragmented: Opcode?
    /// The most pings waiting for their pong: beyond it the oldest is forgotten, so a peer
    /// that never answers cannot grow the list.
    public static let maxPendingPings = 16
    private var outputQueue = CircularBuffer<ByteBuffer>(initialCapacity: 4)
    private var scratch = ByteBuffer()
    private var events = CircularBuffer<WebSocketEvent>(initialCapacity: 4)
    /// Made at the first trace: a connection that never traces (INFO and above) never allocates it.
    private var traces: CircularBuffer<ProtocolTrace>?

    private var nextPingID: UInt64 = 0
    private var pendingPings: [(id: PingID, payload: ByteBuffer)] = []

    private enum ReadPhase {
        case header
        case payload(FrameHeader, received: Int, frameStart: Int)
    }

    private struct MessageAssembly {
        var kind: Opcode
        var buffer: ByteBuffer
        /// Bytes of the message so far (decompressed, for a compressed message).
        var size = 0
        var validator = UTF8Validator()
        var deliveredFragments = 0
        /// RSV1 was set on the first frame: the payload is deflated (RFC 7692 §6.1).
        var compressed = false
        /// The current frame's compressed payload, inflated when the frame ends.
        var compressedFrame = ByteBuffer()
    }

    /// - Parameters:
    ///   - role: server or client.
    ///   - configuration: limits; see ``EngineConfiguration``.
    ///   - state: `.connecting` when the engine also runs the opening handshake (the default),
    ///     `.open` when the I/O layer completed it elsewhere.
    ///   - generator: masking-key source for a client; the system CSPRNG by default.
    public init(role: Role, configuration: EngineConfiguration = .init(), state: ConnectionState = .connecting,
                generator: any RandomNumberGenerator & Sendable = BufferedSystemRandomNumberGenerator()) {
        precondition(state == .connecting || state == .open, "an engine starts CONNECTING or OPEN")
        self.role = role
        self.configuration = configuration
        self.state = state
        self.parser = FrameParser(role: role, maxFrameSize: configuration.effectiveMaxFrameSize)
        self.encoder = FrameEncoder(role: role, generator: generator)
    }

    // MARK: - Opening handshake

    /// Server: validates the upgrade request and returns the response to send. On success the
    /// engine is OPEN; on rejection it is CLOSED and the I/O layer sends the rejection response.
    public mutating func accept(_ request: HTTPRequestHead,
                                options: ServerHandshakeOptions = .init()) -> Result<ServerHandshakeResult, HandshakeRejection> {
        precondition(role == .server, "accept(_:) is the server's side of the handshake")
        trace(.handshakeRequest(request, .received))
        let result = ServerHandshake.accept(request, options: options)
        switch result {
        case .success(let accepted):
            compression = accepted.compression
            trace(.handshakeResponse(accepted.response, .sent))
            setState(.open)
            processInboundOrFail()
        case .failure(let rejection):
            trace(.handshakeResponse(rejection.responseHead(serverHeader: options.serverHeader), .sent))
            setState(.closed)
        }
        return result
    }

    /// Server: the application refused the connection after ``accept(_:options:)`` was not
    /// called or before it (e.g. `processRequest` answered). Moves to CLOSED.
    public mutating func reject(request: HTTPRequestHead, response: HTTPResponseHead) {
        trace(.handshakeRequest(request, .received))
        trace(.handshakeResponse(response, .sent))
        setState(.closed)
    }

    /// Client: records the request the I/O layer is about to send.
    public mutating func request(_ handshake: ClientHandshake) -> HTTPRequestHead {
        precondition(role == .client, "request(_:) is the client's side of the handshake")
        let head = handshake.request()
        trace(.handshakeRequest(head, .sent))
        return head
    }

    /// Client: validates the server's response. OPEN on success, CLOSED on failure.
    public mutating func processResponse(_ response: HTTPResponseHead,
                                         for handshake: ClientHandshake) throws(HandshakeError) -> ClientHandshakeResult {
        precondition(role == .client, "processResponse(_:for:) is the client's side of the handshake")
        trace(.handshakeResponse(response, .received))
        do {
            let result = try handshake.validate(response)
            setState(.open)
            processInboundOrFail()
            return result
        } catch {
            setState(.closed)
            throw error
        }
    }

    // MARK: - Input

    /// Feeds bytes read from the transport. Frames are processed once the connection is open;
    /// bytes received earlier (e.g. right behind a 101 response) are kept until then.
    public mutating func receive(_ data: ByteBuffer) {
        statistics.wireBytesIn += data.readableBytes
        guard !discarding else { return }
        if inbound.readableBytes == 0 {
            inbound = data
        } else {
            // Leftovers are at most a partial frame header (payload bytes are always consumed).
            var data = data
            inbound.writeBuffer(&data)
        }
        guard state >= .open else { return }
        processInboundOrFail()
    }

    private mutating func processInboundOrFail() {
        do {
            try processInbound()
        } catch {
            if configuration.deferClose && state == .open {
                closeProgress = .held(.violation(error), received: nil)
            } else {
                fail(error)
            }
        }
        if inbound.readableBytes == 0 { inbound = ByteBuffer() }
    }

    /// The peer closed the transport (or it failed). The connection is CLOSED; without a
    /// received close frame the close code is 1006.
    public mutating func receiveEOF() {
        guard state != .closed else { return }
        var ended: ClosingHandshake
        switch closeProgress {
        case .none:
            ended = ClosingHandshake(initiator: .abnormal, inputEnded: true)
        case .held(.violation(let violation), _):  // the peer left first; the violation is still the story
            trace(.errorHandled(violation))
            ended = ClosingHandshake(initiator: .abnormal, failure: violation, inputEnded: true)
        case .held(.reply, let received):
            ended = ClosingHandshake(initiator: .remote, received: received, inputEnded: true)
        case .closing(let c):
            ended = c
            ended.inputEnded = true
            if ended.sent == nil, ended.received == nil { ended.initiator = .abnormal }
        }
        trace(.close(.eofReceived))
        closeProgress = .closing(ended)
        setState(.closed)
    }

    private mutating func processInbound() throws(ProtocolViolation) {
        while !discarding {
            switch phase {
            case .header:
                guard let header = try parser.parseHeader(&inbound) else { return }
                if try takeWholeText(header) { continue }
                let frameStart = try beginFrame(header)
                phase = .payload(header, received: 0, frameStart: frameStart)
                if header.payloadLength == 0 {
                    phase = .header
                    try endFrame(header, frameStart: frameStart)
                }
            case .payload(let header, let received, let frameStart):
                let n = min(header.payloadLength - received, inbound.readableBytes)
                guard n > 0 else { return }
                let chunk = inbound.readSlice(length: n)!
                try consumePayload(header, chunk, offset: received)
                if received + n == header.payloadLength {
                    phase = .header
                    try endFrame(header, frameStart: frameStart)
                } else {
                    phase = .payload(header, received: received + n, frameStart: frameStart)
                    return
                }
            }
        }
    }

    /// The common case of a text message: one frame, uncompressed, all of it already read.
    /// Its payload is unmasked and validated straight into the `String` handed to the user
    /// (one allocation, none for a short one), with no assembly buffer. Returns false, having
    /// consumed nothing, when the frame is not such a message; the general path then applies
    /// the same rules.
    private mutating func takeWholeText(_ header: FrameHeader) throws(ProtocolViolation) -> Bool {
        let n = header.payloadLength
        guard header.opcode == .text, header.fin, !header.rsv1, message == nil, !isTracing,
              !configuration.deliverFragments, n <= configuration.maxMessageSize,
              inbound.readableBytes >= n else { return false }
        statistics.framesIn += 1
        var valid = true
        let text = inbound.withUnsafeReadableBytes { source in
            String(unsafeUninitializedCapacity: n) { destination in
                let payload = UnsafeRawBufferPointer(rebasing: source[..<n])
                if let key = header.maskingKey {
                    key.copy(from: payload, to: UnsafeMutableRawBufferPointer(destination))
                } else {
                    UnsafeMutableRawBufferPointer(destination).copyMemory(from: payload)
                }
                // §8.1: invalid UTF-8 fails the connection; `String` alone would repair it.
                var validator = UTF8Validator()
                valid = validator.validate(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: destination[..<n])))
                    && validator.isComplete
                return n
            }
        }
        inbound.moveReaderIndex(forwardBy: n)
        if !valid { throw .invalidUTF8 }
        events.append(.message(.text(text)))
        statistics.messagesIn += 1
        statistics.payloadBytesIn += n
        return true
    }

    /// Applies the rules that need message context, before any payload is buffered.
    /// Returns the offset in the message buffer where this frame's payload starts.
    private mutating func beginFrame(_ header: FrameHeader) throws(ProtocolViolation) -> Int {
        statistics.framesIn += 1
        if header.opcode.isControl {
            // RFC 7692 §6.1: RSV1 is for data messages only.
            if header.rsv1 { throw .compressedBitMisplaced }
            controlPayload = allocator.buffer(capacity: header.payloadLength)
            return 0
        }
        switch header.opcode {
        case .continuation:
            // §5.4: a continuation frame needs a message in progress.
            guard message != nil else { throw .unexpectedContinuation }
            // RFC 7692 §6.1: only the first frame of a message carries RSV1.
            if header.rsv1 { throw .compressedBitMisplaced }
        default:
            // §5.4: "The fragments of one message MUST NOT be interleaved between the fragments of another."
            guard message == nil else { throw .expectedContinuation }
            message = MessageAssembly(kind: header.opcode, buffer: ByteBuffer(), compressed: header.rsv1)
        }
        // Limits are checked against the declared length before any payload is buffered
        // (compressed bytes against the same limit; the inflated size while inflating), and
        // written so that no sum can overflow whatever the configured limit. No capacity is
        // reserved from the declared length: buffers grow with the bytes that actually arrive.
        let limit = configuration.maxMessageSize
        if message!.compressed {
            if header.payloadLength > limit { throw .messageTooBig(limit: limit) }
            return message!.buffer.writerIndex
        }
        if header.payloadLength > limit - message!.size { throw .messageTooBig(limit: limit) }
        if message!.buffer.readableBytes == 0 {
            // At most what has arrived: a declared length alone commits no memory.
            message!.buffer.reserveCapacity(min(header.payloadLength, inbound.readableBytes))
        }
        return message!.buffer.writerIndex
    }

    private mutating func consumePayload(_ header: FrameHeader, _ chunk: ByteBuffer, offset: Int) throws(ProtocolViolation) {
        if header.opcode.isControl {
            controlPayload.writeWebSocketBytes(chunk, maskingKey: header.maskingKey, offset: offset)
            return
        }
        // §7.1.2: after sending a close frame, the peer's data frames are still its messages
        // until its own close frame arrives (`discarding` stops input once that happened).
        if message!.compressed {
            message!.compressedFrame.writeWebSocketBytes(chunk, maskingKey: header.maskingKey, offset: offset)
            return
        }
        let start = message!.buffer.writerIndex
        if header.maskingKey == nil, message!.buffer.readableBytes == 0, chunk.readableBytes == header.payloadLength {
            message!.buffer = chunk  // unmasked and complete: adopt the slice, no copy
        } else {
            message!.buffer.writeWebSocketBytes(chunk, maskingKey: header.maskingKey, offset: offset)
        }
        if message!.kind == .text {
            // §8.1: fail as soon as the bytes so far cannot be a prefix of valid UTF-8.
            var validator = message!.validator
            let skip = start - message!.buffer.readerIndex
            let valid = message!.buffer.withUnsafeReadableBytes { all in
                validator.validate(UnsafeRawBufferPointer(rebasing: all[skip...]))
            }
            message!.validator = validator
            if !valid { throw .invalidUTF8 }
        }
    }

    private mutating func endFrame(_ header: FrameHeader, frameStart: Int) throws(ProtocolViolation) {
        if header.opcode.isControl {
            let payload = controlPayload
            controlPayload = ByteBuffer()
            if isTracing {
                trace(.frame(Frame(fin: header.fin, rsv1: header.rsv1, rsv2: header.rsv2, rsv3: header.rsv3,
                                   opcode: header.opcode, payload: payload), .received))
            }
            try handleControl(header.opcode, payload)
            return
        }
        if message!.compressed {
            let wire = isTracing ? message!.compressedFrame : ByteBuffer()
            let start = message!.buffer.writerIndex
            do {
                try inflateFrame(fin: header.fin)
            } catch {
                if isTracing {  // what arrived, as it arrived: it could not be inflated
                    trace(.frame(Frame(fin: header.fin, rsv1: header.rsv1, rsv2: header.rsv2, rsv3: header.rsv3,
                                       opcode: header.opcode, payload: wire), .received))
                }
                throw error
            }
            if isTracing {
                let inflated = message!.buffer.getSlice(at: start, length: message!.buffer.writerIndex - start) ?? ByteBuffer()
                trace(.compressedFrame(Frame(fin: header.fin, rsv1: header.rsv1, rsv2: header.rsv2, rsv3: header.rsv3,
                                             opcode: header.opcode, payload: wire), .received, inflated: inflated))
            }
        } else {
            if isTracing {
                let payload = message!.buffer.getSlice(at: frameStart, length: header.payloadLength) ?? ByteBuffer()
                trace(.frame(Frame(fin: header.fin, rsv1: header.rsv1, rsv2: header.rsv2, rsv3: header.rsv3,
                                   opcode: header.opcode, payload: payload), .received))
            }
            message!.size += header.payloadLength
        }
        if header.fin, message!.kind == .text, !message!.validator.isComplete { throw .invalidUTF8 }
        if configuration.deliverFragments {
            let payload = message!.buffer
            message!.buffer = ByteBuffer()
            events.append(.fragment(MessageFragment(kind: message!.kind, payload: payload,
                                                    isFirst: message!.deliveredFragments == 0, isFinal: header.fin)))
            message!.deliveredFragments += 1
        }
        if header.fin {
            // Taken out, not copied: a copy of the assembly (two buffers) costs retains per message.
            let m = message.take()!
            if !configuration.deliverFragments {
                switch m.kind {
                case .text: events.append(.message(.text(String(buffer: m.buffer))))
                default: events.append(.message(.binary(m.buffer)))
                }
            }
            statistics.messagesIn += 1
            statistics.payloadBytesIn += m.size
        }
    }

    /// Inflates the frame just received into the message buffer, bounded by `maxMessageSize`,
    /// and validates the new text incrementally.
    private mutating func inflateFrame(fin: Bool) throws(ProtocolViolation) {
        guard let compression else { throw .reservedBitsSet(bits: 0x40) }
        let start = message!.buffer.writerIndex
        let frame = message!.compressedFrame
        message!.compressedFrame = ByteBuffer()
        var output = message!.buffer
        message!.buffer = ByteBuffer()  // unique: inflate appends without copying
        do {
            try compression.decompress(frame, isFinal: fin, into: &output, limit: configuration.maxMessageSize - message!.size)
        } catch .messageTooBig {
            // The inflater saw only what was left of the limit: name the configured limit.
            throw .messageTooBig(limit: configuration.maxMessageSize)
        }
        message!.size += output.writerIndex - start
        message!.buffer = output
        if message!.kind == .text {
            var validator = message!.validator
            let skip = start - output.readerIndex
            let valid = output.withUnsafeReadableBytes { validator.validate(UnsafeRawBufferPointer(rebasing: $0[skip...])) }
            message!.validator = validator
            if !valid { throw .invalidUTF8 }
        }
    }

    private mutating func handleControl(_ opcode: Opcode, _ payload: ByteBuffer) throws(ProtocolViolation) {
        switch opcode {
        case .ping:
            // §5.5.2: answer with a pong carrying the same application data.
            if state == .open { emitFrame(opcode: .pong, fin: true, payload: payload) }
            events.append(.ping(payload))
        case .pong:
            var acknowledged: PingID?
            if let index = pendingPings.firstIndex(where: { $0.payload == payload }) {
                acknowledged = pendingPings[index].id
                pendingPings.removeFirst(index + 1)
            }
            events.append(.pong(payload, acknowledged: acknowledged))
        case .close:
            let frame = try CloseFrame(parsing: payload)
            events.append(.closeReceived(frame))
            // §5.5.1: no more frames are expected after a close (input stops in every branch).
            if state == .open {
                // §5.5.1: reply with a close frame, echoing the status code (1000 when there was
                // none). Messages that arrived before it in this input are answered first when
                // the I/O layer asks for it: the reply waits for ``releaseHeldClose()``.
                let code = frame.code == .noStatusReceived ? CloseCode.normalClosure : frame.code
                let reply = CloseFrame(code: code, reason: frame.reason)
                if configuration.deferClose && events.contains(where: \.isData) {
                    closeProgress = .held(.reply(reply), received: frame)
                    return
                }
                closeProgress = .closing(ClosingHandshake(initiator: .remote, received: frame, inputEnded: true))
                sendCloseFrame(reply)
                setState(.closing)
            } else {  // CLOSING: the reply to our close
                closeProgress.modifyClosing { c in
                    c.received = frame
                    c.inputEnded = true
                }
            }
            // §7.1.1: the server closes TCP first.
            if role == .server { requestTransportClose() }
        default:
            preconditionFailure("handleControl called with data opcode \(opcode)")
        }
    }

    // MARK: - Output

    /// Sends a text message, or a fragment of one with `fin: false` (continue it with
    /// ``sendContinuation(_:fin:)``).
    public mutating func sendText(_ text: String, fin: Bool = true) throws(EngineError) {
        try checkDataSend(.text, fin: fin)
        let n = text.utf8.count
        // A server's uncompressed, untraced, small text goes straight into the frame after its
        // header: no payload buffer of its own, the common echo and broadcast case.
        if role == .server, compression == nil, !isTracing, n < configuration.largePayloadThreshold {
            countDataOut(n, fin: fin)
            statistics.framesOut += 1
            appendFrame(opcode: .text, fin: fin, rsv1: false, payloadLength: n) { frame, _ in frame.writeString(text) }
            return
        }
        var payload = allocator.buffer(capacity: n)
        payload.writeString(text)
        emitData(.text, fin: fin, payload: payload)
    }

    /// Sends a text message, or its first fragment with `fin: false`, from UTF-8 bytes as they
    /// are: a fragment may end inside a character (only the whole message must be valid UTF-8).
    public mutating func sendText(utf8 bytes: ByteBuffer, fin: Bool = true) throws(EngineError) {
        try checkDataSend(.text, fin: fin)
        emitData(.text, fin: fin, payload: bytes)
    }

    /// Sends a binary message, or the first fragment of one with `fin: false`.
    public mutating func sendBinary(_ bytes: ByteBuffer, fin: Bool = true) throws(EngineError) {
        try checkDataSend(.binary, fin: fin)
        emitData(.binary, fin: fin, payload: bytes)
    }

    /// Sends the next fragment of the message started with `fin: false`.
    public mutating func sendContinuation(_ bytes: ByteBuffer, fin: Bool) throws(EngineError) {
        try checkDataSend(.continuation, fin: fin)
        emitData(.continuation, fin: fin, payload: bytes)
    }

    /// Sends a ping and returns its id; the matching ``WebSocketEvent/pong(_:acknowledged:)``
    /// carries an id at least as new.
    @discardableResult
    public mutating func sendPing(_ payload: ByteBuffer = ByteBuffer()) throws(EngineError) -> PingID {
        guard state == .open else { throw .notOpen(state) }
        guard payload.readableBytes <= 125 else { throw .controlPayloadTooLong(payload.readableBytes) }
        guard !pendingPings.contains(where: { $0.payload == payload }) else { throw .duplicatePingPayload }
        nextPingID += 1
        let id = PingID(rawValue: nextPingID)
        if pendingPings.count >= Self.maxPendingPings { pendingPings.removeFirst() }
        pendingPings.append((id, payload))
        emitFrame(opcode: .ping, fin: true, payload: payload)
        return id
    }

    /// Sends an unsolicited pong (a unidirectional heartbeat, §5.5.3).
    public mutating func sendPong(_ payload: ByteBuffer = ByteBuffer()) throws(EngineError) {
        guard state == .open else { throw .notOpen(state) }
        guard payload.readableBytes <= 125 else { throw .controlPayloadTooLong(payload.readableBytes) }
        emitFrame(opcode: .pong, fin: true, payload: payload)
    }

    /// Starts the closing handshake (§7.1.2). Idempotent: does nothing once closing or closed.
    /// A client then waits for the server to close the transport; a server closes it once the
    /// peer's close frame arrives.
    public mutating func close(code: CloseCode = .normalClosure, reason: String = "") throws(EngineError) {
        switch state {
        case .connecting: throw .notOpen(state)
        case .closing, .closed: return
        case .open:
            switch closeProgress {
            case .held:  // the peer started it (answer its frame), or a violation was found first (it is the story)
                return releaseHeldClose()
            case .none, .closing:
                closeProgress = .closing(ClosingHandshake(initiator: .local, inputEnded: false))
            }
            sendCloseFrame(CloseFrame(code: code, reason: reason))
            setState(.closing)
        }
    }

    /// Fails the connection (§7.1.7) for a reason found outside the engine, e.g. a keepalive
    /// timeout (1011) or a handler error (1011). Sends a close frame if the connection is open,
    /// stops processing input, and asks for the transport to be closed (a server at once; a
    /// client after the server's reply, or at the I/O layer's close timeout).
    public mutating func fail(code: CloseCode, reason: String = "") {
        trace(.close(.failing(code, reason: reason)))
        switch closeProgress {
        case .none, .held:
            // A held close is superseded; a held reply's frame stays the one received.
            closeProgress = .closing(ClosingHandshake(initiator: state == .open ? .local : nil, received: closeReceived,
                                                      inputEnded: true))
            if state == .open {
                sendCloseFrame(CloseFrame(code: code, reason: reason))
                setState(.closing)
            }
        case .closing:
            closeProgress.modifyClosing { $0.inputEnded = true }
        }
        if role == .server || state == .connecting { requestTransportClose() }
    }

    /// Carries out what ``EngineConfiguration/deferClose`` held back, if anything: fails the
    /// connection for a held violation (as if found just now), or sends the held reply to the
    /// peer's close frame.
    public mutating func releaseHeldClose() {
        switch closeProgress {
        case .held(.violation(let violation), _):
            closeProgress = .none  // failed now, as if found just now
            fail(violation)
        case .held(.reply(let reply), let received):
            closeProgress = .closing(ClosingHandshake(initiator: .remote, received: received, inputEnded: true))
            sendCloseFrame(reply)
            setState(.closing)
            if role == .server { requestTransportClose() }
        case .none, .closing:
            break
        }
    }

    private mutating func fail(_ violation: ProtocolViolation) {
        trace(.errorHandled(violation))
        fail(code: violation.closeCode, reason: violation.reason)
        closeProgress.modifyClosing { $0.failure = violation }
    }

    /// The next bytes to write to the transport, or `nil` when everything was handed out.
    public mutating func nextOutput() -> ByteBuffer? {
        if let next = outputQueue.popFirst() { return next }
        guard scratch.readableBytes > 0 else { return nil }
        defer { scratch = ByteBuffer() }
        return scratch
    }

    /// The next event for the application, or `nil`.
    public mutating func nextEvent() -> WebSocketEvent? { events.popFirst() }

    /// The next trace record for the logging pipeline, or `nil`. Only filled while
    /// ``isTracing`` is on.
    public mutating func nextTrace() -> ProtocolTrace? { traces?.popFirst() }

    /// Whether the transport is expected to close soon: the I/O layer arms its close timeout
    /// while this is true (Python websockets' `close_expected()`).
    @inlinable  // read after every read and send: a call across modules would copy the whole engine
    public var closeExpected: Bool { state == .closing || transportCloseRequested }

    /// The close code that describes how the connection ended, once CLOSED: the code the peer
    /// sent, 1005 if its close frame had none, 1006 if there was no closing handshake.
    public var closeCode: CloseCode? {
        guard state == .closed else { return nil }
        return closeReceived?.code ?? .abnormalClosure
    }

    /// The outbound data fragment sequence in progress, if any.
    public var isSendingFragmentedMessage: Bool { outgoingFragmented != nil }

    /// Bytes of buffer capacity this engine holds for input (the unparsed input, the message
    /// being assembled, a compressed frame, a control payload): what a peer commits by sending.
    var retainedInputCapacity: Int {
        inbound.capacity + controlPayload.capacity + (message.map { $0.buffer.capacity + $0.compressedFrame.capacity } ?? 0)
    }

    // MARK: - Internals

    private mutating func checkDataSend(_ opcode: Opcode, fin: Bool) throws(EngineError) {
        guard state == .open else { throw .notOpen(state) }
        switch opcode {
        case .continuation:
            guard outgoingFragmented != nil else { throw .invalidFragmentSequence }
            if fin { outgoingFragmented = nil }
        default:
            guard outgoingFragmented == nil else { throw .invalidFragmentSequence }
            if !fin { outgoingFragmented = opcode }
        }
    }

    private mutating func countDataOut(_ payloadBytes: Int, fin: Bool) {
        statistics.payloadBytesOut += payloadBytes
        if fin { statistics.messagesOut += 1 }
    }

    private mutating func emitData(_ opcode: Opcode, fin: Bool, payload: ByteBuffer) {
        countDataOut(payload.readableBytes, fin: fin)
        // Whole messages are compressed; fragmented sends go uncompressed (RSV1 clear is allowed).
        if fin, opcode != .continuation, let compression, let compressed = compression.compress(payload) {
            emitFrame(opcode: opcode, fin: true, rsv1: true, payload: compressed, inflated: payload)
            return
        }
        emitFrame(opcode: opcode, fin: fin, payload: payload)
    }

    /// Sends `frame`; the closing handshake is already under way.
    private mutating func sendCloseFrame(_ frame: CloseFrame) {
        closeProgress.modifyClosing { $0.sent = frame }
        emitFrame(opcode: .close, fin: true, payload: frame.serialized(allocator: allocator))
    }

    /// - Parameter inflated: a compressed frame's payload before compression, for the trace.
    private mutating func emitFrame(opcode: Opcode, fin: Bool, rsv1: Bool = false, payload: ByteBuffer, inflated: ByteBuffer? = nil) {
        statistics.framesOut += 1
        if isTracing {
            let frame = Frame(fin: fin, rsv1: rsv1, opcode: opcode, payload: payload)
            trace(inflated.map { .compressedFrame(frame, .sent, inflated: $0) } ?? .frame(frame, .sent))
        }
        let n = payload.readableBytes
        let before = scratch.readableBytes
        if role == .server && n >= configuration.largePayloadThreshold {
            _ = encoder.writeHeader(fin: fin, rsv1: rsv1, opcode: opcode, payloadLength: n, into: &scratch)
            statistics.wireBytesOut += scratch.readableBytes - before + n
            outputQueue.append(scratch)
            outputQueue.append(payload)
            scratch = ByteBuffer()
            return
        }
        appendFrame(opcode: opcode, fin: fin, rsv1: rsv1, payloadLength: n) { frame, key in
            frame.writeWebSocketBytes(payload, maskingKey: key, offset: 0)
        }
    }

    /// Appends a frame's header and then its payload, written by `writePayload` (masked with
    /// the key it is given, if any), to the output gathered since the last ``nextOutput()``.
    @inline(__always)
    private mutating func appendFrame(opcode: Opcode, fin: Bool, rsv1: Bool, payloadLength n: Int,
                                      _ writePayload: (inout ByteBuffer, MaskingKey?) -> Void) {
        let before = scratch.readableBytes
        if scratch.capacity == 0 { scratch = allocator.buffer(capacity: n + 14) }
        scratch.reserveCapacity(minimumWritableBytes: n + 14)
        let key = encoder.writeHeader(fin: fin, rsv1: rsv1, opcode: opcode, payloadLength: n, into: &scratch)
        writePayload(&scratch, key)
        statistics.wireBytesOut += scratch.readableBytes - before
    }

    private mutating func requestTransportClose() {
        guard !transportCloseRequested else { return }
        closeProgress.modifyClosing { $0.transportCloseRequested = true }
        trace(.close(.closingTransport))
    }

    private mutating func setState(_ new: ConnectionState) {
        guard new != state else { return }
        state = new
        trace(.stateChanged(new))
    }

    @inline(__always)
    private mutating func trace(_ record: @autoclosure () -> ProtocolTrace) {
        guard isTracing else { return }
        if traces == nil { traces = CircularBuffer(initialCapacity: 8) }
        traces!.append(record())
    }
}
