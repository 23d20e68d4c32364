#!/bin/sh
# smoke.sh: run every fuzz target for a bounded time on its seed corpus; TAP.
#   smoke.sh BUILDDIR SRCDIR SECONDS TARGET...
# New inputs go to a scratch directory; a crash's input is kept in
# BUILDDIR/tests/fuzz/crashes/ (add it to tests/corpus/ as a regression input).
b=$1 s=$2 secs=$3
shift 3
echo "1..$#"
n=0 failed=0
for t in "$@"; do
	n=$((n + 1))
	name=$(basename "$t")
	seed="$s/tests/corpus/${name#fuzz_}"
	scratch=$(mktemp -d)
	mkdir -p "$b/tests/fuzz/crashes"
	if "$b/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$b/tests/fuzz/crashes/$name-" "$scratch" "$seed" \
	    >"$b/tests/fuzz/$name.log" 2>&1; then
		runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$b/tests/fuzz/$name.log" | tail -1)
		echo "ok $n - $name: ${runs:-?} runs in ${secs}s, no crash"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name crashed (see $b/tests/fuzz/$name.log)"
		tail -n 30 "$b/tests/fuzz/$name.log" | sed 's/^/# /'
	fi
	rm -rf "$scratch"
done
[ "$failed" -eq 0 ]
