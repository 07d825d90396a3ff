#!/usr/bin/env bash
# Counts, not times: server allocations and system calls per operation, which do not move with
# the machine's load the way CPU time does (issue #34).
#
#   Benchmarks/counts.sh SCENARIO BINARY[:task]...    (SCENARIO: S2 per echoed message, S5 per connection)
#
# Each binary runs `serve` as in Benchmarks/run.sh (INFO JSON to a file; `:task` adds
# `--handler task`) under the malloc-counting shim (Benchmarks/malloc-count.c) and `perf stat`
# on the syscall tracepoint, driven by wsload for 1 s and then for 3 s from a fresh start:
# per op = (count(3 s) - count(1 s)) / (ops(3 s) - ops(1 s)), so start-up and the fixed
# connections' handshakes cancel out.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="$1"; shift
WSLOAD=/tmp/wsload
[ -x "$WSLOAD" ] || bash ../shared/bench/wsload/build.sh "$WSLOAD" >&2
SHIM=/tmp/malloc-count.so
[ -f "$SHIM" ] || gcc -O2 -shared -fPIC -o "$SHIM" Benchmarks/malloc-count.c -ldl
case "$SCENARIO" in
  S2) ARGS="-mode echo -c 64 -size 32 -type text"; FIELD=msgs ;;
  S5) ARGS="-mode connect -c 8"; FIELD=connects ;;
  *) echo "counts.sh: scenario must be S2 or S5, not $SCENARIO" >&2; exit 2 ;;
esac
port=19800
one_run() {  # binary handler seconds -> "allocations syscalls ops"
  local bin="$1" handler="$2" secs="$3"
  port=$((port + 1))
  local log err out perfout
  log=$(mktemp); err=$(mktemp); out=$(mktemp); perfout=$(mktemp)
  taskset -c 0 env LD_PRELOAD="$SHIM" "$bin" serve --port "$port" --max-size 16777216 --log-format json --log-level info \
      --handler "$handler" --log-file "$log" 2> "$err" > /dev/null &
  local pid=$!
  for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  perf stat -e raw_syscalls:sys_enter -x, -o "$perfout" -p "$pid" 2>/dev/null &
  local perfpid=$!
  sleep 0.2
  timeout 60 taskset -c 1 "$WSLOAD" -url "ws://127.0.0.1:$port/" $ARGS -d "${secs}s" -warmup 0s > "$out" 2>/dev/null || true
  sleep 0.3
  kill -INT "$perfpid" 2>/dev/null || true; wait "$perfpid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  local allocs syscalls ops
  allocs=$(grep -oE "[0-9]+ allocations" "$err" | tail -1 | grep -oE "[0-9]+" || echo 0)
  syscalls=$(grep -E "raw_syscalls:sys_enter" "$perfout" | cut -d, -f1 || echo 0)
  ops=$(grep -oE "\"$FIELD\":[0-9]+" "$out" | tail -1 | grep -oE "[0-9]+$" || echo 0)
  rm -f "$log" "$err" "$out" "$perfout"
  echo "$allocs $syscalls $ops"
}
for spec in "$@"; do
  bin="${spec%%:task}"; handler=callbacks
  [ "$spec" != "$bin" ] && handler=task
  read -r a1 s1 o1 <<< "$(one_run "$bin" "$handler" 1)"
  read -r a3 s3 o3 <<< "$(one_run "$bin" "$handler" 3)"
  python3 - "$spec" "$a1" "$s1" "$o1" "$a3" "$s3" "$o3" "$SCENARIO" <<'PY'
import sys
spec, a1, s1, o1, a3, s3, o3, scenario = sys.argv[1], *map(int, sys.argv[2:8]), sys.argv[8]
unit = "message" if scenario == "S2" else "connection"
ops = o3 - o1
if ops <= 0:
    print(f"{scenario} {spec}: no difference in operations ({o1}, {o3})"); sys.exit(0)
print(f"{scenario} {spec}: {(a3 - a1) / ops:.2f} allocations and {(s3 - s1) / ops:.2f} system calls per {unit} ({o1:,} and {o3:,} ops)")
PY
done
