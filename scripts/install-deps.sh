#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine; does nothing when it is all there.
#   Debian: rsyslog, rsyslog-relp (syslog sink, RELP included, tested against a real rsyslogd), jq (README recipes),
#           node-ws (a third-party peer), openssl (TLS certificates made at test time),
#           nginx-light (the real reverse proxy of the trusted-proxy tests),
#           chromium (the real browser of Tests/WebSocketsTests/BrowserTests, driven headless over DevTools),
#           libnss3-tools (certutil: the browser trusts a test CA through an NSS database of its own),
#           prometheus (the real server that scrapes `websockets serve --metrics`; promtool checks the exposition),
#           curl (queries Prometheus and fetches /metrics in that test),
#           postgresql (the real server the rooms-across-nodes tests start with initdb/pg_ctl)
#   PyPI:   jsonschema (every emitted JSON line is validated against schemas/),
#           websockets (the strict reference peer, both directions),
#           opentelemetry-sdk (a real OpenTelemetry client sending W3C traceparent),
#           opentelemetry-proto (the official OTLP definitions the OTLP export test decodes with)
set -euo pipefail

apt_packages=(zlib1g-dev rsyslog rsyslog-relp jq node-ws openssl nginx-light chromium libnss3-tools prometheus curl postgresql)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 - <<'PY' 2>/dev/null || python3 -m pip install -q --root-user-action=ignore "jsonschema>=4.18" "websockets>=15" "opentelemetry-sdk>=1.20" "opentelemetry-proto>=1.30"
from jsonschema import Draft202012Validator  # noqa: F401
from opentelemetry.sdk.trace import TracerProvider  # noqa: F401
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
assert "event_name" in LogRecord.DESCRIPTOR.fields_by_name
import websockets
assert int(websockets.__version__.split(".")[0]) >= 15
PY
