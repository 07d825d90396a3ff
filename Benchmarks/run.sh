#!/usr/bin/env bash
# Server benchmarks: scenarios S1-S7 of ../shared/bench/SCENARIOS.md, driven by the shared
# Go load generator (wsload), our server and the peers measured side by side in one run.
#
#   Benchmarks/run.sh [OUT.jsonl]
#   env: PEERS="swift-nio swift-hb go-gorilla node-ws py-websockets py-picows"   anchor servers
#        run beside ours (built by ../shared/bench/anchors/run-all.sh, outside the repo; PEERS=" " for none)
#        SCENARIOS="S1 S2 S3 S4 S5 S6 S7"  REPS=3  DUR=4s  WARM=1s  HOLD=20s  IDLE_N=10000
#        (S7 is permessage-deflate: peers without it are skipped)
#
# Our server runs as `websockets serve --log-format json --log-level info` writing its logs to
# a file (logging is part of what is measured): "ours" handles connections with callbacks (the
# command's default), "ours-task" with a handler task per connection (`--handler task`; leave it
# out with OURS_VARIANTS=ours). For a before/after of a change, build the earlier commit's
# `websockets` elsewhere and add it as a variant: BASELINE=/path/to/websockets
# OURS_VARIANTS="ours baseline" (and "ours-task baseline-task"). Server pinned to core 0, wsload to core 1; servers alternate
# within each repetition; the table shows medians and ratios of "ours" against the peers.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="$(cd .. && pwd)/shared/bench"
OUT="${1:-/tmp/swift-websockets-bench.jsonl}"
PEERS="${PEERS:-swift-nio swift-hb go-gorilla node-ws py-websockets py-picows}"
SCENARIOS="${SCENARIOS:-S1 S2 S3 S4 S5 S6 S7}"
OURS_VARIANTS="${OURS_VARIANTS:-ours ours-task}"
REPS="${REPS:-3}"; DUR="${DUR:-4s}"; WARM="${WARM:-1s}"; HOLD="${HOLD:-20s}"; IDLE_N="${IDLE_N:-10000}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
: > "$OUT"

swift build -c release --product websockets >&2
OURS="$(swift build -c release --show-bin-path)/websockets"
WSLOAD=/tmp/wsload
[ -x "$WSLOAD" ] || bash "$SHARED/wsload/build.sh" "$WSLOAD" >&2
[ -z "${PEERS// /}" ] || BUILD_ONLY=1 SERVERS="$PEERS" bash "$SHARED/anchors/run-all.sh" /dev/null >&2 || true

args() {
  case "$1" in
    S1) echo "-mode echo -c 1 -size 32 -type text" ;;
    S2) echo "-mode echo -c 64 -size 32 -type text" ;;
    S3) echo "-mode stream -c 16 -inflight 16 -size 1024 -type binary" ;;
    S4) echo "-mode echo -c 1 -size 1048576 -type binary" ;;
    S5) echo "-mode connect -c 8" ;;
    S6) echo "-mode idle -c $IDLE_N -hold $HOLD -dialers 64 -timeout 30s" ;;
    S7) echo "-mode stream -c 16 -inflight 16 -size 1024 -type binary -payload compressible -deflate" ;;
  esac
}

start() { # server port scenario; runs in this shell so that $! is a child we can wait for
  local deflate=""
  [ "$3" = S7 ] && deflate=deflate
  case "$1" in
    ours) taskset -c 0 "$OURS" serve --port "$2" --max-size 16777216 --log-format json --log-level info \
            > "/tmp/bench-ours-$2.jsonl" 2>&1 & ;;
    baseline) taskset -c 0 "$BASELINE" serve --port "$2" --max-size 16777216 --log-format json --log-level info \
            > "/tmp/bench-ours-$2.jsonl" 2>&1 & ;;
    baseline-task) taskset -c 0 "$BASELINE" serve --handler task --port "$2" --max-size 16777216 --log-format json --log-level info \
            > "/tmp/bench-ours-$2.jsonl" 2>&1 & ;;
    ours-task) taskset -c 0 "$OURS" serve --handler task --port "$2" --max-size 16777216 --log-format json --log-level info \
            > "/tmp/bench-ours-$2.jsonl" 2>&1 & ;;
    py-websockets) if [ -n "$deflate" ]; then taskset -c 0 "$SHARED/anchors/start-py-websockets-deflate.sh" "$2" >/dev/null 2>&1 &
                   else taskset -c 0 "$SHARED/anchors/start-py-websockets.sh" "$2" >/dev/null 2>&1 & fi ;;
    *) taskset -c 0 "$SHARED/anchors/start-$1.sh" "$2" $deflate > /dev/null 2>&1 & ;;
  esac
}

port=19100
for rep in $(seq 1 "$REPS"); do
  for scenario in $SCENARIOS; do
    for server in $OURS_VARIANTS $PEERS; do
      [ "$scenario" = S7 ] && case "$server" in swift-nio|py-picows|c-lws) true ;; *) false ;; esac && continue  # no permessage-deflate
      port=$((port + 1))
      start "$server" "$port" "$scenario"
      pid=$!
      for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
      timeout 180 taskset -c 1 "$WSLOAD" -url "ws://127.0.0.1:$port/" $(args "$scenario") -d "$DUR" -warmup "$WARM" \
          -server-pid "$pid" -tag server="$server" -tag scenario="$scenario" -tag rep="$rep" >> "$OUT" 2>/dev/null \
          || echo "{\"server\":\"$server\",\"scenario\":\"$scenario\",\"ok\":false}" >> "$OUT"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done   # graceful: at most 15 s
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      if [[ "$server" == ours* || "$server" == baseline* ]]; then
        python3 scripts/validate-log-lines.py schemas/log-record.schema.json "/tmp/bench-ours-$port.jsonl" >&2 || true
        rm -f "/tmp/bench-ours-$port.jsonl"
      fi
    done
  done
done
python3 Benchmarks/summarize.py "$OUT"
