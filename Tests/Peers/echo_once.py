#!/usr/bin/env python3
"""Python websockets against one echo endpoint: permessage-deflate offered, a text and a binary
message echoed, then a close with CODE (default 4000) "bye". Prints the negotiated extensions.

    echo_once.py URL [CODE]
"""
import asyncio
import sys

from websockets.asyncio.client import connect

URL = sys.argv[1]
CODE = int(sys.argv[2]) if len(sys.argv) > 2 else 4000


async def main():
    async with connect(URL, compression="deflate", additional_headers={"X-Forwarded-For": "203.0.113.7"}) as ws:
        await ws.send("héllo " * 100)
        assert await ws.recv() == "héllo " * 100
        await ws.send(bytes(range(256)) * 64)
        assert await ws.recv() == bytes(range(256)) * 64
        print(ws.response.headers.get("Sec-WebSocket-Extensions") or "")
        await ws.close(CODE, "bye")


asyncio.run(asyncio.wait_for(main(), 30))
