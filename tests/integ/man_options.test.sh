#!/bin/sh
# man_options.test.sh: the option table of siogate and its manuals agree (TAP).
#
# siogate --list-options prints "cli section key" for every option.  Each
# must be documented in siogate.conf(5) as ".It Cm key" in ".Ss [section]",
# with its flag under "Command line:" and a "Default:" equal to what
# --check-config prints, and in siogate(8) as ".It Fl \-cli".  In reverse,
# every key siogate.conf(5) documents and every flag siogate(8) documents
# must be known to the parser.  siogate-emit(1) documents every option of
# siogate-emit --help.
#
#   SIOGATE=gateway/siogate TOP_SRCDIR=. sh tests/integ/man_options.test.sh

if [ ! -x "${SIOGATE:-}" ]; then
	echo "1..0 # SKIP SIOGATE is not set to the gateway binary"
	exit 0
fi
top=${TOP_SRCDIR:-.}
conf5=$top/man/siogate.conf.5
man8=$top/man/siogate.8
emit1=$top/man/siogate-emit.1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/siogate-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

. "${TOP_SRCDIR:-.}/tests/lib/tap.sh"
check() {
	# check DESCRIPTION FILE-OF-PROBLEMS: ok when the file is empty
	if [ -s "$2" ]; then
		not_ok "$1" "$(sed 's/^/  /' "$2" | head -40)"
	else
		ok "$1"
	fi
}

timeout 10 "$SIOGATE" --list-options >"$tmp/list" 2>"$tmp/err" || {
	not_ok "siogate --list-options runs" "$(cat "$tmp/err")"
	echo "1..$n"
	exit 1
}
ok "siogate --list-options runs ($(wc -l <"$tmp/list") lines)"
timeout 10 "$SIOGATE" --check-config --config /dev/null >"$tmp/defaults" 2>"$tmp/err"

# siogate.conf(5) as "section<TAB>key<TAB>default<TAB>flag<TAB>reload" lines:
# ".Ss [section]" opens a section, ".It Cm key" an option, and the
# ".It Default:", ".It Command line:" and ".It Reload:" tags of its list
# are followed by the value's line.
awk '
function flush() {
	if (key != "")
		printf "%s\t%s\t%s\t%s\t%s\n", sec, key, def, flag, rel
	key = ""; def = ""; flag = ""; rel = ""
}
/^\.Sh / { flush(); sec = "" }
/^\.Ss \[/ {
	flush()
	sec = $0; sub(/^\.Ss \[/, "", sec); sub(/\].*$/, "", sec)
	if (sec ~ /^worker /) sec = "worker"
	next
}
sec != "" && /^\.It Cm [a-z_]+/ { flush(); key = $3; want = ""; next }
key != "" && /^\.It Default:/ { want = "def"; next }
key != "" && /^\.It Command line:/ { want = "flag"; next }
key != "" && /^\.It Reload:/ { want = "rel"; next }
want != "" {
	v = $0
	if (want == "def") {
		if (v ~ /^\.Li /) { sub(/^\.Li /, "", v); sub(/ .*/, "", v) } else v = "none"
		def = v
	} else if (want == "flag") {
		sub(/^\.Fl \\-/, "", v); sub(/ .*/, "", v); flag = v
	} else {
		sub(/ .*/, "", v); sub(/;$/, "", v); rel = v
	}
	want = ""
}
END { flush() }
' "$conf5" >"$tmp/doc"
if [ -s "$tmp/doc" ]; then
	ok "siogate.conf.5 parses ($(wc -l <"$tmp/doc") keys)"
else
	not_ok "siogate.conf.5 parses"
fi

# Each option of the table: documented in siogate.conf(5) with the right flag
# and default, and as a flag in siogate(8).
: >"$tmp/p_key"
: >"$tmp/p_flag"
: >"$tmp/p_def"
: >"$tmp/p_man8"
: >"$tmp/p_rel"
while read -r cli sec key; do
	if [ "$cli" = - ]; then
		# a [worker NAME] key
		grep -q "^worker	$key	" "$tmp/doc" ||
			echo "[worker NAME] $key is not in siogate.conf.5" >>"$tmp/p_key"
		continue
	fi
	if [ "$sec" = - ]; then
		# a flag of the command line only
		[ "$cli" = list-options ] && continue
		grep -q "^\.It Fl \\\\-$cli\( \|$\)" "$man8" ||
			echo "--$cli is not an .It Fl in siogate.8" >>"$tmp/p_man8"
		continue
	fi
	line=$(awk -F '\t' -v s="$sec" -v k="$key" '$1 == s && $2 == k' "$tmp/doc")
	if [ -z "$line" ]; then
		echo "[$sec] $key is not in siogate.conf.5" >>"$tmp/p_key"
		continue
	fi
	flag=$(echo "$line" | cut -f4)
	[ "$flag" = "$cli" ] ||
		echo "[$sec] $key: Command line: says '--$flag', the parser '--$cli'" >>"$tmp/p_flag"
	rel=$(echo "$line" | cut -f5)
	case "$rel" in
	applied | restart) ;;
	*) echo "[$sec] $key: Reload: says '$rel' (want 'applied...' or 'restart needed')" >>"$tmp/p_rel" ;;
	esac
	def=$(echo "$line" | cut -f3)
	# The value --check-config prints: the first "key = v" of the section.
	have=$(awk -v s="[$sec]" -v k="$key" '
		/^\[/ { in_s = ($0 == s); next }
		in_s && $1 == k && $2 == "=" { print $3; exit }
		in_s && $1 == ";" && $2 == k { print "none"; exit }
	' "$tmp/defaults")
	[ -n "$have" ] || have=none
	[ "$def" = "$have" ] ||
		echo "[$sec] $key: Default: says '$def', --check-config prints '$have'" >>"$tmp/p_def"
	grep -q "^\.It Fl \\\\-$cli\( \|$\)" "$man8" ||
		echo "--$cli is not an .It Fl in siogate.8" >>"$tmp/p_man8"
done <"$tmp/list"
check "every option of --list-options is a key of siogate.conf.5" "$tmp/p_key"
check "siogate.conf.5 names the right command-line flag for every key" "$tmp/p_flag"
check "siogate.conf.5 gives the default --check-config prints for every key" "$tmp/p_def"
check "siogate.conf.5 says for every key whether SIGHUP applies it" "$tmp/p_rel"
check "siogate.8 documents every flag as .It Fl" "$tmp/p_man8"

# In reverse: every key of siogate.conf(5) and every flag of siogate(8) is known.
: >"$tmp/p_unknown"
while IFS='	' read -r sec key def flag rel; do
	if [ "$sec" = worker ]; then
		grep -q "^- worker $key\$" "$tmp/list" ||
			echo "siogate.conf.5 documents [worker NAME] $key, unknown to the parser" >>"$tmp/p_unknown"
	else
		grep -q " $sec $key\$" "$tmp/list" ||
			echo "siogate.conf.5 documents [$sec] $key, unknown to the parser" >>"$tmp/p_unknown"
	fi
done <"$tmp/doc"
check "every key documented in siogate.conf.5 is known to the parser" "$tmp/p_unknown"
: >"$tmp/p_unknown8"
sed -n 's/^\.It Fl \\-\([a-z][a-z0-9-]*\).*/\1/p' "$man8" | sort -u | while read -r f; do
	grep -q "^$f " "$tmp/list" ||
		echo "siogate.8 documents --$f, unknown to siogate" >>"$tmp/p_unknown8"
done
check "every flag documented in siogate.8 is known to siogate" "$tmp/p_unknown8"

# siogate-emit(1) and siogate-emit --help.
if [ -x "${SIOGATE_EMIT:-}" ]; then
	: >"$tmp/p_emit"
	"$SIOGATE_EMIT" --help >"$tmp/emit_help" 2>&1
	sed -n 's/^ *-\([a-zA-Z]\), --\([a-z-]*\).*/\1 \2/p' "$tmp/emit_help" >"$tmp/emit_opts"
	[ -s "$tmp/emit_opts" ] || echo "siogate-emit --help lists no options" >>"$tmp/p_emit"
	while read -r short long; do
		grep -q "^\.It Fl $short , \\\\-$long\( \|$\)" "$emit1" ||
			echo "-$short, --$long is not an .It Fl in siogate-emit.1" >>"$tmp/p_emit"
	done <"$tmp/emit_opts"
	sed -n 's/^\.It Fl \([a-zA-Z]\) , \\-\([a-z-]*\).*/\1 \2/p' "$emit1" | while read -r short long; do
		grep -q "^$short $long\$" "$tmp/emit_opts" ||
			echo "siogate-emit.1 documents -$short, --$long, unknown to siogate-emit --help" >>"$tmp/p_emit"
	done
	check "siogate-emit.1 and siogate-emit --help list the same options" "$tmp/p_emit"
else
	ok "siogate-emit.1 and siogate-emit --help # SKIP SIOGATE_EMIT is not set"
fi

tap_done
