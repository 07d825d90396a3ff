/// How far the closing handshake has come (RFC 6455 §5.5.1, §7): what the engine sent,
/// received, holds back and failed for, in one value, so that no combination of flags can
/// disagree. ``WebSocketEngine/closeProgress`` moves forward only: none → held → closing.
public enum CloseProgress: Hashable, Sendable {
    /// No close frame either way, no failure: input is processed.
    case none
    /// A close waits behind messages that arrived in the same read
    /// (``EngineConfiguration/deferClose``): input stops until ``WebSocketEngine/releaseHeldClose()``.
    /// `received` is the peer's close frame when the held close is the reply to it.
    case held(HeldClose, received: CloseFrame?)
    /// A close frame went one way or both, the connection failed, or the transport ended.
    case closing(ClosingHandshake)
}

/// The closing handshake once under way (``CloseProgress/closing(_:)``).
public struct ClosingHandshake: Hashable, Sendable {
    /// Who started it; `nil` only for a connection failed before it opened.
    public internal(set) var initiator: CloseInitiator?
    /// The close frame this endpoint sent, if any.
    public internal(set) var sent: CloseFrame?
    /// The close frame the peer sent, if any.
    public internal(set) var received: CloseFrame?
    /// The violation the engine failed the connection for, if it did.
    public internal(set) var failure: ProtocolViolation?
    /// Input is discarded: the peer's close frame arrived (§5.5.1), the connection failed, or
    /// the transport ended. After a close of our own the peer's frames are still read (§7.1.2).
    public internal(set) var inputEnded: Bool
    /// The engine asked the I/O layer to close the transport once its output is written.
    public internal(set) var transportCloseRequested = false

    init(initiator: CloseInitiator?, received: CloseFrame? = nil, failure: ProtocolViolation? = nil, inputEnded: Bool) {
        self.initiator = initiator
        self.received = received
        self.failure = failure
        self.inputEnded = inputEnded
    }
}

extension CloseProgress {
    /// Whether input is no longer processed.
    var stopsInput: Bool {
        switch self {
        case .none: false
        case .held: true
        case .closing(let c): c.inputEnded
        }
    }

    /// Changes the closing handshake; nothing before it is under way.
    mutating func modifyClosing(_ body: (inout ClosingHandshake) -> Void) {
        guard case .closing(var c) = self else { preconditionFailure("no closing handshake under way: \(self)") }
        body(&c)
        self = .closing(c)
    }
}
