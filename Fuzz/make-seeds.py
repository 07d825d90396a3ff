#!/usr/bin/env python3
"""Writes the seed corpora (Fuzz/Corpus/<harness>/seed-*): small valid inputs libFuzzer mutates
from. Inputs the fuzzers find are added next to them by scripts/fuzz.sh (-merge)."""
import os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))

def write(harness, name, data):
    d = os.path.join(HERE, "Corpus", harness)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "seed-" + name), "wb").write(data)

def frame(opcode, payload, fin=True, rsv1=False, mask=b"\x01\x02\x03\x04"):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126: head = bytes([b0, m | n])
    elif n < 65536: head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else: head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return head + mask + payload
    return head + payload

def deflate(data, wbits=-12):
    c = zlib.compressobj(6, zlib.DEFLATED, wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]

# FuzzEngine: control byte (bit0 client, bit1 fragments, bit2 deflate, bit3 defer), chunk mode, frames.
msgs = frame(1, b"hello") + frame(2, bytes(range(10))) + frame(9, b"p") + frame(8, struct.pack(">H", 1000) + b"bye")
write("FuzzEngine", "server-messages", bytes([0x00, 0x00]) + msgs)
write("FuzzEngine", "server-chunked", bytes([0x28, 0x05]) + msgs)
write("FuzzEngine", "server-fragments", bytes([0x02, 0x00]) + frame(1, b"he", fin=False) + frame(9, b"") + frame(0, b"llo"))
write("FuzzEngine", "server-deflate", bytes([0x04, 0x00]) + frame(1, deflate(b"hello hello hello"), rsv1=True))
write("FuzzEngine", "client-unmasked", bytes([0x01, 0x00]) + frame(1, "héllo".encode(), mask=None) + frame(8, b"\x03\xe8", mask=None))
write("FuzzEngine", "server-violation", bytes([0x08, 0x00]) + frame(1, b"hi") + frame(6, b"x") + frame(9, b""))
write("FuzzEngine", "server-64bit-length", bytes([0x00, 0x00]) + bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 40) + b"\x01\x02\x03\x04")

# FuzzHTTPHead: three limit bytes, chunk mode, a head.
req = (b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
write("FuzzHTTPHead", "request", bytes([200, 200, 31, 0]) + req)
write("FuzzHTTPHead", "request-chunked", bytes([200, 200, 31, 0x0d]) + req)
write("FuzzHTTPHead", "response", bytes([200, 200, 31, 0]) + resp)
write("FuzzHTTPHead", "bare-lf", bytes([200, 200, 31, 0]) + req.replace(b"\r\n", b"\n"))

# FuzzInflater: control (window bits 8+(c&7), bit3 no takeover), limit byte, chunk mode, payloads.
write("FuzzInflater", "hello", bytes([0x07, 0x10, 0x00]) + deflate(b"hello hello hello", -15))
write("FuzzInflater", "bomb", bytes([0x04, 0x01, 0x00]) + deflate(bytes(1 << 16), -12))
write("FuzzInflater", "chunked", bytes([0x0f, 0x40, 0x09]) + deflate(os.urandom(0) + b"abc" * 300, -15))

# FuzzTrustedProxies: control (bit0 Forwarded, bit1 no ranges, top bits hops), peer index, header lines.
write("FuzzTrustedProxies", "xff", bytes([0x00, 0x00]) + b"203.0.113.7, 10.0.0.2\n6.6.6.6")
write("FuzzTrustedProxies", "forwarded", bytes([0x01, 0x03]) + b'for="[2001:db8::1]:4711";proto=https, for=10.0.0.1\nfor=unknown')
write("FuzzTrustedProxies", "hops", bytes([0x42, 0x02]) + b"198.51.100.1, 198.51.100.2, _hidden, 10.0.0.9")

# FuzzFormatters: free-form bytes; a few with control characters and invalid UTF-8.
write("FuzzFormatters", "plain", bytes([4, 5]) + b"acme\x03127.0.0.1" + b"\x00" * 20 + b"hello world")
write("FuzzFormatters", "controls", bytes([0, 8]) + b"a\nb\r\"\\\u2028".replace(b"\\u2028", "\u2028".encode()) + b"\xff\xfe\x00\x1f" * 10)
write("FuzzFormatters", "long", bytes([0]) + b"x" * 3000)
print("seeds written")
