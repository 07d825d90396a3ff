import NIOCore
import NIOHTTP1
import WebSocketCore

/// The server's opening handshake as a state machine: the request head arrives over any number
/// of reads, the application's `processRequest` may run (reads paused), and the connection is
/// either handed to ``WebSocketConnectionHandler`` or answered with an HTTP response and closed.
///
/// Each event is a mutating method returning what ``ServerHandshakeHandler`` must do; no
/// channel is touched here (`ServerHandshakeStateMachineTests` drive it directly).
struct ServerHandshakeStateMachine {
    enum State {
        /// Before the channel is active.
        case idle
        /// Reading the request head; `buffer` holds its bytes not parsed yet.
        case readingHead(HTTPHeadParser, buffer: ByteBuffer)
        /// The head is complete and the request is being decided (`processRequest` may run):
        /// reads are paused; `early` holds the bytes that came behind the head in the same reads.
        case decidingRequest(HTTPRequestHead, early: ByteBuffer)
        /// An HTTP response is on its way; the peer's input is drained until the close.
        case responding
        /// Handed over to the connection handler.
        case upgraded
        /// Transient, while a payload is changed in place (no copy-on-write of the buffers).
        case modifying
    }

    /// Most bytes a client may send behind its request head before the handshake completes
    /// (frames it pipelined): reading pauses while the request is decided, so only the reads
    /// already under way add to it, but nothing the peer sends grows it without bound.
    let earlyInputLimit: Int

    private(set) var state = State.idle

    init(limits: HTTPHeadLimits, earlyInputLimit: Int = 64 << 10) {
        self.earlyInputLimit = earlyInputLimit
        self.limits = limits
    }

    private let limits: HTTPHeadLimits

    enum StartAction {
        /// Arm the open timer and read.
        case start
        case none
    }

    /// The channel is active (or the handler was added to an active channel).
    mutating func start() -> StartAction {
        guard case .idle = state else { return .none }
        state = .readingHead(HTTPHeadParser(limits: limits), buffer: ByteBuffer())
        return .start
    }

    enum ReadAction {
        /// The head is not complete yet.
        case needMore
        /// The head is complete: decide it (origin, `processRequest`, handshake rules).
        case decide(HTTPRequestHead)
        /// Answer with this rejection and close.
        case reject(HandshakeRejection, HTTPRequestHead?)
        /// Ignore the bytes (a response is on its way).
        case discard
    }

    /// Bytes arrived from the peer.
    mutating func bytesReceived(_ bytes: ByteBuffer) -> ReadAction {
        switch state {
        case .readingHead(var parser, var buffer):
            if parser.isIdle, buffer.readableBytes == 0, bytes.readableBytes > 0, bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) == 0x16 {
                // A TLS record (a ClientHello) where HTTP was expected: no request line will
                // ever end, so answer now rather than after the open timeout.
                state = .responding
                return .reject(Self.tlsOnPlainPort, nil)
            }
            state = .modifying
            if buffer.readableBytes == 0 {
                buffer = bytes
            } else {
                var bytes = bytes
                buffer.writeBuffer(&bytes)
            }
            let head: HTTPRequestHead?
            do {
                head = try parser.parseRequest(&buffer)
            } catch {
                state = .responding
                return .reject(error.rejection, nil)
            }
            guard let head else {
                state = .readingHead(parser, buffer: buffer)
                return .needMore
            }
            guard buffer.readableBytes <= earlyInputLimit else {
                state = .responding
                return .reject(tooMuchEarlyInput, head)
            }
            state = .decidingRequest(head, early: buffer.readableBytes > 0 ? buffer : ByteBuffer())
            return .decide(head)
        case .decidingRequest(let head, var early):
            state = .modifying
            var bytes = bytes
            guard early.readableBytes + bytes.readableBytes <= earlyInputLimit else {
                state = .responding
                return .reject(tooMuchEarlyInput, head)
            }
            if early.readableBytes == 0 { early = bytes } else { early.writeBuffer(&bytes) }
            state = .decidingRequest(head, early: early)
            return .needMore
        case .idle, .responding, .upgraded:
            return .discard
        case .modifying:
            preconditionFailure("ServerHandshakeStateMachine re-entered while modifying")
        }
    }

    static let tlsOnPlainPort = HandshakeRejection(
        kind: .invalidRequest, status: .badRequest,
        reason: "TLS handshake received on a plain port: connect with ws://, or serve TLS (wss://)")

    private var tooMuchEarlyInput: HandshakeRejection {
        HandshakeRejection(kind: .invalidRequest, status: .badRequest,
                           reason: "more than \(earlyInputLimit) bytes sent before the handshake completed")
    }

    /// Whether the handler asks for more bytes after a read: not while the request is decided.
    var wantsRead: Bool {
        switch state {
        case .readingHead, .responding: true
        case .idle, .decidingRequest, .upgraded, .modifying: false
        }
    }

    enum DecisionAction {
        /// Accept: the engine answers 101 and the connection handler takes `early`.
        case upgrade(HTTPRequestHead, early: ByteBuffer)
        /// Answer with an HTTP response (a rejection or `processRequest`'s answer) and close.
        case respond(HTTPRequestHead)
        /// The decision came too late (the open timeout answered already): nothing to do.
        case none
    }

    /// The request was accepted (the handshake rules are checked by the engine next).
    mutating func accepted() -> DecisionAction {
        guard case .decidingRequest(let head, let early) = state else { return .none }
        state = .upgraded
        return .upgrade(head, early: early)
    }

    /// The request was answered with an HTTP response instead.
    mutating func answered() -> DecisionAction {
        guard case .decidingRequest(let head, _) = state else { return .none }
        state = .responding
        return .respond(head)
    }

    /// The engine refused the handshake after ``accepted()`` (it answers the rejection).
    mutating func upgradeRefused() {
        state = .responding
    }

    enum TimeoutAction {
        /// Answer 408 (with the request head, if it was complete).
        case reject(HTTPRequestHead?)
        case none
    }

    /// The open timeout fired.
    mutating func openTimedOut() -> TimeoutAction {
        switch state {
        case .readingHead:
            state = .responding
            return .reject(nil)
        case .decidingRequest:
            return .none  // the decision bounds `processRequest` by the same timeout and answers itself
        case .idle, .responding, .upgraded, .modifying:
            return .none
        }
    }

    enum ShutdownAction {
        /// Nothing was received yet: close the connection.
        case close
        /// Let the request arrive: it is answered 503.
        case none
    }

    /// The server is shutting down.
    func shutdown() -> ShutdownAction {
        if case .readingHead(let parser, let buffer) = state, parser.isIdle, buffer.readableBytes == 0 { return .close }
        if case .idle = state { return .close }
        return .none
    }
}
