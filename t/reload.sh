#!/bin/sh
# reload.sh: a reload cannot take mail down (issue 16, items 2 and 3).
# What a worker or the launcher would meet at start is an error at load
# (milterd -n, milterctl reload, SIGHUP), with its line; a new
# generation replaces the old one only once its workers are ready, so a
# worker that fails at start (simulated with MILTERD_TEST_WORKER_FAULT,
# milterd(8)) leaves the old generation serving, is reported with its
# reason, and is not started again.  Sessions run all along and must
# all succeed.  Also (item 5): a child with no fallback configured that
# is down gives tempfail.
. "$(dirname "$0")/lib/test.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "reload.sh: must run as root (workers drop to _milterd)"
	fail "running as root"
	finish
fi

FAULT=$TMP/fault
MILTERD_TEST_WORKER_FAULT=$FAULT
export MILTERD_TEST_WORKER_FAULT

tmilter hdr -h 'X-Reload: yes'
milterd_start rl 'workers = 2' "$(child hdr)"
CONF=$TMP/md-rl.conf
SOCK=unix:$TMP/md-rl.sock
LOG=$TMP/md-rl.err
MPID=$(cat "$TMP/md-rl.pid")
cp "$CONF" "$TMP/good.conf"

ctl() {
	_n=$1
	shift
	"$BUILD/milterctl" -s "$TMP/md-rl.ctl" "$@" >"$TMP/$_n.out" \
	    2>"$TMP/$_n.err"
	RC=$?
}

# worker_starts GEN: how many workers of generation GEN the master
# started (milterd -v logs each).
worker_starts() {
	grep -c "master: worker [0-9]*: pid [0-9]*, generation $1\$" "$LOG"
}

mtasim_run first -s "$SOCK" -r ok@example.com
rc_is first 0
grep_ok first-filtered 'X-Reload' "$TMP/first.out"

# Sessions, one after another, until told to stop; each must succeed.
: >"$TMP/load.fail"
(
	n=0
	while [ ! -e "$TMP/load.stop" ]; do
		n=$((n + 1))
		"$BUILD/mtasim" -s "$SOCK" -r ok@example.com \
		    >"$TMP/load.out" 2>&1 ||
		    { echo "session $n:"; cat "$TMP/load.out"; } \
		    >>"$TMP/load.fail"
		echo "$n" >"$TMP/load.count"
	done
) &
LOADPID=$!
on_exit "touch '$TMP/load.stop'; wait $LOADPID 2>/dev/null"
wait_for 10 test -s "$TMP/load.count" || fail load-runs "no session ran"

# bad_reload NAME PATTERN LINE...: the good file plus LINE...; milterd -n
# and milterctl reload both refuse it saying PATTERN, the log too, and
# generation 0 goes on.
bad_reload() {
	_n=$1
	_pat=$2
	shift 2
	{ cat "$TMP/good.conf"; printf '%s\n' "$@"; } >"$CONF"
	conf_bad "$_n-n" "$CONF"
	grep_ok "$_n-n-says" "$_pat" "$TMP/$_n-n.out"
	ctl "$_n" reload
	rc_is "$_n" 1
	grep_ok "$_n-says" "$_pat" "$TMP/$_n.err"
	grep_ok "$_n-logged" "master: ${_pat#^}" "$LOG"
}

# The issue's case: the workers' user does not exist.
L=$(($(wc -l <"$TMP/good.conf") + 1))
bad_reload user "^$CONF:$L: user \"nosuchuser\": no such user" \
    'user = "nosuchuser"'
bad_reload root-user "^$CONF:$L: user \"root\": is root" 'user = "root"'
bad_reload group "^$CONF:$L: group \"nosuchgroup\": no such group" \
    'group = "nosuchgroup"'
bad_reload socket-group "^$CONF:$L: socket_group \"nosuchgroup\": no such group" \
    'socket_group = "nosuchgroup"'
bad_reload chroot "^$CONF:$L: chroot \"$TMP/nodir\": No such file" \
    "chroot = \"$TMP/nodir\""
# Item 3: a command without a user, with a message that says so.
bad_reload cmd-nouser "^$CONF:$L: milter \"l\": command without user: set user" \
    "milter \"l\" { socket = \"unix:$TMP/l.sock\" command = \"/bin/true\" }"
bad_reload cmd-ghost "^$CONF:$((L + 1)): user \"nosuchuser\": no such user" \
    "milter \"l\" { socket = \"unix:$TMP/l.sock\" command = \"/bin/true\"" \
    'user = "nosuchuser" }'
bad_reload cmd-root "^$CONF:$L: milter \"l\": user \"root\" is root: .*allow_root_command = true" \
    "milter \"l\" { socket = \"unix:$TMP/l.sock\" command = \"/bin/true\" user = \"root\" }"
bad_reload syntax "^$CONF:$L: socket \"tcp:1\": unknown socket type" \
    'milter "x" { socket = "tcp:1" }'
# A new listening socket that cannot be opened: found by the master.
{ cat "$TMP/good.conf"; echo "listen = { \"$SOCK\", \"unix:$TMP/nodir/x.sock\" }"; } >"$CONF"
ctl listen reload
rc_is listen 1
grep_ok listen-says "nodir/x.sock.*; not reloading" "$TMP/listen.err"

# A worker that fails at start: found only then.  Its reason is the
# worker's own text: bounded, control characters made harmless.
cp "$TMP/good.conf" "$CONF"
printf 'disk on fire\033[2J\n' >"$FAULT"
ctl fault reload
rc_is fault 1
grep_ok fault-says '^reload failed: worker [12]: disk on fire\?\[2J; generation 0 goes on serving$' "$TMP/fault.err"
grep_ok fault-logged 'master: reload failed: worker [12]: disk on fire' "$LOG"
no_grep fault-no-escape "$(printf '\033')" "$TMP/fault.err"
check fault-started-2 test "$(worker_starts 1)" -eq 2
# SIGHUP likewise: logged, the old generation kept.
kill -HUP "$MPID"
hup_failed() {
	[ "$(grep -c 'master: reload failed: worker' "$LOG")" -eq 2 ]
}
if wait_for 10 hup_failed; then
	ok hup-fault-logged
else
	fail hup-fault-logged "no second 'reload failed' in the log"
fi
check hup-fault-started-2 test "$(worker_starts 1)" -eq 4
# A worker started again would come RESPAWN_PAUSE (1 s) after the one
# that failed; an absence cannot be polled for.
sleep 2
check fault-not-respawned test "$(worker_starts 1)" -eq 4
ctl status-fault status
grep_ok status-still-gen-0 '\(generation 0\)$' "$TMP/status-fault.out"

# A good reload after all that works, and its generation serves.
rm -f "$FAULT"
ctl good reload
rc_is good 0
grep_ok good-says "^reloaded $CONF: generation 1, 2 workers, 1 milters\$" "$TMP/good.out"
mtasim_run after -s "$SOCK" -r ok@example.com
rc_is after 0
grep_ok after-filtered 'X-Reload' "$TMP/after.out"

touch "$TMP/load.stop"
wait "$LOADPID"
check load-sessions-ran test "$(cat "$TMP/load.count")" -ge 1
if [ -s "$TMP/load.fail" ]; then
	fail load-all-succeeded "$(head -c 2000 "$TMP/load.fail")"
else
	ok load-all-succeeded
fi
echo "# $(cat "$TMP/load.count") sessions during the reloads"

# A worker that fails at the first start: milterd does not start (no
# worker started again and again), and says why.
echo "no spool" >"$FAULT"
milterd_bg first "$(child hdr)"
FPID=$BG_PID
if wait_for 20 sh -c "! kill -0 $FPID 2>/dev/null"; then
	ok first-fault-exits
else
	fail first-fault-exits "still running"
fi
grep_ok first-fault-says 'master: not started: worker 1: no spool' "$TMP/md-first.err"
check first-fault-no-pidfile test ! -e "$TMP/md-first.pid"
rm -f "$FAULT"

# Item 5: a child with no fallback configured that is down: tempfail,
# as Postfix's own milter_default_action.
milterd_start fb "milter \"down\" { socket = \"unix:$TMP/down.sock\" }"
mtasim_run fb-down -s "unix:$TMP/md-fb.sock" -r ok@example.com
rc_is fb-down 2
grep_ok fb-down-logged 'child down: .*fallback tempfail' "$TMP/md-fb.err"

finish
