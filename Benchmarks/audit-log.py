#!/usr/bin/env python3
"""Audits a `websockets serve --log-format json` log after a load run:
every line parses as one JSON object and validates against the schema; every connection id
has exactly one connection_open and exactly one connection_closed; the counts match the
expected number of connections; the server's lifecycle records are present. Exit 1 otherwise."""
import collections, json, os, sys
from jsonschema import Draft202012Validator

path, expected = sys.argv[1], int(sys.argv[2])
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
validator = Draft202012Validator(json.load(open(os.path.join(root, "schemas/log-record.schema.json"))))
lines = malformed = invalid = 0
events = collections.Counter()
opens, closes = collections.Counter(), collections.Counter()
close_codes = collections.Counter()
with open(path, "rb") as f:
    for raw in f:
        lines += 1
        try:
            record = json.loads(raw)
        except ValueError:
            malformed += 1
            continue
        if not isinstance(record, dict) or not raw.endswith(b"\n"):
            malformed += 1
            continue
        if next(validator.iter_errors(record), None) is not None:
            invalid += 1
        event = record.get("event")
        events[event] += 1
        cid = (record.get("event_data") or {}).get("connection_id")
        if event == "connection_open":
            opens[cid] += 1
        elif event == "connection_closed":
            closes[cid] += 1
            close_codes[record["event_data"].get("close_code")] += 1
dup_open = sum(1 for c in opens.values() if c > 1)
dup_close = sum(1 for c in closes.values() if c > 1)
unclosed = len(set(opens) - set(closes))
unopened = len(set(closes) - set(opens))
print(f"log: {lines} lines, {malformed} malformed, {invalid} schema-invalid; "
      f"{len(opens)} connection_open ids, {len(closes)} connection_closed ids, "
      f"{dup_open} duplicate opens, {dup_close} duplicate closes, {unclosed} opened but not closed, {unopened} closed but not opened")
print("events: " + ", ".join(f"{k} {v}" for k, v in sorted(events.items(), key=lambda kv: str(kv[0]))))
print("close codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(close_codes.items(), key=lambda kv: str(kv[0]))))
ok = (malformed == 0 and invalid == 0 and dup_open == 0 and dup_close == 0 and unclosed == 0 and unopened == 0
      and len(opens) == expected and events["server_listening"] == 1 and events["server_closed"] == 1)
print("audit: " + ("OK: every connection has exactly one open and one close record, no line lost or malformed" if ok else "FAILED"))
sys.exit(0 if ok else 1)
