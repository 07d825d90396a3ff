#!/usr/bin/env python3
"""Hostile peers for the memory benchmark (not a unit test): what a server holds during an
attack and what it gives back afterwards. Reads the server's RSS from /proc/PID/status.

    hostile_memory.py --pid PID --port PORT nonreading   [-n 20] [--size 1048576] [--seconds 10]
    hostile_memory.py --pid PID --port PORT pingflood    [--count 400000] [--no-read]
    hostile_memory.py --pid PID --port PORT deflate      [-n 2000]

nonreading: N connections each send SIZE-byte binary messages as fast as the server takes them
and never read, for SECONDS (bounded); RSS at the end is "during".
pingflood: one connection sends COUNT 125-byte pings, reading the pongs as they come (with
--no-read: never reading them, until the server stops taking pings for 2 s or 60 s passed).
deflate: N connections negotiate permessage-deflate (Python websockets), each echoes one
message, all held open together ("during"), then closed.
Then every peer leaves; RSS is sampled 0.5, 2 and 5 s later ("after": the last). One JSON line.
"""
import argparse, asyncio, json, os, resource, sys, time

from rawpeer import handshake, header, status

def rss(pid):
    return status(pid)["VmRSS"] / 1024  # MiB

def frame(opcode, payload):
    return header(opcode, True, len(payload), mask=b"\x00\x00\x00\x00") + payload  # a zero mask: the payload as it is

async def nonreading(args):
    message = frame(0x2, bytes(args.size))
    stop = time.monotonic() + args.seconds
    sent = [0] * args.n
    async def one(i):
        _, writer = await handshake(args.port)
        while time.monotonic() < stop:
            writer.write(message)
            try:
                await asyncio.wait_for(writer.drain(), max(0.01, stop - time.monotonic()))
            except asyncio.TimeoutError:
                break
            sent[i] += 1
        return writer
    writers = await asyncio.gather(*(one(i) for i in range(args.n)))
    await asyncio.sleep(1)
    during = rss(args.pid)
    for w in writers:
        w.transport.abort()
    return during, {"messages_taken_per_connection": sum(sent) / args.n}

async def pingflood(args):
    reader, writer = await handshake(args.port)
    ping = frame(0x9, bytes(125))
    batch = ping * 100
    async def drain_pongs():
        try:
            while True:
                if not await reader.read(1 << 16):
                    return
        except Exception:
            return
    reading = None if args.no_read else asyncio.ensure_future(drain_pongs())
    stop = time.monotonic() + 60
    for _ in range(args.count // 100):
        writer.write(batch)
        try:
            await asyncio.wait_for(writer.drain(), 2 if args.no_read else 60)
        except asyncio.TimeoutError:
            break
        if time.monotonic() > stop:
            break
    await asyncio.sleep(1)
    during = rss(args.pid)
    writer.transport.abort()
    if reading:
        reading.cancel()
    return during, {"pings_offered": args.count, "read_pongs": not args.no_read}

async def deflate(args):
    from websockets.asyncio.client import connect
    clients = []
    for start in range(0, args.n, 200):  # opened in waves: the listen backlog is finite
        batch = await asyncio.gather(*(connect(f"ws://127.0.0.1:{args.port}/", compression="deflate", open_timeout=60)
                                       for _ in range(start, min(args.n, start + 200))))
        clients += batch
    text = "the quick brown fox jumps over the lazy dog " * 20
    for ws in clients:
        await ws.send(text)
    for ws in clients:
        await ws.recv()
    during = rss(args.pid)
    await asyncio.gather(*(ws.close() for ws in clients))
    return during, {"extensions": clients[0].response.headers.get("Sec-WebSocket-Extensions", "")}

async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("scenario", choices=["nonreading", "pingflood", "deflate"])
    p.add_argument("-n", type=int, default=None)
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--count", type=int, default=400_000)
    p.add_argument("--no-read", action="store_true")
    args = p.parse_args()
    if args.n is None:
        args.n = {"nonreading": 20, "pingflood": 1, "deflate": 2000}[args.scenario]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    start = rss(args.pid)
    during, extra = await {"nonreading": nonreading, "pingflood": pingflood, "deflate": deflate}[args.scenario](args)
    after = []
    for wait in (0.5, 1.5, 3):
        await asyncio.sleep(wait)
        after.append(round(rss(args.pid), 1))
    print(json.dumps({"scenario": args.scenario, "n": args.n, "rss_start_mib": round(start, 1), "rss_during_mib": round(during, 1),
                      "rss_after_mib": after[-1], "rss_after_series_mib": after,
                      "during_per_connection_mib": round((during - start) / args.n, 2),
                      **extra}), flush=True)

asyncio.run(main())
