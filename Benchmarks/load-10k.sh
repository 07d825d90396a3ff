#!/usr/bin/env bash
# Load without loss (issue #9): 10,000 concurrent connections open (64 parallel dialers), stay
# idle for HOLD, exchange one verified echo each and close, against
# `websockets serve --log-format json --log-level info` writing to a file. Then the log is
# audited by Benchmarks/audit-log.py: every line schema-valid JSON, exactly one connection_open
# and one connection_closed per connection id, nothing lost; and the server's RSS per idle
# connection is reported (from /proc, by the shared generator wsload).
#
#   Benchmarks/load-10k.sh [CONNS] [HOLD]        defaults: 10000 20s
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="$(cd .. && pwd)/shared/bench"
CONNS="${1:-10000}"
HOLD="${2:-20s}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # each process needs one descriptor per connection
[ "$(ulimit -n)" -gt $((CONNS + 500)) ] || { echo "ulimit -n is $(ulimit -n): too low for $CONNS connections"; exit 2; }
swift build -c release --product websockets >&2
BIN="$(swift build -c release --show-bin-path)/websockets"
WSLOAD=/tmp/wsload
[ -x "$WSLOAD" ] || bash "$SHARED/wsload/build.sh" "$WSLOAD" >&2
LOG=/tmp/swift-websockets-load.jsonl
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
COMPRESSION="${COMPRESSION:-none}"
taskset -c 0 "$BIN" serve --port "$PORT" --log-format json --log-level info --compression "$COMPRESSION" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill -9 $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q server_listening "$LOG" 2>/dev/null && break; sleep 0.05; done
RESULT=/tmp/swift-websockets-load-wsload.json
taskset -c 1 "$WSLOAD" -url "ws://127.0.0.1:$PORT/" -mode idle -c "$CONNS" -hold "$HOLD" -dialers 64 \
    -server-pid "$SERVER" -timeout 30s >"$RESULT"
kill -TERM "$SERVER"
for _ in $(seq 300); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done   # bounded: 30 s
trap - EXIT
python3 - "$RESULT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"wsload: {r['idle_established']}/{r['idle_requested']} connections established in {r['idle_open_s']:.1f} s, "
      f"{r['idle_alive_after_hold']} echoed after {r['hold_s']:.0f} s idle; server RSS {r['server_rss_base_mib']:.1f} -> "
      f"{r['server_rss_mib']:.1f} MiB = {r['server_rss_per_conn_kib']:.2f} KiB per idle connection")
PY
python3 Benchmarks/audit-log.py "$LOG" "$CONNS"
