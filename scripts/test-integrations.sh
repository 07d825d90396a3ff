#!/usr/bin/env bash
# Builds and tests the packages under Integrations/ (each its own SwiftPM package, depending on
# this one by path): the framework example apps started for real against Python websockets,
# headless Chromium and nginx; the OTLP exporter against a real OTLP/HTTP receiver; rooms across
# three nodes on a real PostgreSQL. Prints each
# package's build and test time.
#   scripts/test-integrations.sh [NAME...]     (default: every package in Integrations/)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
    for dir in Integrations/*/; do packages+=("$(basename "$dir")"); done
fi
total=0
for name in "${packages[@]}"; do
    dir="Integrations/$name"
    [ -f "$dir/Package.swift" ] || { echo "test-integrations: $dir/Package.swift: no such package" >&2; exit 2; }
    start=$(date +%s)
    (cd "$dir" && swift build --build-tests)
    built=$(date +%s)
    log="/tmp/swift-websockets-$name-test.log"
    # Bounded: a hang must fail the run, not eat CI's time.
    (cd "$dir" && timeout 600 swift test --skip-build 2>&1) | tee "$log" || true
    if ! grep -qE "Test run with [0-9]+ tests? .* passed" "$log"; then
        # The failures last, so that the end of CI's output names them.
        echo "---- failures in $name ($log):"
        grep -E "✘|Expectation failed|recorded an issue|Fatal error|error:" "$log" | cut -c1-600 | tail -n 40
        exit 1
    fi
    done_at=$(date +%s)
    count=$(grep -oE "Test run with [0-9]+ tests?" "$log" | tail -1 | grep -oE "[0-9]+")
    total=$((total + count))
    echo "test-integrations: $name: build $((built - start)) s, ${count} tests passed in $((done_at - built)) s"
done
echo "test-integrations: ${total} passed, 0 failed"
