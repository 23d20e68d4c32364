#!/bin/sh
# dev.sh: set up a Debian 12 machine, build siogate, and run the example or the tests.
#   ./dev.sh run    install what is missing, build, start the gateway and the echo example
#   ./dev.sh test   install what is missing, build (plain and ASan/UBSan), run every test
# Run as root (it calls apt-get when packages are missing).
set -eu
cd "$(dirname "$0")"
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

deps() {
	pkgs="build-essential autoconf automake libtool pkg-config libev-dev libhttp-parser-dev
	      libwslay-dev libmsgpack-dev libjansson-dev libzmq3-dev libinih-dev libsystemd-dev mandoc
	      python3-socketio python3-zmq python3-msgpack"
	command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
	missing=""
	for p in $pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "dev.sh: installing:$missing"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
	fi
	if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules ]; then
		(cd tests && npm ci --no-audit --no-fund --loglevel=error)
	fi
}

# build DIR [configure options...]: out-of-tree build in DIR
build() {
	dir=$1
	shift
	[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] ||
		autoreconf -fi >/dev/null 2>&1
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/Makefile" ]; then
		(cd "$dir" && "$top/configure" -q "$@")
	fi
	make -s -C "$dir" -j"$jobs"
}

# summary: add up automake's test-suite.log totals of each build directory
summary() {
	pass=0 fail=0 skip=0
	for log in "$@"; do
		[ -f "$log" ] || { fail=$((fail + 1)); continue; }
		p=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
		f=$(sed -n 's/^# FAIL: *//p' "$log" | head -1)
		e=$(sed -n 's/^# ERROR: *//p' "$log" | head -1)
		x=$(sed -n 's/^# XPASS: *//p' "$log" | head -1)
		s=$(sed -n 's/^# SKIP: *//p' "$log" | head -1)
		pass=$((pass + ${p:-0}))
		fail=$((fail + ${f:-0} + ${e:-0} + ${x:-0}))
		skip=$((skip + ${s:-0}))
	done
	if [ "$skip" -gt 0 ]; then
		echo "$pass passed, $fail failed, $skip skipped"
	else
		echo "$pass passed, $fail failed"
	fi
	[ "$fail" -eq 0 ]
}

case "${1:-}" in
run)
	deps
	build build
	pids=""
	cleanup() {
		trap - INT TERM EXIT
		[ -n "$pids" ] && kill $pids 2>/dev/null
		wait 2>/dev/null
		exit 0
	}
	trap cleanup INT TERM EXIT
	build/gateway/siogate --listen 127.0.0.1:8080 --engineio-path /engine.io/ \
		--static "$top/examples/echo" &
	pids="$!"
	build/examples/echo/echo_worker -e tcp://127.0.0.1:5555 -p /engine.io/ &
	pids="$pids $!"
	echo
	echo "siogate is running with the echo example: open http://127.0.0.1:8080/"
	echo "(raw Engine.IO endpoint /engine.io/, echo worker over tcp://127.0.0.1:5555; Ctrl-C stops both)"
	wait
	;;
test)
	deps
	build build
	build build-asan --enable-asan --enable-debug
	rc=0
	make -s -C build check -j"$jobs" || rc=1
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		make -s -C build-asan check -j"$jobs" || rc=1
	for d in build build-asan; do
		grep -l '^:test-result: \(FAIL\|ERROR\)' "$d"/tests/*.trs "$d"/tests/*/*.trs 2>/dev/null |
		while read -r trs; do
			echo "---- $d: ${trs%.trs}.log"
			tail -n 40 "${trs%.trs}.log"
		done
	done
	summary build/test-suite.log build-asan/test-suite.log || rc=1
	exit $rc
	;;
*)
	echo "usage: $0 run|test" >&2
	exit 64
	;;
esac
