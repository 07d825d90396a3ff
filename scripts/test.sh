#!/usr/bin/env bash
# The project's test command (README, .ci/run). Installs what a fresh machine lacks, then
# builds, runs the whole test suite (real peers on loopback), the runnable examples'
# self-checks, the integration packages (Hummingbird, Vapor, OpenTelemetry), the Autobahn conformance fast
# groups against our server and our client, and a short run of each fuzzing harness.
set -euo pipefail
cd "$(dirname "$0")/.."

# A failed run ends with its failures, so that the last lines of CI's output name them.
passed_or_show_failures() {
  if ! grep -qE "Test run with [0-9]+ tests? .* passed" "$1"; then
    echo "---- failures in $1:"
    grep -E "✘|Expectation failed|recorded an issue|Fatal error|error:" "$1" | cut -c1-600 | tail -n 40
    return 1
  fi
}

bash scripts/install-deps.sh

swift build --build-tests
# Bounded: a hang must fail the run, not eat CI's time.
timeout 1200 swift test --skip-build --skip SyslogDeliveryTests 2>&1 | tee /tmp/swift-websockets-test.log || true
passed_or_show_failures /tmp/swift-websockets-test.log
# The load tests (1,000-connection churns through a restarted rsyslogd) on their own: beside
# the rest, on two cores, they starve other tests' time bounds.
timeout 600 swift test --skip-build --filter SyslogDeliveryTests 2>&1 | tee /tmp/swift-websockets-load-test.log || true
passed_or_show_failures /tmp/swift-websockets-load-test.log

# The packages under Integrations/: the Hummingbird and Vapor example apps on one port for HTTP
# and WebSocket, against real clients; the OTLP exporter against a receiver decoding with the
# official protobuf definitions. First builds are long (Vapor's most of all).
bash scripts/test-integrations.sh 2>&1 | tee /tmp/swift-websockets-integrations.log

# Every public declaration has a doc comment (DocC).
python3 scripts/check-doc-comments.py

# The sans-I/O example (the others run inside the test suite, Tests/ExamplesTests).
swift run --skip-build CoreSmoke >/tmp/swift-websockets-smoke.log
tail -n 1 /tmp/swift-websockets-smoke.log

# Conformance, both roles, groups 1-7 and 10: 0 FAILED / UNIMPLEMENTED / MISSING, at most 3 NON-STRICT.
WEBSOCKETS_BIN="$(swift build --show-bin-path)/websockets" bash scripts/autobahn-server.sh
AUTOBAHN_CLIENT_BIN="$(swift build --show-bin-path)/AutobahnClient" bash scripts/autobahn-client.sh

# Fuzzing smoke: every libFuzzer harness 30 s, starting from its corpus in Fuzz/Corpus (which
# replays every saved input first); a crash or a broken property fails the run.
bash scripts/fuzz.sh 30

# One closing line with the Swift Testing count (XCTest, which holds no tests here, prints
# "Executed 0 tests" lines of its own above).
passed=$(( $(grep -oE "Test run with [0-9]+ tests?" /tmp/swift-websockets-test.log | tail -1 | grep -oE "[0-9]+") \
          + $(grep -oE "Test run with [0-9]+ tests?" /tmp/swift-websockets-load-test.log | tail -1 | grep -oE "[0-9]+") ))
passed=$(( passed + $(grep -oE "test-integrations: [0-9]+ passed" /tmp/swift-websockets-integrations.log | grep -oE "[0-9]+") ))
echo "swift-websockets: ${passed} passed, 0 failed"
