# tap.sh: TAP helpers for the shell tests (sourced).
#   ok "what"; not_ok "what" [detail lines...]; skip "what" "why"
n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for l in "$@"; do
		echo "# $l"
	done
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
