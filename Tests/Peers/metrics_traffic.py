"""Drives a known mix of traffic at a server: a few connections that echo and stay long enough
to answer keepalive pings, one closed with 4001, one cut without a closing handshake, and
handshakes refused for a missing Sec-WebSocket-Key. Prints `ok` when every step did what it should.

usage: metrics_traffic.py PORT
"""
import asyncio
import socket
import sys

import websockets

PORT = int(sys.argv[1])
URL = f"ws://127.0.0.1:{PORT}"


async def echo_and_stay(i):
    async with websockets.connect(f"{URL}/room/{i}?token=secret", ping_interval=None) as ws:
        for j in range(i + 1):
            await ws.send(f"message {j} of {i}")
            assert await ws.recv() == f"message {j} of {i}"
        await asyncio.sleep(0.8)  # the server pings every 0.2 s; the library answers


async def closed_by_app():
    ws = await websockets.connect(f"{URL}/app", ping_interval=None)
    await ws.send(b"\x00\x01")
    assert await ws.recv() == b"\x00\x01"
    await ws.close(4001, "done here")


async def cut():
    ws = await websockets.connect(f"{URL}/cut", ping_interval=None)
    await ws.send("then gone")
    await ws.recv()
    ws.transport.abort()  # no close frame: 1006 on the server


def refused():
    with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
        s.sendall(b"GET /nokey HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
        response = s.recv(4096)
        assert response.startswith(b"HTTP/1.1 400"), response


async def main():
    await asyncio.gather(*(echo_and_stay(i) for i in range(4)), closed_by_app(), cut())
    for _ in range(3):
        refused()
    print("ok")


asyncio.run(main())
