#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts of non-negative values in logarithmic buckets (eight per doubling, so a percentile is
/// read within about 4.5% of the value), from `minimum` up: memory fixed by the range, never
/// by the number of samples. Values below `minimum` count as 0, above the top as the top.
package struct LogHistogram: Sendable, Hashable {
    /// The smallest value told apart from 0.
    package let minimum: Double
    private(set) var counts: [Int]
    /// Samples recorded.
    package private(set) var total = 0
    static let perDoubling = 8.0

    /// A histogram from `minimum` over `doublings` doublings (default: 1 µs to about 100 days in seconds).
    package init(minimum: Double = 1e-6, doublings: Int = 43) {
        self.minimum = minimum
        counts = Array(repeating: 0, count: doublings * Int(Self.perDoubling) + 1)
    }

    /// Adds `count` samples of `value`.
    package mutating func record(_ value: Double, count: Int = 1) {
        guard value.isFinite, count > 0 else { return }
        counts[index(of: value)] += count
        total += count
    }

    /// Adds every sample of `other` (same range).
    package mutating func merge(_ other: LogHistogram) {
        precondition(other.counts.count == counts.count && other.minimum == minimum)
        for i in counts.indices where other.counts[i] > 0 { counts[i] += other.counts[i] }
        total += other.total
    }

    /// Forgets every sample.
    package mutating func reset() {
        guard total > 0 else { return }
        for i in counts.indices { counts[i] = 0 }
        total = 0
    }

    private func index(of value: Double) -> Int {
        guard value >= minimum else { return 0 }
        let i = Int(log2(value / minimum) * Self.perDoubling) + 1
        return min(i, counts.count - 1)
    }

    /// The middle of bucket `i` (geometric), 0 for the bucket below the minimum.
    private func value(at i: Int) -> Double {
        guard i > 0 else { return 0 }
        return minimum * exp2((Double(i - 1) + 0.5) / Self.perDoubling)
    }

    /// The value below which a fraction `q` (0...1) of the samples lie; `nil` without samples.
    package func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for i in counts.indices {
            seen += counts[i]
            if seen >= rank { return value(at: i) }
        }
        return value(at: counts.count - 1)
    }

    /// The non-empty buckets as (lower bound, upper bound, count), for charts.
    package var buckets: [(lower: Double, upper: Double, count: Int)] {
        counts.indices.compactMap { i in
            guard counts[i] > 0 else { return nil }
            let lower = i == 0 ? 0 : minimum * exp2(Double(i - 1) / Self.perDoubling)
            return (lower, minimum * exp2(Double(i) / Self.perDoubling), counts[i])
        }
    }
}
