#!/usr/bin/env python3
"""Fan-out through rooms: MEMBERS members of room `bench` spread over the given ClusterChat
nodes (`ws://127.0.0.1:PORT`), one extra member on the first node sends `t SEQ SEND_NS` at
RATE messages a second for SECONDS; every member notes when each arrives. Prints one JSON
object per rate: latency from send to the LAST member's receive (p50, p99, max, ms), and the
share of (message, member) pairs delivered.

    cluster_fanout.py --ports 8001,8002,8003 --members 300 --rates 50,100,200 --seconds 4
"""
import argparse
import asyncio
import json
import time

import websockets


async def member(url, arrivals, ready):
    async with websockets.connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        await ws.recv()  # joined
        ready.set()
        try:
            async for text in ws:
                now = time.perf_counter_ns()
                if text.startswith("t "):
                    arrivals.setdefault(int(text.split(" ")[1]), []).append(now)
        except websockets.ConnectionClosed:
            pass


async def run(ports, members, rate, seconds, room):
    arrivals = {}
    tasks, readies = [], []
    for i in range(members):
        ready = asyncio.Event()
        readies.append(ready)
        tasks.append(asyncio.create_task(member(f"ws://127.0.0.1:{ports[i % len(ports)]}/rooms/{room}", arrivals, ready)))
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    await asyncio.sleep(1)
    sent = {}
    async with websockets.connect(f"ws://127.0.0.1:{ports[0]}/rooms/{room}", compression=None, ping_interval=None) as sender:
        await sender.recv()
        start = time.perf_counter()
        count = int(rate * seconds)
        for seq in range(count):
            target = start + seq / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[seq] = time.perf_counter_ns()
            await sender.send(f"t {seq} x")
        await asyncio.sleep(3)  # what is still in flight
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = []
    delivered = 0
    for seq, at in sent.items():
        got = arrivals.get(seq, [])
        delivered += len(got)
        if len(got) >= members:
            latencies.append((max(got) - at) / 1e6)
    latencies.sort()
    def pct(q):
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else None
    return {"nodes": len(ports), "members": members, "rate": rate, "messages": len(sent),
            "delivered_share": round(delivered / (len(sent) * members), 4) if sent else 0,
            "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": round(latencies[-1], 2) if latencies else None}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", required=True)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--seconds", type=float, default=4)
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    for i, rate in enumerate(float(r) for r in args.rates.split(",")):
        print(json.dumps(asyncio.run(run(ports, args.members, rate, args.seconds, f"bench{i}"))), flush=True)


if __name__ == "__main__":
    main()
