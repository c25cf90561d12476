#!/bin/sh
# Over 10 000 sessions whose first child fails (a garbage reply at
# RCPT, its fallback accept) milterd's open file descriptors and RSS
# stay flat: measured from /proc for the worker, after a warm-up, and
# at the end.  The milterd measured is the optimised one that `make'
# builds (`make test' builds it first; LEAK_BUILD names another):
# ASan's own bookkeeping grows with every allocation and would look
# like a leak.  Leaks as such are the sanitizer runs' business.
. "$(dirname "$0")/lib/test.sh"

REL=${LEAK_BUILD:-$T/../build}
if [ ! -x "$REL/milterd" ]; then
	fail release-milterd "no $REL/milterd: run make first"
	finish
fi

SESSIONS=${LEAK_SESSIONS:-10000}
MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\n\nbody\n' >"$MSG"

bg bad /usr/bin/python3 "$T/milters/badmilter.py" "$TMP/bad.sock" garbage rcpt
wait_for 10 test -S "$TMP/bad.sock" || fail "badmilter did not start"
tmilter good -h 'X-Good: yes'
_build=$BUILD
BUILD=$REL
# failures_to_down = 0: every session goes through the failure, none is
# skipped as down.
milterd_start leak "$(child bad 'fallback = "accept"' 'failures_to_down = 0')" "$(child good)"
BUILD=$_build
S="unix:$TMP/md-leak.sock"

# fds PID
fds() {
	ls "/proc/$1/fd" | wc -l
}

# Warm-up: buffers and the allocator reach their working size.
mtasim_run warm -s "$S" -n 500 -c 20 -r x@example.com "$MSG"
rc_is warm 0
W=$(worker_pid leak)
check worker-found test -n "$W"
# Counted once no session is open.
wait_for 10 sh -c "\"$BUILD/milterctl\" -s \"$TMP/md-leak.ctl\" stats | grep -q 'open 0,'"
F0=$(fds "$W")
R0=$(rss "$W")
mtasim_run load -s "$S" -n "$SESSIONS" -c 20 -r x@example.com "$MSG"
rc_is load 0
wait_for 10 sh -c "\"$BUILD/milterctl\" -s \"$TMP/md-leak.ctl\" stats | grep -q 'open 0,'"
check same-worker test "$(worker_pid leak)" = "$W"
F1=$(fds "$W")
R1=$(rss "$W")
echo "# worker $W over $SESSIONS faulty sessions: fds $F0 -> $F1, RSS $R0 -> $R1 KiB"
check fds-flat test "$F1" -eq "$F0"
# Flat: at most 1 MiB more than after the warm-up.
check rss-flat test "$R1" -le $((R0 + 1024))
# Every session saw the fault (the child's failure logged each time).
n=$(grep -c 'child bad: rcpt: bad reply' "$TMP/md-leak.err")
check faults-logged test "$n" -eq $((SESSIONS + 500))
finish
