#!/usr/bin/env bash
# All 517 Autobahn|Testsuite cases against our server and our client (~15 min on 2 cores),
# then docs/CONFORMANCE.md rewritten from the two reports.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product websockets >/dev/null
swift build -c release --product AutobahnClient >/dev/null
BIN="$(swift build -c release --show-bin-path)"
status=0
AUTOBAHN_OUTDIR=/tmp/autobahn-reports/server-full WEBSOCKETS_BIN="$BIN/websockets" bash scripts/autobahn-server.sh full || status=1
AUTOBAHN_OUTDIR=/tmp/autobahn-reports/client-full AUTOBAHN_CLIENT_BIN="$BIN/AutobahnClient" bash scripts/autobahn-client.sh full || status=1
python3 scripts/conformance-report.py docs/CONFORMANCE.md /tmp/autobahn-reports/server-full /tmp/autobahn-reports/client-full
exit $status
