#!/usr/bin/env bash
# Client-side benchmark (issue #8): our client (Benchmarks/ClientBench) as the load generator
# against the Go gorilla echo anchor, compared with the shared Go generator (wsload) driving the
# same server the same way: CONNS connections, 32 B text echo, DUR seconds; server on core 0,
# generator on core 1; generator CPU per message from /usr/bin/time.
#   Benchmarks/client.sh [CONNS=64] [SECONDS=4] [REPS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="$(cd .. && pwd)/shared/bench"
CONNS="${1:-64}"; SECS="${2:-4}"; REPS="${3:-3}"
swift build -c release --product ClientBench >&2
BENCH="$(swift build -c release --show-bin-path)/ClientBench"
WSLOAD=/tmp/wsload
[ -x "$WSLOAD" ] || bash "$SHARED/wsload/build.sh" "$WSLOAD" >&2
[ -x "$SHARED/anchors/bin/gorilla-echo" ] || BUILD_ONLY=1 SERVERS=go-gorilla bash "$SHARED/anchors/run-all.sh" /tmp/anchor-build.jsonl >&2
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 "$SHARED/anchors/start-go-gorilla.sh" "$PORT" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 0.5
for rep in $(seq "$REPS"); do
    /usr/bin/time -f "%U %S" -o /tmp/client-bench-time taskset -c 1 "$WSLOAD" -url "ws://127.0.0.1:$PORT/" -mode echo \
        -c "$CONNS" -size 32 -type text -d "${SECS}s" -warmup 0s >/tmp/client-bench-wsload.json
    python3 - "$rep" <<'PY'
import json, sys
r = json.load(open("/tmp/client-bench-wsload.json")); u, s = map(float, open("/tmp/client-bench-time").read().split()[-2:])
print(json.dumps({"generator": "wsload (Go)", "rep": int(sys.argv[1]), "msgs_per_s": round(r["msgs_per_s"]),
                  "client_cpu_us_per_msg": round((u + s) / r["msgs"] * 1e6, 2)}))
PY
    taskset -c 1 "$BENCH" "ws://127.0.0.1:$PORT/" "$CONNS" "$SECS" 32 | python3 -c '
import json, sys; r = json.loads(sys.stdin.readline()); r["generator"] = "swift-websockets ClientBench"; r["rep"] = int(sys.argv[1])
print(json.dumps({k: r[k] for k in ("generator", "rep", "msgs_per_s", "client_cpu_us_per_msg")}))' "$rep"
done
