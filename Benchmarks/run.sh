#!/usr/bin/env bash
# Server benchmarks: scenarios S1-S5 of ../shared/bench/SCENARIOS.md, driven by the shared
# Go load generator (wsload), our server and the peers measured side by side in one run.
#
#   Benchmarks/run.sh [OUT.jsonl]
#   env: PEERS="swift-nio"   anchor servers to run beside ours (built outside the repo)
#        SCENARIOS="S1 S2 S3 S4 S5"  REPS=3  DUR=4s  WARM=1s   (S7: deflate; peers without
#        permessage-deflate are skipped for it)
#
# Our server runs as `websockets serve --log-format json --log-level info` writing its logs to
# a file (logging is part of what is measured). Server pinned to core 0, wsload to core 1;
# servers alternate within each repetition; the table shows medians and ratios vs ours.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="$(cd .. && pwd)/shared/bench"
OUT="${1:-/tmp/swift-websockets-bench.jsonl}"
PEERS="${PEERS:-swift-nio}"
SCENARIOS="${SCENARIOS:-S1 S2 S3 S4 S5}"
REPS="${REPS:-3}"; DUR="${DUR:-4s}"; WARM="${WARM:-1s}"
: > "$OUT"

swift build -c release --product websockets >&2
OURS="$(swift build -c release --show-bin-path)/websockets"
WSLOAD=/tmp/wsload
[ -x "$WSLOAD" ] || bash "$SHARED/wsload/build.sh" "$WSLOAD" >&2
for peer in $PEERS; do
  case "$peer" in
    swift-nio) [ -x /tmp/anchor-nio-build/release/NIOEcho ] ||
        swift build -c release --package-path "$SHARED/anchors/swift-nio/nio-echo" --scratch-path /tmp/anchor-nio-build >&2 ;;
    *) echo "unknown peer $peer" >&2; exit 2 ;;
  esac
done

args() {
  case "$1" in
    S1) echo "-mode echo -c 1 -size 32 -type text" ;;
    S2) echo "-mode echo -c 64 -size 32 -type text" ;;
    S3) echo "-mode stream -c 16 -inflight 16 -size 1024 -type binary" ;;
    S4) echo "-mode echo -c 1 -size 1048576 -type binary" ;;
    S5) echo "-mode connect -c 8" ;;
    S7) echo "-mode stream -c 16 -inflight 16 -size 1024 -type binary -payload compressible -deflate" ;;
  esac
}

start() { # server port; runs in this shell so that $! is a child we can wait for
  case "$1" in
    ours) taskset -c 0 "$OURS" serve --port "$2" --max-size 16777216 --log-format json --log-level info \
            > "/tmp/bench-ours-$2.jsonl" 2>&1 & ;;
    swift-nio) taskset -c 0 /tmp/anchor-nio-build/release/NIOEcho "$2" > /dev/null 2>&1 & ;;
  esac
}

port=19100
for rep in $(seq 1 "$REPS"); do
  for scenario in $SCENARIOS; do
    for server in ours $PEERS; do
      [ "$scenario" = S7 ] && [ "$server" = swift-nio ] && continue  # NIOWebSocket has no permessage-deflate
      port=$((port + 1))
      start "$server" "$port"
      pid=$!
      for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
      timeout 60 taskset -c 1 "$WSLOAD" -url "ws://127.0.0.1:$port/" $(args "$scenario") -d "$DUR" -warmup "$WARM" \
          -server-pid "$pid" -tag server="$server" -tag scenario="$scenario" -tag rep="$rep" >> "$OUT" 2>/dev/null \
          || echo "{\"server\":\"$server\",\"scenario\":\"$scenario\",\"ok\":false}" >> "$OUT"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done   # graceful: at most 15 s
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      if [ "$server" = ours ]; then
        python3 scripts/validate-log-lines.py schemas/log-record.schema.json "/tmp/bench-ours-$port.jsonl" >&2 || true
        rm -f "/tmp/bench-ours-$port.jsonl"
      fi
    done
  done
done
python3 Benchmarks/summarize.py "$OUT"
