#!/usr/bin/env python3
"""A scripted server for one test: answers the opening handshake accepting permessage-deflate
and, in the same TCP write, sends a compressed text message "hello, eager client" (RSV1 set),
then waits for the client's close. Prints "listening" once ready. Usage: py_eager_server.py PORT"""
import base64, hashlib, socket, sys, zlib

port = int(sys.argv[1])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
srv.settimeout(30)
print("listening", flush=True)
conn, _ = srv.accept()
conn.settimeout(30)
request = b""
while b"\r\n\r\n" not in request:
    chunk = conn.recv(4096)
    if not chunk:
        sys.exit(1)
    request += chunk
key = [l.split(b":", 1)[1].strip() for l in request.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")][0]
accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
response = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n\r\n")
c = zlib.compressobj(6, zlib.DEFLATED, -12)
payload = (c.compress(b"hello, eager client") + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
frame = bytes([0xC1, len(payload)]) + payload
conn.sendall(response + frame)
data = conn.recv(4096)     # the client's close frame (masked)
conn.sendall(bytes([0x88, 0x02, 0x03, 0xE8]))
conn.close()
print("ok" if data[:1] == b"\x88" else f"unexpected {data!r}", flush=True)
