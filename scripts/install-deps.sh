#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine; does nothing when it is all there.
#   Debian: rsyslog (the syslog sink is tested against a real rsyslogd), jq (README recipes)
#   PyPI:   jsonschema (every emitted JSON line is validated against schemas/)
set -euo pipefail

apt_packages=(rsyslog jq)
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

python3 - <<'PY' || python3 -m pip install -q "jsonschema>=4.18"
from jsonschema import Draft202012Validator  # noqa: F401
PY
