// Micro-benchmarks of the hot paths (issue #8): frame parse + unmask through the engine, frame
// encode + mask, unmasking and UTF-8 validation throughput, permessage-deflate per KiB, and the
// formatting of a connection log record.
//
//   swift run -c release MicroBench [NAME|all] [ITERATIONS]
//
// Prints ns per operation (and GiB/s for throughput benchmarks). Allocations per operation:
// Benchmarks/micro.sh runs each benchmark twice under Benchmarks/malloc-count.c with different
// iteration counts and divides the difference.
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
let selected = arguments.first ?? "all"
let iterationsOverride = arguments.dropFirst().first.flatMap { Int($0) }

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// One benchmark: `setup` once, then `body` per iteration; `bytes` per iteration for GiB/s.
struct Benchmark {
    var name: String
    var iterations: Int
    var bytes: Int = 0
    var body: () -> Void
}

@inline(never)
func run(_ b: Benchmark) {
    let n = iterationsOverride ?? b.iterations
    for _ in 0..<max(1, n / 10) { b.body() }   // warm-up
    let start = now()
    for _ in 0..<n { b.body() }
    let ns = Double(now() - start) / Double(n)
    var line = "\(b.name): \((ns * 10).rounded() / 10) ns/op"
    if b.bytes > 0 {
        let gib = Double(b.bytes) / ns   // bytes per ns = GB/s
        line += ", \((gib / 1.073741824 * 100).rounded() / 100) GiB/s"
    }
    print(line)
}

let all = protocolBenchmarks() + compressionBenchmarks() + loggingBenchmarks()
var matched = false
for b in all where selected == "all" || b.name.hasPrefix(selected) {
    matched = true
    run(b)
}
if !matched {
    print("unknown benchmark \(selected); names: " + all.map(\.name).joined(separator: ", "))
    exit(2)
}
