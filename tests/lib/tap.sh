# tap.sh: TAP helpers for the shell tests (sourced).
#   ok "what"; not_ok "what" [detail lines...]; skip "what" "why"
#   tap_detail=FILE: not_ok also shows the first 20 lines of FILE (stderr of
#   the command under test, say) when it is not empty.
#   wait_log FILE PID ERE [SECONDS]: the shell's "spawn and wait for a log
#   line": wait until a line of FILE (a process's output) matches ERE;
#   prints that line and returns 0; returns 1 at the deadline (default 10 s)
#   or as soon as PID is gone.  Polls every 0.1 s: a shell has no event
#   to wait on.
#   tap_done: print the plan; the exit status is 1 when anything failed.
n=0
failed=0
tap_detail=
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
	if [ -n "$tap_detail" ] && [ -s "$tap_detail" ]; then
		sed 's/^/#   stderr: /' "$tap_detail" | head -20
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
wait_log() {
	_wl_file=$1
	_wl_pid=$2
	_wl_re=$3
	_wl_ticks=$(( ${4:-10} * 10 ))
	_wl_i=0
	while [ "$_wl_i" -lt "$_wl_ticks" ]; do
		if [ -f "$_wl_file" ] && grep -Eq -- "$_wl_re" "$_wl_file"; then
			grep -E -- "$_wl_re" "$_wl_file" | head -n 1
			return 0
		fi
		kill -0 "$_wl_pid" 2>/dev/null || break
		sleep 0.1
		_wl_i=$((_wl_i + 1))
	done
	# One last look: the line may have come with the exit.
	if [ -f "$_wl_file" ] && grep -Eq -- "$_wl_re" "$_wl_file"; then
		grep -E -- "$_wl_re" "$_wl_file" | head -n 1
		return 0
	fi
	return 1
}
tap_done() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
