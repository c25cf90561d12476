#!/bin/sh
# bin/milterd-munin against a running milterd: config names a DERIVE
# field per child and verdict, fetch gives exactly the counts of a known
# batch of sessions, autoconf says yes, and no with a reason when
# milterctl cannot ask.
. "$(dirname "$0")/lib/test.sh"

PLUGIN=$T/../bin/milterd-munin
CTL=$TMP/md-munin.ctl

# munin NAME CONTROL MILTERCTL [ARG]: the plugin run with that socket
# and program; its output in $TMP/NAME.out (its stderr in $TMP/NAME.err,
# which finish checks), its exit status in $RC.
munin() {
	_n=$1
	_c=$2
	_p=$3
	shift 3
	MILTERCTL=$_p MILTERD_CONTROL=$_c TMPDIR=$TMP sh "$PLUGIN" "$@" \
	    >"$TMP/$_n.out" 2>"$TMP/$_n.err"
	RC=$?
}

# value FIELD: FIELD's value in the last fetch.
value() {
	awk -v f="$1.value" '$1 == f { print $2 }' "$TMP/fetch.out"
}

# One child, with a name the plugin must clean up for munin, that
# refuses one recipient.
tmilter rc -R bad@example.com
milterd_start munin "milter \"Rcpt-check.1\" { socket = \"unix:$TMP/rc.sock\" }"

# 4 sessions with a good and a bad recipient: the child rejects the bad
# one and accepts the message at end of message (one reject and one
# accept each).  3 sessions with only the bad one: a reject, and the
# session ends there.
mtasim_run batch1 -s "unix:$TMP/md-munin.sock" -n 4 -c 2 \
    -r good@example.com -r bad@example.com
rc_is batch1 0
grep_ok batch1-results 'results: accept 4 reject 0 tempfail 0 discard 0 error 0' "$TMP/batch1.out"
mtasim_run batch2 -s "unix:$TMP/md-munin.sock" -n 3 -r bad@example.com
rc_is batch2 0
grep_ok batch2-results 'results: accept 0 reject 3 tempfail 0 discard 0 error 0' "$TMP/batch2.out"
# A session is counted when milterd has seen the MTA go.
check sessions-counted wait_for 10 sh -c \
    "'$BUILD/milterctl' -s '$CTL' stats | grep -q '^sessions 7,'"

munin autoconf "$CTL" "$BUILD/milterctl" autoconf
check autoconf-rc test "$RC" -eq 0
check autoconf-yes test "$(cat "$TMP/autoconf.out")" = yes

munin config "$CTL" "$BUILD/milterctl" config
check config-rc test "$RC" -eq 0
grep_ok config-title '^graph_title .' "$TMP/config.out"
grep_ok config-category '^graph_category mail$' "$TMP/config.out"
grep_ok config-vlabel '^graph_vlabel .' "$TMP/config.out"
grep_ok config-sessions '^sessions\.label .' "$TMP/config.out"
grep_ok config-sessions-derive '^sessions\.type DERIVE$' "$TMP/config.out"
grep_ok config-sessions-min '^sessions\.min 0$' "$TMP/config.out"
bad=$(sed -n 's/^\([^ .]*\)\..*/\1/p' "$TMP/config.out" | sort -u |
    grep -v '^[a-z_][a-z0-9_]*$')
check config-field-names test -z "$bad"

munin fetch "$CTL" "$BUILD/milterctl"
check fetch-rc test "$RC" -eq 0
bad=$(grep -v '^[a-z_][a-z0-9_]*\.value [0-9][0-9]*$' "$TMP/fetch.out")
check fetch-lines test -z "$bad"
sed -n 's/\.label .*//p' "$TMP/config.out" | sort >"$TMP/config.fields"
sed 's/\.value .*//' "$TMP/fetch.out" | sort >"$TMP/fetch.fields"
check fetch-fields-as-config cmp "$TMP/config.fields" "$TMP/fetch.fields"
check fetch-sessions test "$(value sessions)" = 7

# Each verdict of the child: its field (found by its label), DERIVE with
# minimum 0, and the count from the batch.
for want in accept:4 reject:7 tempfail:0 discard:0 quarantine:0; do
	v=${want%:*}
	f=$(awk -v l="Rcpt-check.1 $v" '
	    $1 ~ /\.label$/ {
		f = $1
		sub(/\.label$/, "", f)
		sub(/^[^ ]* /, "")
		if ($0 == l)
			print f
	    }' "$TMP/config.out")
	if [ -z "$f" ]; then
		fail "config-$v" "no field labelled Rcpt-check.1 $v"
		continue
	fi
	ok "config-$v"
	grep_ok "config-$v-derive" "^$f\\.type DERIVE\$" "$TMP/config.out"
	grep_ok "config-$v-min" "^$f\\.min 0\$" "$TMP/config.out"
	check "fetch-$v" test "$(value "$f")" = "${want#*:}"
done

# Without milterd: autoconf says no and why, and still exits 0 (as
# munin wants); fetch and config fail.
munin autoconf-down "$TMP/nothere.ctl" "$BUILD/milterctl" autoconf
check autoconf-down-rc test "$RC" -eq 0
grep_ok autoconf-down-no '^no \(.*nothere\.ctl.*\)$' "$TMP/autoconf-down.out"
munin fetch-down "$TMP/nothere.ctl" "$BUILD/milterctl"
check fetch-down-fails test "$RC" -ne 0
check fetch-down-silent test ! -s "$TMP/fetch-down.out"
munin autoconf-noprog "$CTL" "$TMP/no-milterctl" autoconf
check autoconf-noprog-rc test "$RC" -eq 0
grep_ok autoconf-noprog-no '^no \(.*no-milterctl not found\)$' "$TMP/autoconf-noprog.out"

finish
