import NIOCore
import NIOHTTP1
import WebSocketCore

/// The client's opening handshake as the channel handler sees it: idle → awaitingResponse
/// (the request sent, response bytes gathered) → done (opened or failed, the connect promise
/// completed either way). Each event returns what ``ClientHandshakeHandler`` must do, in the
/// shape of ``ServerHandshakeStateMachine``; nothing here touches a channel
/// (`ClientHandshakeStateMachineTests`). Events that cannot happen in a state are preconditions.
struct ClientHandshakeStateMachine {
    enum State {
        /// Before the channel is active.
        case idle
        /// The request is sent; `buffer` holds response bytes not parsed yet.
        case awaitingResponse(HTTPRequestHead, HTTPHeadParser, buffer: ByteBuffer)
        /// Opened or failed: the connect promise is completed.
        case done
    }

    private(set) var state = State.idle
    let limits: HTTPHeadLimits

    init(limits: HTTPHeadLimits) {
        self.limits = limits
    }

    /// Whether the handshake has not started (the request is not written yet).
    var isIdle: Bool {
        if case .idle = state { true } else { false }
    }

    enum StartAction {
        /// Write `request` and ask for the response.
        case send
        /// Started already (the channel was active when the handler was added, then became active).
        case none
    }

    /// The channel is active and `request` is about to be written.
    mutating func start(request: HTTPRequestHead) -> StartAction {
        guard case .idle = state else { return .none }
        state = .awaitingResponse(request, HTTPHeadParser(limits: limits), buffer: ByteBuffer())
        return .send
    }

    enum ReadAction {
        /// The head is not complete yet.
        case needMore
        /// The response head arrived; `early` holds the bytes behind it (frames the server sent at once).
        case response(request: HTTPRequestHead, head: HTTPResponseHead, early: ByteBuffer)
        /// The response is not HTTP we accept.
        case fail(HTTPHeadError)
        /// Done already: bytes behind a failure, before the close completes.
        case discard
    }

    mutating func bytesReceived(_ bytes: ByteBuffer) -> ReadAction {
        switch state {
        case .idle:
            preconditionFailure("ClientHandshakeStateMachine: bytes before the request was sent")
        case .done:
            return .discard
        case .awaitingResponse(let request, var parser, var buffer):
            var bytes = bytes
            if buffer.readableBytes == 0 { buffer = bytes } else { buffer.writeBuffer(&bytes) }
            let head: HTTPResponseHead?
            do {
                head = try parser.parseResponse(&buffer)
            } catch {
                state = .done
                return .fail(error)
            }
            guard let head else {
                state = .awaitingResponse(request, parser, buffer: buffer)
                return .needMore
            }
            // The handler either opens or fails now: the promise is completed either way.
            state = .done
            return .response(request: request, head: head, early: buffer)
        }
    }

    /// Whether the handler asks for more bytes.
    var wantsRead: Bool {
        if case .awaitingResponse = state { true } else { false }
    }

    enum FailAction {
        /// Fail the connect promise and close.
        case fail
        /// Already done: the promise was completed.
        case none
    }

    /// A failure while the handshake runs (timeout, transport error, the request could not be written).
    mutating func failed() -> FailAction {
        switch state {
        case .awaitingResponse:
            state = .done
            return .fail
        case .idle:
            // A transport error before the channel is active (a TLS handshake failure on connect).
            state = .done
            return .fail
        case .done:
            return .none
        }
    }

    /// The channel went inactive: the same as a failure if the handshake had not ended.
    mutating func channelInactive() -> FailAction { failed() }
}
