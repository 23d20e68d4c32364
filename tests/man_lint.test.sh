#!/bin/sh
# man_lint.test.sh: every man page is clean under mandoc -Tlint (TAP).
dir="${TOP_SRCDIR:-.}/man"
set -- "$dir"/*.[0-9]
echo "1..$#"
n=0
for page in "$@"; do
	n=$((n + 1))
	if [ -z "${MANDOC:-}" ] && ! command -v mandoc >/dev/null 2>&1; then
		echo "ok $n - $(basename "$page") # SKIP mandoc not installed"
		continue
	fi
	out=$(${MANDOC:-mandoc} -Tlint -Wwarning "$page" 2>&1)
	if [ -z "$out" ]; then
		echo "ok $n - $(basename "$page") lints clean"
	else
		echo "not ok $n - $(basename "$page") lints clean"
		echo "$out" | sed 's/^/# /'
	fi
done
