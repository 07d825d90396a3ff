#!/usr/bin/env python3
"""Python websockets client against our server: messages of every size class, fragments,
ping/pong, subprotocols, close codes and reasons from both sides."""
import asyncio
import os
import ssl
import sys

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

URL = sys.argv[1]
CA = sys.argv[2] if len(sys.argv) > 2 else None


def context():
    if not CA:
        return None
    ctx = ssl.create_default_context(cafile=CA)
    ctx.check_hostname = False
    return ctx


def compression():
    """COMPRESSION=deflate[:client_bits[:no_context]] chooses permessage-deflate settings."""
    spec = os.environ.get("COMPRESSION", "none").split(":")
    if spec[0] != "deflate":
        return dict(compression=None)
    bits = int(spec[1]) if len(spec) > 1 and spec[1] else True
    no_context = len(spec) > 2 and spec[2] == "nocontext"
    factory = ClientPerMessageDeflateFactory(client_max_window_bits=bits, client_no_context_takeover=no_context,
                                             server_no_context_takeover=no_context)
    return dict(extensions=[factory], compression=None)


async def main():
    kw = dict(ssl=context(), max_size=8 * 2**20, **compression()) if CA else dict(max_size=8 * 2**20, **compression())
    async with connect(URL + "/echo", subprotocols=["chat", "superchat"], **kw) as ws:
        assert ws.subprotocol == "chat", ws.subprotocol
        if os.environ.get("COMPRESSION", "none").startswith("deflate"):
            assert "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions") or ""), ws.response.headers
        for size in [0, 1, 125, 126, 127, 65535, 65536, 4 * 2**20]:
            text = ("é" * size)[:size] if size < 1000 else "a" * size
            await ws.send(text)
            assert await ws.recv() == text, f"text {size}"
            data = bytes(i % 256 for i in range(size))
            await ws.send(data)
            assert await ws.recv() == data, f"binary {size}"
        await ws.send(["frag", "mént", "ed"])
        assert await ws.recv() == "fragménted"
        await ws.send([b"\x00", b"\x01\x02"])
        assert await ws.recv() == b"\x00\x01\x02"
        latency = await (await ws.ping(b"py"))
        assert latency >= 0
        await ws.close(4001, "client says bye")
        assert ws.close_code == 4001 and ws.close_reason == "client says bye", (ws.close_code, ws.close_reason)
    # Server-initiated close with a code and reason.
    async with connect(URL + "/close/4002", **kw) as ws:
        await ws.send("trigger")
        try:
            await ws.recv()
            raise AssertionError("expected the server to close")
        except ConnectionClosedError as e:
            assert e.rcvd.code == 4002 and e.rcvd.reason == "server says bye", e
    # A rejected handshake is an HTTP error the client can see (FORBIDDEN_STATUS: what the
    # server under test answers there, 403 by default).
    expected = int(os.environ.get("FORBIDDEN_STATUS", "403"))
    try:
        async with connect(URL + "/forbidden", **kw):
            raise AssertionError(f"expected {expected}")
    except InvalidStatus as e:
        assert e.response.status_code == expected, e
    print("ok")


asyncio.run(asyncio.wait_for(main(), 60))
