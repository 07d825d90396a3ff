#!/usr/bin/env bash
# `websockets logs` on a 1 GB log (Benchmarks/make_log.py: a day of simulated traffic in the
# library's own lines, JSON and ECS), release build: wall time, CPU and peak memory, which must
# stay flat as the log grows (the report keeps bounded tables, never the lines).
#
#   bash Benchmarks/logs-report.sh [SIZE_MB]     (default 1024; logs cached in $LOGS_DIR, /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1024}
dir=${LOGS_DIR:-/tmp}
swift build -c release --product websockets >/dev/null
bin="$(swift build -c release --show-bin-path)/websockets"
for format in json ecs; do
    log="$dir/ws-bench-$size.$format"
    if [ ! -s "$log" ]; then
        echo "generating $log ($size MB)…" >&2
        python3 Benchmarks/make_log.py "$log" --size-mb "$size" --format "$format"
    fi
    for run in 1 2 3; do
        /usr/bin/time -f "$format run $run: %e s wall, %U s user, %S s sys, %M KB max RSS" "$bin" logs "$log" --format json > /dev/null
    done
    small="$dir/ws-bench-$((size / 16)).$format"
    [ -s "$small" ] || head -c $((size * 1024 * 1024 / 16)) "$log" > "$small"
    /usr/bin/time -f "$format 1/16 of it: %e s wall, %M KB max RSS" "$bin" logs "$small" --format json > /dev/null
done
echo "lines: $(wc -l < "$dir/ws-bench-$size.json") (JSON), $(wc -l < "$dir/ws-bench-$size.ecs") (ECS)"
