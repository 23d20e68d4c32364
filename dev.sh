#!/bin/sh
# dev.sh: set up a Debian 12 machine, build siogate, and run the example or the tests.
#   ./dev.sh run    install what is missing, build, start the gateway with the examples
#                   (chat at http://127.0.0.1:8080/, also /echo/ and /push/)
#   ./dev.sh test   install what is missing, build (plain and ASan/UBSan), run every test
# Run as root (it calls apt-get when packages are missing).
set -eu
cd "$(dirname "$0")"
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

deps() {
	pkgs="build-essential autoconf automake libtool pkg-config libev-dev libhttp-parser-dev
	      libwslay-dev libmsgpack-dev libjansson-dev libzmq3-dev libinih-dev libsystemd-dev libhiredis-dev mandoc
	      python3-socketio python3-requests python3-websocket python3-zmq python3-msgpack python3-redis redis-server systemd chromium clang libclang-rt-14-dev
	      haproxy nginx"
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
		case "$log" in
		*.tap)
			pass=$((pass + $(grep -c '^ok ' "$log")))
			fail=$((fail + $(grep -c '^not ok ' "$log")))
			continue
			;;
		esac
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
	# examples/ is the web root: / leads to chat/, the echo page is /echo/,
	# the push page /push/; socket.io.js comes from npm socket.io-client.
	build/gateway/siogate --listen 127.0.0.1:8080 --engineio-path /engine.io/ \
		--static "$top/examples" --client-dir "$top/tests/node_modules/socket.io-client/dist" &
	pids="$!"
	build/examples/chat/chat_worker -e tcp://127.0.0.1:5555 &
	pids="$pids $!"
	build/examples/echo/echo_worker -e tcp://127.0.0.1:5555 -p /engine.io/ &
	pids="$pids $!"
	# The Python examples import the siogate module of this tree.
	PYTHONPATH="$top/sdk/python${PYTHONPATH:+:$PYTHONPATH}"
	export PYTHONPATH
	/usr/bin/python3 examples/push/dcenter_worker.py -e tcp://127.0.0.1:5555 &
	pids="$pids $!"
	echo
	echo "siogate is running on http://127.0.0.1:8080/ with the examples (bridge tcp://127.0.0.1:5555):"
	echo "  chat   http://127.0.0.1:8080/        namespace /chat, C worker build/examples/chat/chat_worker"
	echo "                                       (examples/chat/chat_worker.py may join it: the gateway"
	echo "                                       spreads the sockets of /chat over both workers)"
	echo "  echo   http://127.0.0.1:8080/echo/   raw Engine.IO at /engine.io/, C echo worker"
	echo "  push   http://127.0.0.1:8080/push/   namespace /dcenter; then, in another shell:"
	echo "           PYTHONPATH=sdk/python examples/push/push.py --loop"
	echo "           or   build/examples/push/push_emitter 'hello'"
	echo "Ctrl-C stops them all."
	wait
	;;
test)
	deps
	build build
	build build-asan --enable-asan --enable-debug
	CC=clang build build-fuzz --enable-fuzzing
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
	# The fuzz targets, briefly (make fuzz-smoke FUZZ_SECONDS=600 for a real run).
	make -s -C build-fuzz fuzz-smoke FUZZ_SECONDS="${FUZZ_SECONDS:-5}" >build-fuzz/fuzz-smoke.tap || rc=1
	cat build-fuzz/fuzz-smoke.tap
	summary build/test-suite.log build-asan/test-suite.log build-fuzz/fuzz-smoke.tap || rc=1
	exit $rc
	;;
*)
	echo "usage: $0 run|test" >&2
	exit 64
	;;
esac
