#!/usr/bin/env python3
"""Python websockets holding one connection open until the server closes it; prints
"closed CODE REASON" (the close frame the server sent). Exit status 0 when the server closed
the connection within 60 s.

    hold_open.py URL
"""
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def main():
    async with connect(sys.argv[1]) as ws:
        try:
            await ws.recv()
        except ConnectionClosed as closed:
            frame = closed.rcvd
            print(f"closed {frame.code if frame else 'none'} {frame.reason if frame else ''}", flush=True)


asyncio.run(asyncio.wait_for(main(), 60))
