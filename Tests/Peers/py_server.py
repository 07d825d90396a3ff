#!/usr/bin/env python3
"""Python websockets echo server for our client. /close/CODE closes with CODE after the first message."""
import asyncio
import os
import ssl
import sys

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

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
    spec = os.environ.get("COMPRESSION", "none").split(":")
    extra = dict(compression=None)
    if spec[0] == "deflate":
        no_context = len(spec) > 2 and spec[2] == "nocontext"
        bits = int(spec[1]) if len(spec) > 1 and spec[1] else None
        extra = dict(compression=None, extensions=[ServerPerMessageDeflateFactory(
            server_max_window_bits=bits, server_no_context_takeover=no_context, client_no_context_takeover=no_context)])
    async with serve(handler, "127.0.0.1", PORT, subprotocols=["chat"], max_size=8 * 2**20, ssl=ctx, **extra) as server:
        print("listening", flush=True)
        await asyncio.sleep(120)


asyncio.run(main())
