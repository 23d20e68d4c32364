#!/bin/sh
# cli.test.sh: the command line of siogate(8), as TAP: --version, --help,
# usage errors (exit 64, EX_USAGE, with the bad option named on stderr) and
# listening on IPv6 loopback.
#
#   SIOGATE=gateway/siogate sh tests/integ/cli.test.sh

if [ "${SIOGATE_REF:-}" = 1 ]; then
	echo "1..0 # SKIP siogate-specific (reference server run)"
	exit 0
fi
if [ ! -x "${SIOGATE:-}" ]; then
	echo "1..0 # SKIP SIOGATE is not set to the gateway binary"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/siogate-cli.XXXXXX") || exit 1
gwpid=
cleanup() {
	if [ -n "$gwpid" ]; then
		kill "$gwpid" 2>/dev/null
		wait "$gwpid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. "${TOP_SRCDIR:-.}/tests/lib/tap.sh"
tap_detail="$tmp/err"

# Run siogate with a bound on its run time; sets $rc, stdout in $tmp/out,
# stderr in $tmp/err.
run() {
	timeout -k 2 5 "$SIOGATE" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

# --version
run --version
if [ "$rc" -eq 0 ] && grep -Eq '[0-9]+\.[0-9]+' "$tmp/out" "$tmp/err"; then
	ok "--version prints a version and exits 0"
else
	not_ok "--version prints a version and exits 0" "exit status $rc" "stdout: $(head -c 200 "$tmp/out" | tr '\n' ' ')"
fi

# --help lists every option
run --help
if [ "$rc" -eq 0 ]; then
	ok "--help exits 0"
else
	not_ok "--help exits 0" "exit status $rc"
fi
cat "$tmp/out" "$tmp/err" >"$tmp/help"
for opt in --listen --path --engineio-path --ping-interval --ping-timeout \
	--max-payload --cors-origin --bridge --log-level --static --version --help; do
	if grep -Eq -- "$opt([^a-z-]|\$)" "$tmp/help"; then
		ok "--help lists $opt"
	else
		not_ok "--help lists $opt"
	fi
done

# Usage errors: exit 64 and a message naming the bad option.
usage_error() {
	name=$1
	pattern=$2
	shift 2
	run "$@"
	if [ "$rc" -eq 64 ] && grep -q -- "$pattern" "$tmp/err"; then
		ok "$name: exit 64 with '$pattern' on stderr"
	else
		not_ok "$name: exit 64 with '$pattern' on stderr" "exit status $rc (want 64)" \
			"stdout: $(head -c 200 "$tmp/out" | tr '\n' ' ')"
	fi
}
bridge="ipc://$tmp/bridge.sock"
usage_error "unknown option" "--no-such-option" --no-such-option
usage_error "--ping-interval abc" "ping-interval" --listen 127.0.0.1:0 --bridge "$bridge" --ping-interval abc
usage_error "--ping-timeout -5" "ping-timeout" --listen 127.0.0.1:0 --bridge "$bridge" --ping-timeout -5
usage_error "--max-payload 12x" "max-payload" --listen 127.0.0.1:0 --bridge "$bridge" --max-payload 12x
usage_error "--listen nonsense" "listen" --listen nonsense --bridge "$bridge"
usage_error "--listen 127.0.0.1:99999" "listen" --listen 127.0.0.1:99999 --bridge "$bridge"
usage_error "--listen without its value" "listen" --listen

# IPv6: --listen [::1]:0 works.
have_ipv6=no
if [ -r /proc/net/if_inet6 ] && grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
	have_ipv6=yes
fi
if [ "$have_ipv6" = no ]; then
	skip "--listen [::1]:0 listens on IPv6 loopback" "::1 is not available"
else
	"$SIOGATE" --listen '[::1]:0' --bridge "ipc://$tmp/bridge6.sock" --engineio-path /engine.io/ >"$tmp/out" 2>"$tmp/err" </dev/null &
	gwpid=$!
	port=$(wait_log "$tmp/err" "$gwpid" 'listening on (http://)?\[::1\]:[0-9]+' 10 |
		sed 's/.*\[::1\]:\([0-9][0-9]*\).*/\1/')
	if [ -z "$port" ]; then
		not_ok "--listen [::1]:0 listens on IPv6 loopback" "no 'listening on [::1]:PORT' line within 10 s"
	elif ! command -v curl >/dev/null 2>&1; then
		ok "--listen [::1]:0 listens on IPv6 loopback (port $port; curl missing, not probed)"
	else
		code=$(curl -sg -o "$tmp/body" -w '%{http_code}' --max-time 5 \
			"http://[::1]:$port/engine.io/?EIO=4&transport=abc")
		if [ "$code" = 400 ] && grep -q '"code":0' "$tmp/body"; then
			ok "--listen [::1]:0 listens on IPv6 loopback"
		else
			not_ok "--listen [::1]:0 listens on IPv6 loopback" "GET on [::1]:$port answered '$code'" \
				"body: $(head -c 200 "$tmp/body" | tr '\n' ' ')"
		fi
	fi
	if [ -n "$gwpid" ]; then
		kill "$gwpid" 2>/dev/null
		wait "$gwpid" 2>/dev/null
		gwpid=
	fi
fi

tap_done
