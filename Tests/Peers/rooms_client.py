#!/usr/bin/env python3
"""What a user of a mounted app's room route sees, checked with Python websockets. Prints one
line per check ("ok NAME" or "FAIL NAME: what happened"); exit status 0 when all pass.

    rooms_client.py BASE_URL        (ws://127.0.0.1:PORT or wss://...)

Checks: an upgrade without the token is refused with 401; with it, the first message is
"joined ROOM"; two members of one room get each other's text messages (the sender its own
too), a member of another room gets none; a 5,000-byte message on /rooms (configured for
4,096) is closed with 1009, the same message on /ws is echoed.
"""
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

TOKEN = {"Authorization": "Bearer demo"}
failures = []


def check(name, ok, detail=""):
    print(f"ok {name}" if ok else f"FAIL {name}: {detail}", flush=True)
    if not ok:
        failures.append(name)


async def main(base):
    try:
        async with connect(f"{base}/rooms/lobby"):
            check("401 without token", False, "upgraded")
    except InvalidStatus as refused:
        status = refused.response.status_code
        check("401 without token", status == 401, f"status {status}")

    async with connect(f"{base}/rooms/lobby", additional_headers=TOKEN) as a, \
            connect(f"{base}/rooms/lobby", additional_headers=TOKEN) as b, \
            connect(f"{base}/rooms/other", additional_headers=TOKEN) as c:
        joined = [await a.recv(), await b.recv(), await c.recv()]
        check("joined", joined == ["joined lobby", "joined lobby", "joined other"], repr(joined))
        await a.send("hello from a")
        got = [await b.recv(), await a.recv()]
        check("a to lobby", got == ["hello from a", "hello from a"], repr(got))
        await b.send("hello from b ✓")
        got = [await a.recv(), await b.recv()]
        check("b to lobby", got == ["hello from b ✓", "hello from b ✓"], repr(got))
        try:
            leaked = await asyncio.wait_for(c.recv(), 0.5)
            check("other room hears nothing", False, repr(leaked))
        except asyncio.TimeoutError:
            check("other room hears nothing", True)
        await a.send("x" * 5000)
        try:
            await asyncio.wait_for(a.recv(), 10)
            check("1009 on /rooms", False, "no close")
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            check("1009 on /rooms", code == 1009, f"closed {code}")

    async with connect(f"{base}/ws") as echo:
        await echo.send("y" * 5000)
        got = await echo.recv()
        check("5000 bytes echoed on /ws", got == "y" * 5000, f"{len(got)} bytes")
    return 1 if failures else 0


sys.exit(asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60)))
