#!/usr/bin/env python3
"""Python websockets echo server for our client. /close/CODE closes with CODE after the first message."""
import asyncio
import ssl
import sys

from websockets.asyncio.server import serve

PORT = int(sys.argv[1])


async def handler(ws):
    path = ws.request.path
    if path.startswith("/close/"):
        await ws.recv()
        await ws.close(int(path.split("/")[2]), "python says bye")
        return
    async for message in ws:
        await ws.send(message)


async def main():
    ctx = None
    if len(sys.argv) > 3:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    async with serve(handler, "127.0.0.1", PORT, subprotocols=["chat"], compression=None, max_size=8 * 2**20, ssl=ctx) as server:
        print("listening", flush=True)
        await asyncio.sleep(120)


asyncio.run(main())
