# tests/bench/lib.sh: the set-up run.sh and cluster.sh share (sourced, not run).
# Before sourcing: set -eu, here= (tests/bench), top= (the source tree).
# Sets CLIENTS DURATION WARMUP PAYLOAD from the BENCH_ knobs both scripts take.
# bench_setup NODE_PKG TMPNAME (say() defined by then): build (make bench) in BENCH_BUILD or
# the build directory found, install tests/bench's npm packages when
# node_modules/NODE_PKG is missing or stale (no NODE_PKG: none needed), make
# OUT (BENCH_OUT or a new folder /tmp/TMPNAME.XXXXXX) and an empty OUT/results.jsonl.  Sets
# b SIOGATE WORKER BENCH OUT RESULTS.

# The knobs both take (see each script's head).
CLIENTS=${BENCH_CLIENTS:-2000}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
PAYLOAD=${BENCH_PAYLOAD:-100}

# Every process started here inherits the hard open-file limit.
# shellcheck disable=SC3045
ulimit -n "$(ulimit -Hn)"

bench_setup() {
	if [ -n "${BENCH_BUILD:-}" ]; then
		b=$BENCH_BUILD
	elif [ -f "$top/build/Makefile" ]; then
		b=$top/build
	elif [ -f "$top/Makefile" ]; then
		b=$top
	else
		b=$top/build
		[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1)
		mkdir -p "$b"
		(cd "$b" && "$top/configure" -q)
	fi
	say "building in $b (make bench)"
	make -s -C "$b" -j"$(nproc 2>/dev/null || echo 2)" bench >&2
	SIOGATE=$b/gateway/siogate
	WORKER=$b/tests/bench/bench_worker
	BENCH=$b/tests/bench/siogate-bench
	if [ -n "$1" ] && { [ ! -d "$here/node_modules/$1" ] ||
	    [ "$here/package-lock.json" -nt "$here/node_modules" ]; }; then
		say "installing the Node reference server's packages (npm ci in tests/bench)"
		(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
	fi
	OUT=${BENCH_OUT:-$(mktemp -d "/tmp/$2.XXXXXX")}
	mkdir -p "$OUT"
	RESULTS=$OUT/results.jsonl
	: >"$RESULTS"
}

# free_port: a free TCP port on 127.0.0.1, printed and left in p; each call
# starts from another one, so ports taken in a row differ even before binding.
NPORT=0
free_port() {
	NPORT=$((NPORT + 1))
	p=$((20000 + ($$ * 7 + NPORT * 101) % 20000))
	while ss -Htan "( sport = :$p )" 2>/dev/null | grep -q .; do
		p=$((p + 1))
	done
	echo "$p"
}

# wait_for FILE TEXT SECONDS: wait until FILE contains TEXT (tap.sh's wait_log).
. "$here/../lib/tap.sh"
wait_for() {
	wait_log "$1" "$$" "$2" "$3" >/dev/null
}
