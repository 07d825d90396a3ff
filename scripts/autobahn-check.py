#!/usr/bin/env python3
"""Judges an Autobahn report directory (summary.json written by the shared test-*.sh):
exit 1 unless every announced case has a result, nothing FAILED or is UNIMPLEMENTED, and at
most 3 cases are NON-STRICT (the project's target, issue #9)."""
import json, sys

summary = json.load(open(sys.argv[1] + "/summary.json"))
ok = True
for agent in summary:
    total = agent["total"]
    line = ", ".join(f"{k} {v}" for k, v in total.items())
    print(f"autobahn {agent['agent']}: {agent['results']}/{agent['announced']} cases: {line}")
    if agent["results"] != agent["announced"] or total["FAILED"] or total["UNIMPLEMENTED"] or total["NON-STRICT"] > 3:
        ok = False
sys.exit(0 if ok else 1)
