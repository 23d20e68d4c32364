#!/bin/sh
# systemd_units.test.sh: dist/systemd/siogate.service and siogate.socket pass
# systemd-analyze verify (TAP), and the unit make generated names real paths.
# Skips what cannot run here (no systemd-analyze, or it cannot run in this
# container).
#
#   SIOGATE=gateway/siogate SIOGATE_SERVICE=dist/systemd/siogate.service \
#   TOP_SRCDIR=. sh tests/integ/systemd_units.test.sh

top=${TOP_SRCDIR:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/siogate-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

. "${TOP_SRCDIR:-.}/tests/lib/tap.sh"

in=$top/dist/systemd/siogate.service.in
sock=$top/dist/systemd/siogate.socket

# The unit make built: @bindir@ and @sysconfdir@ replaced by absolute paths.
svc=${SIOGATE_SERVICE:-}
if [ -z "$svc" ] || [ ! -f "$svc" ]; then
	skip "the generated siogate.service names absolute paths" "SIOGATE_SERVICE is not set"
elif grep -Eq "@(bindir|sysconfdir)@" "$svc"; then
	not_ok "the generated siogate.service names absolute paths" "$(grep -E "@(bindir|sysconfdir)@" "$svc")"
elif grep -Eq '^ExecStart=/[^ ]*/siogate --config /[^ ]*/siogate/siogate\.conf$' "$svc"; then
	ok "the generated siogate.service names absolute paths ($(sed -n 's/^ExecStart=//p' "$svc"))"
else
	not_ok "the generated siogate.service names absolute paths" "$(grep '^ExecStart' "$svc")"
fi

# What the brief of the units promises, line by line.
for want in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' DynamicUser=yes \
	ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes \
	RuntimeDirectory=siogate LimitNOFILE=65536 Restart=on-failure KillMode=mixed; do
	if grep -qxF "$want" "$in"; then
		ok "siogate.service has $want"
	else
		not_ok "siogate.service has $want"
	fi
done
if grep -qx 'ListenStream=127.0.0.1:8080' "$sock"; then
	ok "siogate.socket has ListenStream=127.0.0.1:8080"
else
	not_ok "siogate.socket has ListenStream=127.0.0.1:8080"
fi

if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "systemd-analyze verify" "systemd-analyze is not installed (apt-get install systemd)"
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit
fi
# Verify a copy whose ExecStart is the built binary (verify checks that it is
# executable); --man=no: the pages are not installed.
if [ -x "${SIOGATE:-}" ]; then
	bindir=$(cd "$(dirname "$SIOGATE")" && pwd)
else
	bindir=/bin
fi
sed -e "s|@bindir@|$bindir|g" -e "s|@sysconfdir@|$tmp|g" "$in" >"$tmp/siogate.service"
if [ ! -x "$bindir/siogate" ]; then
	sed -i "s|^ExecStart=[^ ]*|ExecStart=/bin/true|" "$tmp/siogate.service"
fi
cp "$sock" "$tmp/siogate.socket"
# Can it run here at all?  A trivial unit first.
printf '[Service]\nExecStart=/bin/true\n' >"$tmp/probe.service"
if ! systemd-analyze verify --man=no "$tmp/probe.service" >"$tmp/probe.out" 2>&1; then
	skip "systemd-analyze verify" "it cannot run in this environment: $(head -1 "$tmp/probe.out")"
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit
fi
for unit in siogate.service siogate.socket; do
	(cd "$tmp" && systemd-analyze verify --man=no "./$unit") >"$tmp/out" 2>&1
	rc=$?
	# Unknown or misspelled settings are only warnings: any output fails.
	if [ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ]; then
		ok "systemd-analyze verify $unit: clean"
	else
		not_ok "systemd-analyze verify $unit: clean" "exit $rc" "$(sed 's/^/  /' "$tmp/out")"
	fi
done

tap_done
