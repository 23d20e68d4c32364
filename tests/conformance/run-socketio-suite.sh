#!/bin/sh
# run-socketio-suite.sh: run the official Socket.IO protocol test suite
# (github.com/socketio/socket.io-protocol, folder test-suite/) against siogate
# with tests/conformance/sio_conformance_worker.py behind it.
#
#   tests/conformance/run-socketio-suite.sh [--netns] /path/to/socket.io-protocol/test-suite
#
# The suite is fetched by developers, never committed.  The script runs
# `npm ci` in that folder when it has no node_modules yet.  The suite talks
# to http://localhost:3000 (127.0.0.1 or ::1), so the port must be free;
# --netns runs everything in a private network namespace (unshare(1); as
# root, or where unprivileged user namespaces are allowed), where it is.
# Environment: SIOGATE (the gateway binary; default gateway/siogate of this
# tree), PYTHON (default /usr/bin/python3).  Exit status: mocha's.
set -eu

if [ "${1:-}" = "--netns" ]; then
	shift
	userns=-r
	[ "$(id -u)" -eq 0 ] && userns=
	exec unshare $userns -n sh -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi

suite=${1:-}
if [ -z "$suite" ] || [ ! -f "$suite/test-suite.js" ]; then
	echo "usage: $0 [--netns] SUITE-DIR   (the test-suite folder of socketio/socket.io-protocol)" >&2
	exit 2
fi
suite=$(cd "$suite" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
siogate=${SIOGATE:-$top/gateway/siogate}
python=${PYTHON:-/usr/bin/python3}
[ -x "$siogate" ] || { echo "$0: no gateway binary at $siogate (make gateway/siogate)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/siogate-sio-suite.XXXXXX")
bridge="ipc://$tmp/bridge.sock"
gw_pid=
wk_pid=
cleanup() {
	set +e
	[ -n "$wk_pid" ] && kill "$wk_pid" 2>/dev/null && wait "$wk_pid" 2>/dev/null
	[ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -d "$suite/node_modules" ]; then
	(cd "$suite" && npm ci --no-audit --no-fund --loglevel=error)
fi

"$siogate" --listen 127.0.0.1:3000 --listen '[::1]:3000' \
	--ping-interval 300 --ping-timeout 200 --max-payload 1000000 \
	--bridge "$bridge" --log-level "${SIOGATE_LOG_LEVEL:-warn}" 2>"$tmp/gateway.log" &
gw_pid=$!

"$python" "$here/sio_conformance_worker.py" "$bridge" >"$tmp/worker.out" 2>"$tmp/worker.log" &
wk_pid=$!

# Wait (at most 10 s) for the worker's "ready": the gateway is up and knows it.
. "$here/../lib/tap.sh"		# wait_log
if ! wait_log "$tmp/worker.out" "$wk_pid" '^ready' 10 >/dev/null || ! kill -0 "$gw_pid" 2>/dev/null; then
	echo "$0: the gateway or the worker did not come up" >&2
	cat "$tmp/gateway.log" "$tmp/worker.log" >&2
	exit 1
fi

rc=0
(cd "$suite" && npx --no-install mocha --exit test-suite.js) || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "--- gateway log" >&2
	tail -n 50 "$tmp/gateway.log" >&2
	echo "--- worker log" >&2
	tail -n 50 "$tmp/worker.log" >&2
fi
exit "$rc"
