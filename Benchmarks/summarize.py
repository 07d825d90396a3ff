#!/usr/bin/env python3
"""Print the benchmark tables from Benchmarks/run.sh output (medians over repetitions):
1. every scenario × server: rate, latency, server CPU per message, RSS;
2. ours against the best peer per scenario, with the target of issue #19 and whether it is met.
Usage: summarize.py OUT.jsonl [--markdown]"""
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
    values = [v for v in (key(r) for r in rs if r.get("ok", True)) if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def fmt(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


def cpu(r):
    return r.get("server_cpu_us_per_msg") if r.get("mode") != "connect" else r.get("server_cpu_us_per_msg")


def is_ours(server):
    """Our variants and an earlier build of ours (run.sh's BASELINE) are never "the best peer"."""
    return server.startswith("ours") or server == "baseline"


servers = sorted({s for _, s in runs}, key=lambda s: (not is_ours(s), s))
scenarios = sorted({sc for sc, _ in runs})
print("| scenario | server | runs | msgs/s (conns/s S5) | MiB/s | p50 µs | p99 µs | server CPU µs/msg (µs/conn S5) | RSS MiB | KiB/idle conn (S6) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for scenario in scenarios:
    for server in servers:
        rs = runs.get((scenario, server), [])
        if not rs:
            continue
        lat = "handshake_us" if scenario == "S5" else "latency_us"
        print(f"| {scenario} | {server} | {len(rs)} | {fmt(median(rs, lambda r: r.get('msgs_per_s') or r.get('conns_per_s')), 0)} | "
              f"{fmt(median(rs, lambda r: r.get('mib_per_s')))} | {fmt(median(rs, lambda r: (r.get(lat) or {}).get('p50')))} | "
              f"{fmt(median(rs, lambda r: (r.get(lat) or {}).get('p99')))} | {fmt(median(rs, cpu), 2)} | "
              f"{fmt(median(rs, lambda r: r.get('server_rss_mib')))} | {fmt(median(rs, lambda r: r.get('server_rss_per_conn_kib')), 2)} |")

# Targets of issue #19: (metric, key, lower is better, target ratio ours/best, absolute limit).
# S3, S4 and S7 keep their leads; S7 is compared with hummingbird only.
targets = {
    "S1": ("msgs/s", lambda r: r.get("msgs_per_s"), False, 1.0, None),
    "S2": ("server CPU µs/msg", cpu, True, 1.0, None),
    "S3": ("server CPU µs/msg", cpu, True, 1.0, None),
    "S4": ("MiB/s", lambda r: r.get("mib_per_s"), False, 1.0, None),
    "S5": ("server CPU µs/conn", cpu, True, 1.0, None),
    "S6": ("KiB per idle conn", lambda r: r.get("server_rss_per_conn_kib"), True, None, 5.2),
    "S7": ("server CPU µs/msg", cpu, True, 0.5, None),
}
targeted = [scenario for scenario in scenarios if scenario in targets]


def at(scenario, server, key):
    """The median of `key` over one server's runs of one scenario."""
    return median(runs.get((scenario, server), []), key)


print()
print("| scenario | metric | ours | best peer | ratio ours/peer | target | met |")
print("|---|---|---|---|---|---|---|")
for scenario in targeted:
    name, key, lower, ratio_target, absolute = targets[scenario]
    ours = at(scenario, "ours", key)
    peers = {s: at(scenario, s, key) for s in servers if not is_ours(s)}
    if scenario == "S7":
        peers = {s: v for s, v in peers.items() if s == "swift-hb"}
    peers = {s: v for s, v in peers.items() if v is not None}
    if ours is None:
        continue
    if absolute is not None:
        met = ours <= absolute
        best = min(peers.items(), key=lambda kv: kv[1]) if peers else None
        print(f"| {scenario} | {name} | {fmt(ours, 2)} | {best[0] + ' ' + fmt(best[1], 2) if best else '-'} | "
              f"{fmt(ours / best[1], 2) if best else '-'} | ≤ {absolute} | {'yes' if met else 'no'} |")
        continue
    if not peers:
        continue
    best = (min if lower else max)(peers.items(), key=lambda kv: kv[1])
    ratio = ours / best[1]
    met = ratio <= ratio_target if lower else ratio >= ratio_target
    sign = "≤" if lower else "≥"
    print(f"| {scenario} | {name} | {fmt(ours, 2)} | {best[0]} {fmt(best[1], 2)} | {ratio:.2f} | {sign} {ratio_target} | {'yes' if met else 'no'} |")

# Before/after: present when run.sh measured an earlier build as "baseline" beside "ours".
if any(server == "baseline" for _, server in runs):
    print()
    print("| scenario | metric | baseline (before) | ours (after) | after/before |")
    print("|---|---|---|---|---|")
    for scenario in targeted:
        name, key = targets[scenario][:2]
        before, after = at(scenario, "baseline", key), at(scenario, "ours", key)
        if before and after is not None:
            print(f"| {scenario} | {name} | {fmt(before, 2)} | {fmt(after, 2)} | {after / before:.2f} |")
