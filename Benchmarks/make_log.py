#!/usr/bin/env python3
"""Writes a realistic `websockets serve` log of a given size for `logs-report.sh`: connections
opened and closed over simulated hours (a daily curve), close codes (mostly 1000/1001, some 1006,
1009, 4000), 5,000 client addresses, a few paths, refused handshakes, 401 answers, a warning now
and then, a `server_stats` window every minute, and a framework's text line now and then. The
lines are the library's own format (JSON or ECS), in time order.

    make_log.py OUT --size-mb 1024 [--format json|ecs] [--seed 1]
"""
import argparse
import heapq
import json
import math
import random
import uuid


def stamp(t):
    whole = int(t)
    frac = int((t - whole) * 1_000_000)
    days, rem = divmod(whole, 86400)
    # 2026-12-07 is day 20794 since the epoch; a simulated log starts there
    y, m, d = civil(days)
    return f"{y:04d}-{m:02d}-{d:02d}T{rem // 3600:02d}:{rem // 60 % 60:02d}:{rem % 60:02d}.{frac:06d}Z"


def civil(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


CODES = [(1000, "", 0.78), (1001, "going away", 0.10), (1006, None, 0.05), (1009, "message too big", 0.01),
         (4000, "bye", 0.04), (1011, "", 0.02)]
PATHS = ["/ws", "/rooms/:room", "/feed", "/chat?token=[REDACTED]"]


class Writer:
    def __init__(self, out, ecs):
        self.out, self.ecs, self.size = out, ecs, 0

    def line(self, t, level, event, message, data, connection=None):
        if self.ecs:
            record = {"@timestamp": stamp(t), "log.level": level, "message": message, "ecs": {"version": "8.11.0"},
                      "log": {"logger": "websockets.server"},
                      "event": {"action": event, "dataset": "websockets.server", "kind": "event"}}
            ws = {}
            if connection:
                cid, addr, port, path = connection
                record["client"] = {"ip": addr, "address": addr}
                record["source"] = {"ip": addr, "port": port}
                p, _, q = path.partition("?")
                record["url"] = {"path": p, **({"query": q} if q else {})}
                ws["connection_id"] = cid
            if event == "server_stats":
                ws["stats"] = data
            else:
                ws.update(data)
            if ws:
                record["websocket"] = ws
        else:
            record = {"timestamp": stamp(t), "level": level, "logger": "websockets.server", "message": message, "event": event}
            if connection:
                cid, addr, port, path = connection
                record["event_data"] = {"connection_id": cid, "remote_addr": addr, "peer_addr": addr, "peer_port": port,
                                        "path": path, **data}
            elif data:
                record["fields"] = data
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
        self.out.write(text)
        self.size += len(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--size-mb", type=float, default=1024)
    parser.add_argument("--format", choices=["json", "ecs"], default="json")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    addresses = [f"203.0.{i // 256}.{i % 256}" for i in range(5000)]
    limit = int(args.size_mb * 1024 * 1024)
    t = 20794 * 86400.0  # 2026-12-07T00:00Z
    closes = []  # (time, seq, connection, opened, duration)
    seq = 0
    window = {"opened": 0, "closed": {}, "rejected": 0, "http": 0, "msgs_in": 0, "msgs_out": 0, "bytes_in": 0, "bytes_out": 0}
    next_stats = t + 60
    with open(args.out, "w", encoding="utf-8") as out:
        w = Writer(out, args.format == "ecs")
        w.line(t, "info", "server_listening", "server listening on 0.0.0.0:8765",
               {"address": "0.0.0.0:8765", "host": "0.0.0.0", "port": 8765, "tls": False})
        while w.size < limit:
            hour = (t % 86400) / 3600
            rate = 40 + 35 * math.sin((hour - 9) / 24 * 2 * math.pi)  # connections per second, a daily curve
            t += rng.expovariate(rate)
            while closes and closes[0][0] <= t:
                ct, _, conn, opened, duration = heapq.heappop(closes)
                r = rng.random()
                acc = 0
                for code, reason, p in CODES:
                    acc += p
                    if r <= acc:
                        break
                mi, mo = rng.randint(0, 60), rng.randint(0, 60)
                data = {"close_code": code}
                if code != 1006:
                    data.update({"close_code_received": code, "close_reason_received": reason})
                data.update({"initiator": "abnormal" if code == 1006 else "remote", "duration": round(duration, 6),
                             "messages_in": mi, "messages_out": mo, "bytes_in": mi * 40, "bytes_out": mo * 40,
                             "payload_bytes_in": mi * 32, "payload_bytes_out": mo * 32})
                w.line(ct, "info", "connection_closed", f"connection closed ({code})", data, conn)
                window["closed"][code] = window["closed"].get(code, 0) + 1
                window["msgs_in"] += mi; window["msgs_out"] += mo; window["bytes_in"] += mi * 40; window["bytes_out"] += mo * 40
            while t >= next_stats:
                closed = window["closed"]
                outcome = lambda codes: sum(n for c, n in closed.items() if c in codes)
                w.line(next_stats, "info", "server_stats", "server stats", {
                    "window": 60, "connections_active": len(closes), "connections_opened": window["opened"],
                    "connections_closed": sum(closed.values()), "closed_normal": outcome({1000, 1001, 1005}),
                    "closed_abnormal": outcome({1006}), "closed_protocol_error": outcome({1002, 1003, 1007, 1008, 1009, 1010}),
                    "closed_server_error": outcome({1011, 1012, 1013, 1014, 1015}), "closed_application": outcome(set(range(3000, 5000))),
                    "closed_other": 0, "handshakes_rejected": window["rejected"], "http_responses": window["http"],
                    "messages_in": window["msgs_in"], "messages_out": window["msgs_out"], "bytes_in": window["bytes_in"],
                    "bytes_out": window["bytes_out"], "records_suppressed": 0, "records_dropped": 0})
                window = {"opened": 0, "closed": {}, "rejected": 0, "http": 0, "msgs_in": 0, "msgs_out": 0, "bytes_in": 0, "bytes_out": 0}
                next_stats += 60
                if rng.random() < 0.05:
                    out.write(f"[ INFO ] framework: {rng.randint(1, 9)} workers healthy\n")
            addr = rng.choice(addresses) if rng.random() < 0.9 else addresses[rng.randint(0, 20)]
            path = rng.choice(PATHS)
            conn = (str(uuid.UUID(int=rng.getrandbits(128), version=4)), addr, rng.randint(1024, 65535), path)
            r = rng.random()
            if r < 0.01:
                w.line(t, "info", "connection_rejected", "connection rejected (400 Bad Request)",
                       {"status": 400, "reason": "missing Sec-WebSocket-Key", "rejection": "invalid_key", "path": path}, conn)
                window["rejected"] += 1
                continue
            if r < 0.015:
                w.line(t, "info", "http_response_sent", "HTTP response sent (401 Unauthorized)",
                       {"status": 401, "reason": "Unauthorized", "path": path}, conn)
                window["http"] += 1
                continue
            if r < 0.016:
                w.line(t, "warning", "broadcast_skipped", "skipped broadcast: write buffer above high mark",
                       {"reason": "write buffer above high mark"}, conn)
            handshake = rng.lognormvariate(math.log(0.0015), 0.6)
            w.line(t, "info", "connection_open", "connection open",
                   {"path": path, "extensions": "permessage-deflate", "handshake_duration": round(handshake, 6)}, conn)
            window["opened"] += 1
            duration = rng.lognormvariate(math.log(30), 1.5)
            seq += 1
            heapq.heappush(closes, (t + duration, seq, conn, t, duration))


if __name__ == "__main__":
    main()
