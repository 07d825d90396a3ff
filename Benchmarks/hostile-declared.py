#!/usr/bin/env python3
"""Hostile peers that declare large messages and send almost nothing.

Opens N connections to a WebSocket server on loopback; each completes the handshake, then
sends a masked binary frame header declaring DECLARED bytes (or, with --shape fragments, an
empty first fragment followed by a continuation declaring them) and 8 payload bytes, and
holds the connection. Reports the server's RSS and virtual size per connection (from
/proc/PID/status, before and after). Bounded: N connections, one pass, a fixed hold time.
"""
import argparse, asyncio, os, resource, sys

from rawpeer import handshake, header, status

async def one(port, declared, shape, opened, hold):
    reader, writer = await handshake(port)
    if shape == "fragments":
        frames = header(0x2, False, 0) + header(0x0, True, declared)
    else:
        frames = header(0x2, True, declared)
    writer.write(frames + bytes(8))
    await writer.drain()
    opened.append(writer)
    await hold.wait()
    writer.close()

async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("-n", type=int, default=2000)
    p.add_argument("--declared", type=int, default=(1 << 20) - 1)
    p.add_argument("--shape", choices=["frame", "fragments"], default="frame")
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    before = status(args.pid)
    opened, hold = [], asyncio.Event()
    tasks = []
    for i in range(args.n):  # bounded: N connections, dialled 100 at a time
        tasks.append(asyncio.create_task(one(args.port, args.declared, args.shape, opened, hold)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    for _ in range(600):  # at most 60 s for all to be open
        if len(opened) == args.n or any(t.done() and t.exception() for t in tasks):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    after = status(args.pid)
    hold.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    n = len(opened)
    rss = (after["VmRSS"] - before["VmRSS"]) / max(n, 1)
    vsz = (after["VmSize"] - before["VmSize"]) / max(n, 1)
    print(f"shape={args.shape} declared={args.declared} connections={n} "
          f"rss_per_conn_kib={rss:.2f} vsz_per_conn_kib={vsz:.2f} rss_total_mib={after['VmRSS']/1024:.1f}")
    return 0 if n == args.n else 1

sys.exit(asyncio.run(main()))
