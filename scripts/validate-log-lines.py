#!/usr/bin/env python3
"""Validate every line of a JSON-lines log file against a schema of schemas/
(log-record.schema.json for the JSON line, ecs-record.schema.json for ECS).

Usage: validate-log-lines.py SCHEMA FILE...
Prints one summary line; exits 1 if any line is not one JSON object that the schema accepts,
or if a line's keys are not in the documented order: the order of the schema's top-level
properties (for ECS, the ecs-logging spec's @timestamp, log.level, message first).
"""
import json
import sys

from jsonschema import Draft202012Validator

def main() -> int:
    schema = json.load(open(sys.argv[1]))
    order = list(schema["properties"])
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    total = bad = 0
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                total += 1
                try:
                    text = raw.decode("utf-8")
                    if not text.endswith("\n") or "\n" in text[:-1]:
                        raise ValueError("not exactly one line")
                    record = json.loads(text)
                    keys = [k for k in record]
                    if any(k not in order for k in keys) or keys != sorted(keys, key=order.index):
                        raise ValueError(f"keys out of order: {keys}")
                    errors = sorted(validator.iter_errors(record), key=str)
                    if errors:
                        raise ValueError("; ".join(e.message for e in errors[:3]))
                except Exception as e:  # report every failure, keep going
                    bad += 1
                    print(f"{path}:{number}: {e}: {raw[:300]!r}")
    print(f"validated {total} lines, {bad} invalid")
    return 1 if bad or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
