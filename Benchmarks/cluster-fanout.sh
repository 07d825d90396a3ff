#!/usr/bin/env bash
# Rooms across nodes, measured (not a test): fan-out latency from send to the last member's
# receive, p50/p99, and the delivered share at rising message rates, for 3 ClusterChat nodes ×
# 100 members on one PostgreSQL against 1 node × 300 members (local broadcast, the same
# PostgreSQL backend attached but nothing to carry). Release builds; PostgreSQL started in a
# temporary directory (as the postgres user when run as root). Loopback only.
#
#   bash Benchmarks/cluster-fanout.sh [RATES]     (default 50,100,200,400; MEMBERS=300)
# MEMBERS=3 RATES: the backend's own rate, one member per node (the Python client, one core,
# receives about 30,000 messages a second: with 300 members it is the limit from ~100 msgs/s).
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${1:-50,100,200,400}
members=${MEMBERS:-300}
(cd Integrations/PostgresBroadcast && swift build -c release --product ClusterChat >/dev/null)
chat="$(cd Integrations/PostgresBroadcast && swift build -c release --show-bin-path)/ClusterChat"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
dir=$(mktemp -d /tmp/ws-fanout-XXXX)
chmod 755 "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
pgport=55499
as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -o "-p $pgport -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
start_nodes() {  # N nodes on 8201…
    pids=()
    for i in $(seq 1 "$1"); do
        "$chat" --port $((8200 + i)) --postgres "postgres://postgres@127.0.0.1:$pgport/postgres" --node "n$i" > "$dir/node$i.log" 2>&1 &
        pids+=($!)
    done
    sleep 2
}
echo "# 1 node × $members members (local broadcast)"
start_nodes 1
python3 Benchmarks/cluster_fanout.py --ports 8201 --members "$members" --rates "$rates"
kill "${pids[@]}"; wait 2>/dev/null || true
echo "# 3 nodes × $((members / 3)) members over PostgreSQL"
start_nodes 3
python3 Benchmarks/cluster_fanout.py --ports 8201,8202,8203 --members "$members" --rates "$rates"
grep -h '"broadcast_' "$dir"/node*.log | head -5 || true
