#!/usr/bin/env bash
# Runs the Autobahn|Testsuite (../shared/conformance/autobahn) against `websockets serve`.
#   scripts/autobahn-server.sh            fast groups (1-7, 10; ~15 s), as CI does
#   scripts/autobahn-server.sh deflate    the compression groups 12 and 13 (216 cases, ~6 min)
#   scripts/autobahn-server.sh full       all 517 cases (several minutes)
# WEBSOCKETS_HANDLER=task runs the server with a handler task per connection (default: callbacks).
# Exit status 0 when no case FAILED, is UNIMPLEMENTED or MISSING and at most 3 are NON-STRICT. Reports: /tmp/autobahn-reports/server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/autobahn-setup.sh   # AUTOBAHN, PORT

BIN="${WEBSOCKETS_BIN:-$(swift build --show-bin-path)/websockets}"
"$BIN" serve --host 127.0.0.1 --port "$PORT" --max-size 16777216 --handler "${WEBSOCKETS_HANDLER:-callbacks}" --log-level warning >/tmp/autobahn-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
export AUTOBAHN_OUTDIR="${AUTOBAHN_OUTDIR:-/tmp/autobahn-reports/server}"
if [ "${1:-fast}" = "full" ]; then
    AUTOBAHN_TIMEOUT=2400 bash "$AUTOBAHN/test-server.sh" 127.0.0.1 "$PORT"
elif [ "${1:-fast}" = "deflate" ]; then
    AUTOBAHN_TIMEOUT=1200 bash "$AUTOBAHN/test-server.sh" 127.0.0.1 "$PORT" "12.*,13.*"
else
    AUTOBAHN_SKIP_SLOW=1 AUTOBAHN_TIMEOUT=300 bash "$AUTOBAHN/test-server.sh" 127.0.0.1 "$PORT"
fi
python3 scripts/autobahn-check.py "$AUTOBAHN_OUTDIR"
