#!/usr/bin/env bash
# Hostile-peer memory check (not a unit test): 2,000 connections each declaring a message just
# under the limit and sending 8 bytes, against `websockets serve` with the default 1 MiB limit
# and with --max-size 16777216, both frame shapes. Prints RSS and virtual size per connection.
#   Benchmarks/hostile-declared.sh [path/to/websockets]   env: N=2000
# Target (issue "connection as an explicit state machine"): <= 16 KiB RSS per such connection.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-}"
if [ -z "$BIN" ]; then
  swift build -c release --product websockets >&2
  BIN="$(swift build -c release --show-bin-path)/websockets"
fi
N="${N:-2000}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port=19400
for max in 1048576 16777216; do
  for shape in frame fragments; do
    port=$((port + 1))
    "$BIN" serve --port "$port" --max-size "$max" --log-level warning > /tmp/hostile-$port.log 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    echo -n "max_size=$max "
    python3 Benchmarks/hostile-declared.py --pid "$pid" --port "$port" -n "$N" --declared $((max - 1)) --shape "$shape" || echo "(not every connection opened)"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done
