/// How many DEBUG protocol traces one connection may write (``ConnectionOptions/traceBudget``):
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

    /// Whether the next trace may be written (counts it either way).
    mutating func admit() -> Bool {
        guard let left = remaining else { return true }
        if left > 0 {
            remaining = left - 1
            return true
        }
        suppressed += 1
        return false
    }
}
