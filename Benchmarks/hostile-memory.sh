#!/usr/bin/env bash
# Hostile-peer memory benchmark (not a unit test): RSS of `websockets serve` during and after
# attacks, in both handler styles: 20 connections sending 1 MiB messages and never reading, a
# 400,000-ping flood (reading the pongs, and never reading them), 2,000 permessage-deflate
# connections opened and closed. One JSON line per run (Benchmarks/hostile_memory.py), each
# against a fresh server.
#   Benchmarks/hostile-memory.sh [path/to/websockets]
#   env: STYLES="callbacks task" SCENARIOS="nonreading pingflood pingflood-noread deflate" SERVE_ARGS=...
# Targets (issue "Memory per connection bounded in bytes"): <= 2 MiB per non-reading connection
# with the default limits; RSS back within 2x the start after the peers leave.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-}"
if [ -z "$BIN" ]; then
  swift build -c release --product websockets >&2
  BIN="$(swift build -c release --show-bin-path)/websockets"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port=19500
for style in ${STYLES:-callbacks task}; do
  for scenario in ${SCENARIOS:-nonreading pingflood pingflood-noread deflate}; do
    port=$((port + 1))
    "$BIN" serve --port "$port" --handler "$style" --log-level warning ${SERVE_ARGS:-} > /tmp/hostile-memory-$port.log 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    echo -n "{\"style\":\"$style\",\"result\":"
    args=("$scenario")
    [ "$scenario" = pingflood-noread ] && args=(pingflood --no-read)
    timeout 300 python3 Benchmarks/hostile_memory.py --pid "$pid" --port "$port" "${args[@]}" | tr -d '\n' || echo -n "null"
    echo "}"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done
