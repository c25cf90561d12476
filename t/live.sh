#!/bin/sh
# Live sessions: milterctl sessions lists the sessions open now across
# all workers (id, client, stage, the child awaited and for how long,
# age), in text and JSON; a worker lists at most 128 and the rest are
# counted; ended sessions leave the list.  milterctl trace ADDRESS
# [SECONDS] logs every packet, both ways, of new sessions from that
# address (MTA and children), for a while; bad requests are refused.
. "$(dirname "$0")/lib/test.sh"

PY=/usr/bin/python3
CTL() { "$BUILD/milterctl" -s "$TMP/md-live.ctl" "$@"; }

# slow takes 30 s at RCPT (the sessions are ended by its kill); quick
# answers at once.
tmilter quick
tmilter slow -S rcpt:30000
SLOW_PID=$BG_PID
milterd_start live "workers = 2" "$(child quick)" \
    "$(child slow command_timeout=60)"
SOCK=unix:$TMP/md-live.sock
MDLOG=$TMP/md-live.err
wait_for 10 test -S "$TMP/md-live.sock"

# Three sessions from three clients, held at RCPT by slow.
for a in 198.51.100.7 198.51.100.8 198.51.100.9; do
	bg "m-$a" "$BUILD/mtasim" -s "$SOCK" -a "$a" -r r@example.com
done
three() {
	CTL sessions >"$TMP/s.out" 2>&1 &&
	    [ "$(grep -c ' rcpt  *slow ' "$TMP/s.out")" -eq 3 ]
}
wait_for 10 three
check sessions-three three
grep_ok sessions-header '^SESSION +CLIENT +STAGE +CHILD +WAITED +AGE$' "$TMP/s.out"
for a in 198.51.100.7 198.51.100.8 198.51.100.9; do
	grep_ok "sessions-$a" "^[0-9]+\\.[0-9]+ +client\\.example\\[$a\\] +rcpt +slow +[0-9.]+s +[0-9.]+s\$" "$TMP/s.out"
done
# The waits grow: a second later each has waited a second or more.
waited() {
	CTL -j sessions >"$TMP/s.json" 2>&1 && "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
s = j["sessions"]
sys.exit(not (len(s) == 3 and all(x["waiting"] >= 1.0 and
    x["age"] >= x["waiting"] and x["child"] == "slow" and
    x["stage"] == "rcpt" for x in s) and j["open"] == 3 and
    j["listed"] == 3))' "$TMP/s.json"
}
wait_for 10 waited
if waited; then
	ok sessions-json-waited
else
	fail sessions-json-waited
	sed 's/^/    | /' "$TMP/s.json"
fi
check sessions-usage-refused sh -c "! '$BUILD/milterctl' -s '$TMP/md-live.ctl' sessions x"
CTL sessions x >"$TMP/usage.out" 2>&1
grep_ok sessions-usage-said 'usage: .*sessions' "$TMP/usage.out"

# slow killed: the sessions end (its fallback), and leave the list.
kill -9 "$SLOW_PID"
empty() {
	CTL sessions >"$TMP/s2.out" 2>&1 &&
	    [ "$(wc -l <"$TMP/s2.out")" -eq 1 ]
}
wait_for 10 empty
check sessions-ended-gone empty

# trace: the sessions from 198.51.100.20 are logged packet by packet,
# those from elsewhere not; here through two children, quick and hdr
# (which adds a header).
tmilter hdr -h 'X-Traced: yes'
milterd_start tr "$(child quick)" "$(child hdr)"
TCTL() { "$BUILD/milterctl" -s "$TMP/md-tr.ctl" "$@"; }
TSOCK=unix:$TMP/md-tr.sock
MDLOG=$TMP/md-tr.err
wait_for 10 test -S "$TMP/md-tr.sock"
check trace-ok TCTL trace 198.51.100.20 60
TCTL trace 198.51.100.20 60 >"$TMP/trace.out" 2>&1
grep_ok trace-said '^tracing new sessions from 198.51.100.20 for 60 seconds' "$TMP/trace.out"
mtasim_run t1 -s "$TSOCK" -a 198.51.100.21 -r r@example.com
mtasim_run t2 -s "$TSOCK" -a 198.51.100.20 -r r@example.com
grep_ok trace-mtasim-header '^  add header: X-Traced: yes$' "$TMP/t2.out"
wait_for 10 grep -q 'session=.*198.51.100.20.*verdict=' "$MDLOG"
id=$(sed -n 's/.*session \([0-9.]*\): client .*\[198.51.100.20\] traced.*/\1/p' "$MDLOG")
check trace-session-named test -n "$id"
n=0
for l in "MTA > milterd: connect \\(C\\): client.example, family 4, port [0-9]+, address 198.51.100.20" \
    "milterd > child quick: connect \\(C\\) [0-9]+ bytes: \"client.example" \
    "child quick > milterd: continue \\(c\\) 0 bytes" \
    "milterd > MTA: continue \\(c\\) 0 bytes" \
    "MTA > milterd: rcpt \\(R\\) [0-9]+ bytes: \"<r@example.com>" \
    "milterd > child hdr: rcpt \\(R\\) [0-9]+ bytes: \"<r@example.com>" \
    "MTA > milterd: body \\(B\\) [0-9]+ bytes" \
    "child hdr > milterd: addheader \\(h\\) [0-9]+ bytes: \"X-Traced" \
    "milterd > MTA: addheader \\(h\\) [0-9]+ bytes: \"X-Traced" \
    "MTA > milterd: quit \\(Q\\) 0 bytes"; do
	n=$((n + 1))
	grep_ok "trace-line-$n" "session $id: trace $l" "$MDLOG"
done
check trace-not-others sh -c "! grep -q 'client.example\\[198.51.100.21\\] traced' '$MDLOG'"
# Refused, said: not an address, seconds out of bounds, a ninth address.
for bad in "nope" "198.51.100.20 0" "198.51.100.20 3601" "198.51.100.20 x"; do
	# shellcheck disable=SC2086 # two words on purpose
	check "trace-refused-$bad" sh -c "! '$BUILD/milterctl' -s '$TMP/md-tr.ctl' trace $bad"
done
TCTL trace nope >"$TMP/trace-bad.out" 2>&1
grep_ok trace-bad-said '"nope" is not an IPv4 or IPv6 address' "$TMP/trace-bad.out"
for n in 1 2 3 4 5 6 7; do
	TCTL trace "2001:db8::$n" >/dev/null 2>&1
done
TCTL trace 192.0.2.99 >"$TMP/trace-full.out" 2>&1
RC=$?
check trace-ninth-refused test "$RC" -ne 0
grep_ok trace-ninth-said 'addresses are traced already; wait until one ends' "$TMP/trace-full.out"
# The same address again: its end set anew, not a new entry.
check trace-again-ok TCTL trace 198.51.100.20 1
# After its second: a new session from there is no longer traced.
gone() {
	_t=$(grep -c '198\.51\.100\.20\] traced' "$MDLOG")
	_s=$(grep -c 'session=.*198\.51\.100\.20\]' "$MDLOG")
	mtasim_run t3 -s "$TSOCK" -a 198.51.100.20 -r r@example.com
	wait_for 10 sh -c "[ \$(grep -c 'session=.*198\.51\.100\.20\]' '$MDLOG') -gt $_s ]" &&
	    [ "$(grep -c '198\.51\.100\.20\] traced' "$MDLOG")" -eq "$_t" ]
}
wait_for 10 gone
check trace-ends gone

# More than a worker lists: 150 sessions held open after DATA in one
# worker (mtasim -w until its standard input ends).
tmilter slow2
milterd_start one "workers = 1" "$(child slow2)"
mkfifo "$TMP/hold"
exec 3<>"$TMP/hold"
# Not through bg: sh gives a command in the background /dev/null as
# its input unless the command itself redirects it.
"$BUILD/mtasim" -s "unix:$TMP/md-one.sock" -n 150 -w <"$TMP/hold" \
    >"$TMP/hold.err" 2>&1 &
HOLD_PID=$!
on_exit "kill -9 $HOLD_PID 2>/dev/null"
wait_for 60 grep -q '^held: 150 of 150' "$TMP/hold.err"
grep_ok hold-150 '^held: 150 of 150' "$TMP/hold.err"
many() {
	"$BUILD/milterctl" -s "$TMP/md-one.ctl" sessions >"$TMP/s3.out" 2>&1 &&
	    grep -q '^(22 more open, not listed: a worker lists at most 128)$' \
	    "$TMP/s3.out"
}
wait_for 10 many
check sessions-bounded many
check sessions-128-rows test "$(grep -c '^[0-9]' "$TMP/s3.out")" -eq 128
exec 3>&-
wait_for 30 grep -q 'result' "$TMP/hold.err"

finish
