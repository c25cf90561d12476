#!/bin/sh
# Live sessions: milterctl sessions lists the sessions open now across
# all workers (id, client, stage, the child awaited and for how long,
# age), in text and JSON; a worker lists at most 128 and the rest are
# counted; ended sessions leave the list.
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
