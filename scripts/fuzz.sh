#!/usr/bin/env bash
# libFuzzer harnesses of Fuzz/ (a separate package), built with -sanitize=fuzzer,address.
#   scripts/fuzz.sh [SECONDS] [HARNESS ...]     default: 30 s each, all five harnesses
# Each harness starts from its corpus in Fuzz/Corpus/<harness> (seeds + saved finds); new
# inputs go to a scratch directory, or are merged into the corpus with FUZZ_MERGE=1.
# Prints the executions per harness; exits non-zero if a harness crashed or broke a property
# (the input is saved as Fuzz/crash-<harness>-<sha1>).
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
SECONDS_EACH="${1:-30}"
shift || true
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(FuzzEngine FuzzHTTPHead FuzzInflater FuzzTrustedProxies FuzzFormatters)
FLAGS=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
swift build "${FLAGS[@]}" 2>&1 | grep -E "error|warning: .*Fuzz/|Compiling Fuzz|Build complete" || true
BIN="$(swift build "${FLAGS[@]}" --show-bin-path)"
status=0
for harness in "${HARNESSES[@]}"; do
    scratch="/tmp/fuzz-new/$harness"
    mkdir -p "$scratch"
    log="/tmp/fuzz-$harness-$$.log"
    if "$BIN/$harness" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="crash-$harness-" "$scratch" "Corpus/$harness" >"$log" 2>&1; then
        result="ok"
    else
        result="CRASH (see $log)"; status=1
        grep -E "^==|property violated|Fatal error|SUMMARY" "$log" | head -5
    fi
    runs=$(grep -oE "stat::number_of_executed_units: [0-9]+" "$log" | grep -oE "[0-9]+$" || echo "?")
    corpus=$(grep -oE "cov: [0-9]+ ft: [0-9]+ corp: [0-9]+" "$log" | tail -1 || true)
    echo "fuzz $harness: $runs executions in ${SECONDS_EACH}s, $corpus: $result"
    if [ "${FUZZ_MERGE:-0}" = "1" ]; then
        "$BIN/$harness" -merge=1 "Corpus/$harness" "$scratch" >/dev/null 2>&1 || true
    fi
done
exit $status
