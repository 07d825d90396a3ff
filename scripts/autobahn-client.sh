#!/usr/bin/env bash
# Runs the Autobahn|Testsuite (../shared/conformance/autobahn) against our client: the fuzzing
# server (wstest -m fuzzingserver) drives `AutobahnClient` (Conformance/AutobahnClient), which
# echoes every message of every case.
#   scripts/autobahn-client.sh            fast groups (1-7, 10; ~15 s), as CI does
#   scripts/autobahn-client.sh deflate    the compression groups 12 and 13
#   scripts/autobahn-client.sh full       all 517 cases
# Exit status 0 when no case FAILED, is UNIMPLEMENTED or MISSING and at most 3 are NON-STRICT. Reports: /tmp/autobahn-reports/client.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/autobahn-setup.sh   # AUTOBAHN, PORT

BIN="${AUTOBAHN_CLIENT_BIN:-$(swift build --show-bin-path)/AutobahnClient}"
[ -x "$BIN" ] || { echo "autobahn: $BIN missing (swift build first)"; exit 2; }
export AUTOBAHN_AGENT=swift-websockets
export AUTOBAHN_OUTDIR="${AUTOBAHN_OUTDIR:-/tmp/autobahn-reports/client}"
case "${1:-fast}" in
    full) AUTOBAHN_TIMEOUT=2400 bash "$AUTOBAHN/test-client.sh" "$PORT" -- "$BIN" ;;
    deflate) AUTOBAHN_TIMEOUT=1200 bash "$AUTOBAHN/test-client.sh" "$PORT" "12.*,13.*" -- "$BIN" ;;
    *) AUTOBAHN_SKIP_SLOW=1 AUTOBAHN_TIMEOUT=300 bash "$AUTOBAHN/test-client.sh" "$PORT" -- "$BIN" ;;
esac
python3 scripts/autobahn-check.py "$AUTOBAHN_OUTDIR"
