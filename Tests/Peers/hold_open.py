#!/usr/bin/env python3
"""Python websockets holding one connection open until the server closes it, reading what
it sends meanwhile; prints "open" once connected, then "closed CODE REASON" (the close frame
the server sent). Exit status 0 when the server closed the connection within 60 s.

    hold_open.py URL [BEARER_TOKEN]
"""
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def main():
    headers = {"Authorization": f"Bearer {sys.argv[2]}"} if len(sys.argv) > 2 else None
    async with connect(sys.argv[1], additional_headers=headers) as ws:
        print("open", flush=True)
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            frame = closed.rcvd
            print(f"closed {frame.code if frame else 'none'} {frame.reason if frame else ''}", flush=True)


asyncio.run(asyncio.wait_for(main(), 60))
