#!/usr/bin/env python3
"""Print the benchmark table from Benchmarks/run.sh output: medians over repetitions and the
ratio of each peer to ours (server CPU per message: lower is better; below 1.0 means the peer
spends less CPU than we do)."""
import json
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    tags = r.get("tags", {})
    runs[(tags.get("scenario", r.get("scenario")), tags.get("server", r.get("server")))].append(r)


def median(rs, key):
    values = [v for v in (key(r) for r in rs if r.get("ok")) if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


servers = sorted({s for _, s in runs}, key=lambda s: (s != "ours", s))
print("| scenario | server | ok runs | msgs/s (conns/s for S5) | MiB/s | p50 µs | p99 µs | server CPU µs/msg | ratio CPU vs ours | RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|---|")
for scenario in sorted({sc for sc, _ in runs}):
    ours_cpu = median(runs.get((scenario, "ours"), []), lambda r: r.get("server_cpu_us_per_msg"))
    for server in servers:
        rs = runs.get((scenario, server), [])
        if not rs:
            continue
        rate = median(rs, lambda r: r.get("msgs_per_s") or r.get("conns_per_s"))
        lat = "handshake_us" if scenario == "S5" else "latency_us"
        cpu = median(rs, lambda r: r.get("server_cpu_us_per_msg"))
        ratio = None if not (cpu and ours_cpu) else cpu / ours_cpu
        print(f"| {scenario} | {server} | {sum(1 for r in rs if r.get('ok'))}/{len(rs)} | {fmt(rate, 0)} | "
              f"{fmt(median(rs, lambda r: r.get('mib_per_s')))} | {fmt(median(rs, lambda r: (r.get(lat) or {}).get('p50')))} | "
              f"{fmt(median(rs, lambda r: (r.get(lat) or {}).get('p99')))} | {fmt(cpu, 2)} | {fmt(ratio, 2)} | "
              f"{fmt(median(rs, lambda r: r.get('server_rss_mib')))} |")
