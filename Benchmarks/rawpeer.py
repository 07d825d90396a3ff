"""What the hostile-peer benchmarks share: a client handshake on a raw socket, masked frame
headers, and the server's memory from /proc/PID/status."""
import asyncio
import struct


def status(pid):
    """VmRSS and VmSize of process `pid`, KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmSize:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


def header(opcode, fin, length, mask=b"\x01\x02\x03\x04"):
    """A client frame header declaring `length` payload bytes, its mask key included."""
    first = (0x80 if fin else 0) | opcode
    if length <= 125:
        head = struct.pack("!BB", first, 0x80 | length)
    elif length <= 0xFFFF:
        head = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, length)
    return head + mask


async def handshake(port):
    """An open WebSocket connection to 127.0.0.1:`port` (no extensions): (reader, writer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head[:60])
    return reader, writer
