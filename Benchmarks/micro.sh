#!/usr/bin/env bash
# Micro-benchmarks (Benchmarks/MicroBench) with allocations per operation:
#   Benchmarks/micro.sh [NAME-PREFIX]
# Each benchmark runs once for time (release build), then twice more under the malloc-counting
# LD_PRELOAD shim (Benchmarks/malloc-count.c) with N and 2N iterations: allocations per op =
# (count(2N) - count(N)) / N. Pin to one core: taskset -c 1 Benchmarks/micro.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product MicroBench >&2
BIN="$(swift build -c release --show-bin-path)/MicroBench"
SHIM=/tmp/malloc-count.so
[ -f "$SHIM" ] || gcc -O2 -shared -fPIC -o "$SHIM" Benchmarks/malloc-count.c -ldl
"$BIN" "${1:-all}" | while IFS= read -r line; do
    name="${line%:*}"
    n=20000
    a=$(LD_PRELOAD="$SHIM" "$BIN" "$name" "$n" 2>&1 >/dev/null | grep -oE "[0-9]+ allocations" | tail -1 | grep -oE "[0-9]+")
    b=$(LD_PRELOAD="$SHIM" "$BIN" "$name" $((2 * n)) 2>&1 >/dev/null | grep -oE "[0-9]+ allocations" | tail -1 | grep -oE "[0-9]+")
    allocs=$(python3 -c "print(round(($b - $a) / ($n * 1.1), 2))")   # the warm-up runs n/10 more
    echo "$line, $allocs allocs/op"
done
