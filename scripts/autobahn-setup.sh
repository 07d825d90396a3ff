# Sourced by scripts/autobahn-server.sh and scripts/autobahn-client.sh: installs the shared
# Autobahn|Testsuite (../shared/conformance/autobahn) once and picks a free loopback port.
# Sets AUTOBAHN (the suite's directory) and PORT.
AUTOBAHN="$(cd .. && pwd)/shared/conformance/autobahn"
[ -d "$AUTOBAHN" ] || { echo "autobahn: $AUTOBAHN not found (../shared is required)"; exit 2; }
bash "$AUTOBAHN/setup.sh" >/tmp/autobahn-setup.log 2>&1 || { cat /tmp/autobahn-setup.log; exit 2; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
