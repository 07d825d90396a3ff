#!/usr/bin/env bash
# Server CPU per operation split into user and system time, for a before/after of one change:
# the system part (the kernel's TCP work) swings with how the load batches and hides a change
# in our own code, the user part does not.
#
#   Benchmarks/cpu-split.sh SCENARIO BINARY...    (SCENARIO: S2, S3 or S5; REPS=4)
#
# Each binary runs `serve` as in Benchmarks/run.sh (pinned to core 0, INFO JSON to a file),
# wsload drives it from core 1; /proc/PID/stat is read over the middle 3 s of a 5 s run. The
# binaries alternate within each repetition; one line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="$1"; shift
REPS="${REPS:-4}"
WSLOAD=/tmp/wsload
[ -x "$WSLOAD" ] || bash ../shared/bench/wsload/build.sh "$WSLOAD" >&2
case "$SCENARIO" in
  S2) ARGS="-mode echo -c 64 -size 32 -type text" ;;
  S3) ARGS="-mode stream -c 16 -inflight 16 -size 1024 -type binary" ;;
  S5) ARGS="-mode connect -c 8" ;;
  *) echo "cpu-split.sh: scenario must be S2, S3 or S5, not $SCENARIO" >&2; exit 2 ;;
esac
TICK=$(getconf CLK_TCK)
port=19700
for rep in $(seq 1 "$REPS"); do
  for bin in "$@"; do
    port=$((port + 1))
    log=$(mktemp); out=$(mktemp)
    taskset -c 0 "$bin" serve --port "$port" --max-size 16777216 --log-format json --log-level info > "$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    timeout 60 taskset -c 1 "$WSLOAD" -url "ws://127.0.0.1:$port/" $ARGS -d 4s -warmup 1s -server-pid "$pid" > "$out" 2>/dev/null &
    load=$!
    sleep 1.5; before=$(cut -d' ' -f14,15 "/proc/$pid/stat"); sleep 3; after=$(cut -d' ' -f14,15 "/proc/$pid/stat")
    wait "$load" || true
    kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    python3 - "$out" "$before" "$after" "$TICK" "$bin" "$rep" <<'PY'
import json, sys
out, before, after, tick, binary, rep = sys.argv[1:]
lines = [l for l in open(out) if l.startswith("{")]
if not lines:
    print(f"rep {rep} {binary}: wsload gave no result"); sys.exit(0)
d = json.loads(lines[-1])
rate = d.get("msgs_per_s") or d.get("conns_per_s") or 0
(u0, s0), (u1, s1) = map(int, before.split()), map(int, after.split())
ops = rate * 3
per = lambda ticks: ticks / int(tick) * 1e6 / ops if ops else float("nan")
print(f"rep {rep} {binary}: {rate:,.0f}/s  user {per(u1 - u0):.2f} µs/op  system {per(s1 - s0):.2f} µs/op")
PY
    rm -f "$log" "$out"
  done
done
