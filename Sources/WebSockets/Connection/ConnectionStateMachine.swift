/// The open connection's lifecycle as its channel handler sees it: whether it may read, whether
/// its pump is running, whether a flush is queued, and whether the transport is closing.
///
/// The protocol's own state (OPEN, CLOSING, CLOSED, the close frames) is the engine's; this is
/// the I/O layer's. Each event is one mutating method that returns what the handler must do, in
/// the shape of NIO's `NIOTypedHTTPServerUpgraderStateMachine`. Nothing here touches a channel,
/// so every transition is tested directly (`ConnectionStateMachineTests`).
struct ConnectionStateMachine {
    enum State: Hashable {
        /// The transport is up; the engine is OPEN or CLOSING.
        case active(Active)
        /// The engine asked for the transport's close: it closes once queued writes are out.
        /// Reads go on, so that a lingering close drains what the peer still sends.
        case closingTransport
        /// The channel went inactive: timers cancelled, the application told.
        case closed
    }

    struct Active: Hashable {
        var reading = Reading.flowing
        /// A flush waits on the event loop's queue for the application's batch to end.
        var flushQueued = false
    }

    /// Whether the handler may ask the channel for more bytes.
    enum Reading: Hashable {
        case flowing
        /// Paused for `reasons`; `readPending` once the channel finished a read meanwhile
        /// (the read is asked for when the last reason goes).
        case paused(PauseReasons, readPending: Bool)
    }

    /// Why reading is paused. Each reason is lifted by its own event.
    struct PauseReasons: OptionSet, Hashable {
        let rawValue: UInt8
        /// The application's message queue is above its high mark.
        static let inboundQueueFull = PauseReasons(rawValue: 1)
        /// Callbacks cannot wait to send: reading waits while the write buffer is above its high mark.
        static let writeBufferFull = PauseReasons(rawValue: 2)
    }

    /// Re-entrancy of the pump: a callback that sends or closes calls back into it.
    enum Pump: Hashable {
        case idle
        case running
        /// Running, and asked again meanwhile: one more round before it ends.
        case runningAgain
    }

    /// The close timer bounds the closing handshake: armed once the engine expects the
    /// transport to close, and never twice.
    enum CloseTimer: Hashable {
        case unarmed
        case armed
    }

    /// The engine's held close (``EngineConfiguration/deferClose``): `waiting` for the
    /// application to catch up, bounded by the hold timer.
    enum Hold: Hashable {
        case none
        case waiting
    }

    private(set) var state = State.active(Active())
    private(set) var pump = Pump.idle
    private(set) var closeTimer = CloseTimer.unarmed
    private(set) var hold = Hold.none

    enum ReadAction: Hashable {
        case read
        case none
    }

    // MARK: - Reading

    /// The channel finished a read (`channelReadComplete`).
    mutating func readComplete() -> ReadAction {
        switch state {
        case .active(var active):
            switch active.reading {
            case .flowing:
                return .read
            case .paused(let reasons, _):
                active.reading = .paused(reasons, readPending: true)
                state = .active(active)
                return .none
            }
        case .closingTransport:
            return .read  // drain the peer's input until the transport is closed
        case .closed:
            return .none
        }
    }

    /// Stops asking for reads until ``resume(_:)`` lifts `reason`.
    mutating func pause(_ reason: PauseReasons) {
        guard case .active(var active) = state else { return }
        switch active.reading {
        case .flowing: active.reading = .paused(reason, readPending: false)
        case .paused(let reasons, let pending): active.reading = .paused(reasons.union(reason), readPending: pending)
        }
        state = .active(active)
    }

    /// Lifts `reason`; reading resumes when no other reason holds it.
    mutating func resume(_ reason: PauseReasons) -> ReadAction {
        guard case .active(var active) = state, case .paused(var reasons, let pending) = active.reading else { return .none }
        reasons.subtract(reason)
        if reasons.isEmpty {
            active.reading = .flowing
            state = .active(active)
            return pending ? .read : .none
        }
        active.reading = .paused(reasons, readPending: pending)
        state = .active(active)
        return .none
    }

    // MARK: - Pump

    enum PumpAction: Hashable {
        /// Run a round now.
        case run
        /// A pump is running further up the stack: it goes round again instead.
        case leaveToRunningPump
    }

    mutating func pumpRequested() -> PumpAction {
        switch pump {
        case .idle:
            pump = .running
            return .run
        case .running, .runningAgain:
            pump = .runningAgain
            return .leaveToRunningPump
        }
    }

    enum RoundAction: Hashable {
        /// Someone asked for the pump during the round: go round again.
        case runAgain
        /// The last round: flush, arm timers, close the transport if asked.
        case finish
    }

    /// A round of the pump ended.
    mutating func pumpRoundEnded() -> RoundAction {
        switch pump {
        case .runningAgain:
            pump = .running
            return .runAgain
        case .running, .idle:
            pump = .idle
            return .finish
        }
    }

    /// Whether the running round was asked to go round again (its tail then waits for the last round).
    var pumpAskedAgain: Bool { pump == .runningAgain }

    // MARK: - Flushing

    enum FlushAction: Hashable {
        case flushNow
        /// Queue a flush on the event loop (the application is still answering its batch).
        case queueFlush
        /// A queued flush will carry these writes too.
        case none
    }

    /// Writes went into the channel; `batchEnds` when nothing suggests more replies follow at once.
    mutating func wrote(batchEnds: Bool) -> FlushAction {
        if batchEnds { return .flushNow }
        guard case .active(var active) = state else { return .flushNow }
        if active.flushQueued { return .none }
        active.flushQueued = true
        state = .active(active)
        return .queueFlush
    }

    /// The queued flush ran.
    mutating func queuedFlushRan() {
        guard case .active(var active) = state else { return }
        active.flushQueued = false
        state = .active(active)
    }

    // MARK: - Timers

    enum TimerAction: Hashable {
        /// Schedule the timer.
        case arm
        case none
    }

    /// The engine expects the transport to close (CLOSING, or a close requested).
    mutating func closeExpected() -> TimerAction {
        guard isActive, closeTimer == .unarmed else { return .none }
        closeTimer = .armed
        return .arm
    }

    /// The engine holds a close for the application: arm its bound unless it already waits.
    mutating func holdBegan() -> TimerAction {
        guard isActive, hold == .none else { return .none }
        hold = .waiting
        return .arm
    }

    enum HoldEndAction: Hashable {
        /// Cancel the hold timer and release the close.
        case release
        /// Nothing was held (released already, or never).
        case none
    }

    /// The application caught up, or the hold timer fired.
    mutating func holdEnded() -> HoldEndAction {
        guard hold == .waiting else { return .none }
        hold = .none
        return .release
    }

    // MARK: - Closing

    enum TransportAction: Hashable {
        /// Close the transport once every queued write is out.
        case closeAfterWrites
        case none
    }

    /// The engine asked for the transport to be closed.
    mutating func transportCloseRequested() -> TransportAction {
        guard case .active = state else { return .none }
        state = .closingTransport
        return .closeAfterWrites
    }

    enum InactiveAction: Hashable {
        /// Cancel the timers, end the engine and tell the application.
        case finish
        case none
    }

    /// The channel went inactive (or the handler was removed).
    mutating func channelInactive() -> InactiveAction {
        switch state {
        case .active, .closingTransport:
            state = .closed
            hold = .none
            return .finish
        case .closed:
            return .none
        }
    }

    /// Whether the connection still takes work (sends, pings, a close).
    var isActive: Bool {
        if case .closed = state { false } else { true }
    }
}
