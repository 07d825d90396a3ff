import NIOHTTP1
import WebSocketCore

/// How many DEBUG records of protocol traces one connection may write (``ConnectionOptions/traceBudget``):
/// a ping flood or a chatty peer cannot turn a debugging session into gigabytes of log. What is
/// over the budget is counted and reported once, in a `log_records_suppressed` record at close.
struct TraceBudget {
    private var remaining: Int?
    /// Traces not written for want of budget.
    private(set) var suppressed = 0

    /// `limit` traces, or no limit with `nil`.
    init(limit: Int?) {
        remaining = limit
    }

    /// Whether `trace` may be written; its records count against the budget either way.
    mutating func admit(_ trace: ProtocolTrace) -> Bool { admit(records: trace.recordCount) }

    /// Whether a DEBUG event of the connection's own (keepalive, timeouts, transport errors) may be
    /// written: it counts against the same budget as the engine's traces.
    mutating func admit(records: Int) -> Bool {
        guard let left = remaining else { return true }
        if records <= left {
            remaining = left - records
            return true
        }
        remaining = 0
        suppressed += records
        return false
    }
}

extension ProtocolTrace {
    /// The log records ``WebSocketEventLogger/emit(trace:)`` writes for it: a handshake head is
    /// one per line.
    var recordCount: Int {
        switch self {
        case .handshakeRequest(let head, _): 1 + head.headers.count
        case .handshakeResponse(let head, _): 1 + head.headers.count
        case .stateChanged, .frame, .compressedFrame, .close, .errorHandled: 1
        }
    }
}
