#!/bin/sh
# milterd's processes: workers that drop to _milterd, the root launcher
# that starts a child milter found down (and refuses a root command),
# respawn of a killed worker, retirement after max_sessions_per_worker,
# SIGHUP reload under load and with a broken file, graceful stop, the
# pid file lock, and daemon mode.  Runs as root.
#
# The parts keep the numbers of the plan they were written from; the
# load of part 6 runs in the background from the start, while the
# others go on, and its results are checked at the end.
. "$(dirname "$0")/lib/test.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "processes.sh: must run as root (workers drop to _milterd)"
	fail "running as root"
	finish
fi

# master NAME: the master's pid, from the pid file.
master() {
	cat "$TMP/md-$1.pid" 2>/dev/null
}

# kids PID WHAT: the pids of PID's children titled "milterd: WHAT ...",
# sorted, one a line.
kids() {
	ps -o pid=,args= --ppid "$1" 2>/dev/null |
	    awk -v w="$2" '$2 == "milterd:" && $3 == w { print $1 }' | sort -n
}

# user_of PID: the user PID runs as.
user_of() {
	ps -o user= -p "$1" 2>/dev/null | tr -d ' '
}

# alive PID: running, not a zombie (an orphaned daemon's parent may
# not reap it at once).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	_st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

# nlines_is N CMD...: CMD's output is N lines.
nlines_is() {
	_want=$1
	shift
	[ "$("$@" | grep -c .)" -eq "$_want" ]
}

# gen_pids NAME GEN: the pids the master logged for generation GEN.
# Not anchored: with -d, lines of several processes may be mixed.
gen_pids() {
	sed -n "s/.*worker [0-9]*: pid \([0-9]*\), generation $2\([^0-9].*\)*\$/\1/p" \
	    "$TMP/md-$1.err" | sort -n
}

# none_alive PID...: none of them runs.
none_alive() {
	for _p; do
		alive "$_p" && return 1
	done
	return 0
}

# reap SECS PID: wait for our background PID, at most SECS seconds
# (then it is killed and the status is 137); its status in $?.
reap() {
	if ! wait_for "$1" none_alive "$2"; then
		kill -9 "$2" 2>/dev/null
	fi
	wait "$2"
}

# now_ms: milliseconds since the epoch.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

START=$(now_ms)

# 6. Reload under load: nothing lost, old generations go.  The load
# runs on while the other parts do.
tmilter lhdr -h 'X-Load: yes'
milterd_start load 'workers = 2' "$(child lhdr)"
LM=$(master load)
"$BUILD/mtasim" -s "unix:$TMP/md-load.sock" -n 3000 -c 20 \
    >"$TMP/load.out" 2>&1 &
LOADPID=$!
on_exit "kill -9 $LOADPID 2>/dev/null"
# Reload only once sessions flow.
wait_for 20 grep -q 'session=' "$TMP/md-load.err" ||
    fail load-sessions-flow "no session in the log"
served_by_gen() {
	for _p in $(gen_pids load "$1"); do
		grep -q "session=$_p\." "$TMP/md-load.err" && return 0
	done
	return 1
}
for g in 1 2 3; do
	check "load-running-at-hup-$g" alive "$LOADPID"
	kill -HUP "$LM"
	if wait_for 20 grep -q "reloaded: generation $g," "$TMP/md-load.err"; then
		ok "load-reloaded-$g"
	else
		fail "load-reloaded-$g" "no 'reloaded: generation $g' in the log"
	fi
	# ... and the new generation serves before the next reload.
	if wait_for 20 served_by_gen "$g"; then
		ok "load-gen-$g-serves"
	else
		fail "load-gen-$g-serves" "no session by generation $g"
	fi
done

# 8. Graceful stop: the session in progress ends normally.
tmilter slow -S eom:3000
milterd_start stop "$(child slow)"
SM_PID=$BG_PID
SM=$(master stop)
check stop-pidfile-is-master test "$SM" = "$SM_PID"
"$BUILD/mtasim" -s "unix:$TMP/md-stop.sock" >"$TMP/stop.out" 2>&1 &
STOPSIM=$!
on_exit "kill -9 $STOPSIM 2>/dev/null"
if wait_for 10 grep -q '^eom' "$TMP/slow.log"; then
	ok stop-session-at-eom
else
	fail stop-session-at-eom "the slow child never got the eom"
fi
kill -TERM "$SM"
# The master waits for the session: still there a moment later.
if wait_for 1 none_alive "$SM"; then
	fail stop-master-waits "exited before the session ended"
else
	ok stop-master-waits
fi
reap 20 "$STOPSIM"
RC=$?
rc_is stop 0
grep_ok stop-accept '^result: accept' "$TMP/stop.out"
reap 20 "$SM_PID"
check stop-master-exit-0 test $? -eq 0
check stop-socket-removed test ! -e "$TMP/md-stop.sock"
check stop-pidfile-removed test ! -e "$TMP/md-stop.pid"
grep_ok stop-logged 'master: stopped' "$TMP/md-stop.err"

# 1. Privilege drop, seen from outside.
tmilter hdr -h 'X-Hdr: one'
milterd_start main 'workers = 2' "$(child hdr)"
M=$(master main)
check main-pidfile test -n "$M"
if wait_for 10 nlines_is 2 kids "$M" worker; then
	ok priv-two-workers
else
	fail priv-two-workers "$(ps -o pid,user,args --ppid "$M")"
fi
workers_are_milterd() {
	_w=$(kids "$M" worker)
	[ -n "$_w" ] || return 1
	for _p in $_w; do
		[ "$(user_of "$_p")" = _milterd ] || return 1
	done
}
if wait_for 10 workers_are_milterd; then
	ok priv-workers-milterd
else
	fail priv-workers-milterd "$(ps -o pid,user,args --ppid "$M")"
fi
check priv-master-root test "$(user_of "$M")" = root
# Workers cannot open listening sockets: a seccomp filter on Linux.
for _p in $(kids "$M" worker); do
	check "priv-worker-seccomp-$_p" grep -q '^Seccomp:[[:space:]]*2' \
	    "/proc/$_p/status"
done
L=$(kids "$M" launcher)
check priv-one-launcher test "$(echo "$L" | grep -c .)" -eq 1
check priv-launcher-root test "$(user_of "$L")" = root
mtasim_run main -s "unix:$TMP/md-main.sock" -o "$TMP/main.eml"
rc_is main 0
check main-header grep -q '^X-Hdr: one' "$TMP/main.eml"

# SIGUSR1 (log rotation) is taken, said, and changes nothing.
kill -USR1 "$M"
check usr1-logged wait_for 10 grep -q 'SIGUSR1: no log file to reopen' \
    "$TMP/md-main.err"
check usr1-master-alive kill -0 "$M"

# 9. A second milterd on the same pid file refuses to start, and
# leaves the first one's pid file and socket alone.
timeout 10 "$BUILD/milterd" -d -f "$TMP/md-main.conf" >"$TMP/second.err" 2>&1
RC=$?
check second-exit-1 test "$RC" -eq 1
grep_ok second-already-running "already running" "$TMP/second.err"
check second-pidfile-kept test "$(master main)" = "$M"
mtasim_run second-after -s "unix:$TMP/md-main.sock"
rc_is second-after 0

# 4. Respawn: SIGKILL a worker; another takes its place.
OLDW=$(kids "$M" worker)
VICTIM=$(echo "$OLDW" | head -n 1)
kill -9 "$VICTIM"
respawned() {
	_w=$(kids "$M" worker)
	[ "$(echo "$_w" | grep -c .)" -eq 2 ] &&
	    ! echo "$_w" | grep -qx "$VICTIM"
}
if wait_for 10 respawned; then
	ok respawn-new-worker
else
	fail respawn-new-worker "$(ps -o pid,user,args --ppid "$M")"
fi
NEWW=$(kids "$M" worker | grep -vx "$(echo "$OLDW" | tail -n 1)")
check respawn-new-pid test -n "$NEWW" -a "$NEWW" != "$VICTIM"
check respawn-new-milterd test "$(user_of "$NEWW")" = _milterd
grep_ok respawn-logged "worker [0-9]+: pid $VICTIM killed by signal 9" \
    "$TMP/md-main.err"
# Several sessions, so that both workers serve (the new one too).
mtasim_run respawn-load -s "unix:$TMP/md-main.sock" -n 40 -c 4
grep_ok respawn-sessions '^results: accept 40 reject 0 tempfail 0 discard 0 error 0' \
    "$TMP/respawn-load.out"
mtasim_run respawn -s "unix:$TMP/md-main.sock" -o "$TMP/respawn.eml"
rc_is respawn 0
check respawn-header grep -q '^X-Hdr: one' "$TMP/respawn.eml"

# The launcher, killed, is started again.
OLDL=$(kids "$M" launcher)
kill -9 "$OLDL"
new_launcher() {
	_l=$(kids "$M" launcher)
	[ -n "$_l" ] && [ "$_l" != "$OLDL" ]
}
check launcher-respawned wait_for 10 new_launcher
check launcher-respawned-root test "$(user_of "$(kids "$M" launcher)")" = root
grep_ok launcher-respawn-logged "launcher: pid $OLDL killed by signal 9" \
    "$TMP/md-main.err"

# 7. A reload with an error on line 6: logged as file:line, nothing
# changes.  Then a good reload adds a second child.
CONF=$TMP/md-main.conf
head -n 4 "$CONF" >"$TMP/head.conf"
{
	cat "$TMP/head.conf"
	echo 'workers = 2'
	echo 'no_such_key = 1'
	child hdr
} >"$CONF"
WBEFORE=$(kids "$M" worker)
kill -HUP "$M"
if wait_for 10 grep -q 'has errors, not reloading' "$TMP/md-main.err"; then
	ok badconf-not-reloading
else
	fail badconf-not-reloading "no 'has errors, not reloading' in the log"
fi
grep_ok badconf-file-line "md-main\.conf:6: .*no_such_key" "$TMP/md-main.err"
check badconf-no-new-generation sh -c "! grep -q 'reloaded: generation' '$TMP/md-main.err'"
check badconf-workers-unchanged test "$(kids "$M" worker)" = "$WBEFORE"
mtasim_run badconf -s "unix:$TMP/md-main.sock" -o "$TMP/badconf.eml"
rc_is badconf 0
check badconf-header grep -q '^X-Hdr: one' "$TMP/badconf.eml"

tmilter hdr2 -h 'X-Second: two'
{
	cat "$TMP/head.conf"
	echo 'workers = 2'
	child hdr
	child hdr2
} >"$CONF"
kill -HUP "$M"
if wait_for 10 grep -q 'reloaded: generation 1, 2 workers, 2 milters' \
    "$TMP/md-main.err"; then
	ok goodconf-reloaded
else
	fail goodconf-reloaded "no 'reloaded: generation 1' in the log"
	tail -n 20 "$TMP/md-main.err"
fi
if wait_for 10 none_alive $WBEFORE; then
	ok goodconf-old-workers-gone
else
	fail goodconf-old-workers-gone "$(ps -o pid,user,args --ppid "$M")"
fi
mtasim_run goodconf -s "unix:$TMP/md-main.sock" -o "$TMP/goodconf.eml"
rc_is goodconf 0
check goodconf-second-child grep -q '^X-Second: two' "$TMP/goodconf.eml"
check goodconf-first-child grep -q '^X-Hdr: one' "$TMP/goodconf.eml"

# 2. The launcher starts a child that is down, as its user; the session
# that found it down gets its verdict.
mkdir -m 1777 "$TMP/launch"
cp "$BUILD/tmilter" "$TMP/launch/tmilter"
chmod 755 "$TMP/launch/tmilter"
LCMD="$TMP/launch/tmilter -p unix:$TMP/launch/l.sock -l $TMP/launch/l.log -h 'X-Launched: yes'"
# The launched milter outlives milterd (its own session): kill it by
# pid at exit.
on_exit 'for p in $(pgrep -f "^$TMP/launch/tmilter"); do kill -9 $p; done'
milterd_start launch 'launch_wait = 10' \
    "milter \"launched\" { socket = \"unix:$TMP/launch/l.sock\" command = \"$LCMD\" user = \"nobody\" }"
check launch-down-before test ! -e "$TMP/launch/l.sock"
mtasim_run launch -s "unix:$TMP/md-launch.sock" -o "$TMP/launch.eml"
rc_is launch 0
check launch-header grep -q '^X-Launched: yes' "$TMP/launch.eml"
grep_ok launch-asked 'milter launched: not reachable, asked the launcher' \
    "$TMP/md-launch.err"
grep_ok launch-started-line "launcher: milter launched: started \".*tmilter -p unix:$TMP/launch/l.sock.*\" as nobody, pid [0-9]+" \
    "$TMP/md-launch.err"
LPID=$(sed -n 's/.*milter launched: started .* pid \([0-9][0-9]*\).*/\1/p' \
    "$TMP/md-launch.err" | head -n 1)
check launch-pid-alive alive "${LPID:-0}"
check launch-runs-as-nobody test "$(user_of "${LPID:-0}")" = nobody
check launch-one-copy test "$(pgrep -c -f "^$TMP/launch/tmilter")" -eq 1
mtasim_run launch2 -s "unix:$TMP/md-launch.sock" -o "$TMP/launch2.eml"
rc_is launch2 0
check launch2-header grep -q '^X-Launched: yes' "$TMP/launch2.eml"
check launch2-still-one-copy test "$(pgrep -c -f "^$TMP/launch/tmilter")" -eq 1
check launch2-one-start test "$(grep -c 'milter launched: started' "$TMP/md-launch.err")" -eq 1
check launch2-same-pid test "$(pgrep -f "^$TMP/launch/tmilter")" = "$LPID"

# A command that never listens: while it runs, concurrent sessions on
# two workers, retrying for launch_wait, do not start it again; then
# the child's fallback.
cp /usr/bin/sleep "$TMP/launch/neverup"
chmod 755 "$TMP/launch/neverup"
on_exit 'for p in $(pgrep -f "^$TMP/launch/neverup"); do kill -9 $p; done'
milterd_start neverup 'workers = 2' 'launch_wait = 2' \
    "milter \"neverup\" { socket = \"unix:$TMP/launch/neverup.sock\" command = \"$TMP/launch/neverup 30\" user = \"nobody\" fallback = \"tempfail\" }"
timeout 20 "$BUILD/mtasim" -s "unix:$TMP/md-neverup.sock" -n 4 -c 4 \
    >"$TMP/neverup.out" 2>&1
grep_ok neverup-fallback '^results: accept 0 reject 0 tempfail 4 discard 0 error 0' \
    "$TMP/neverup.out"
grep_ok neverup-still-down 'child neverup: .*still down after a launch request; fallback tempfail' \
    "$TMP/md-neverup.err"
check neverup-one-start test "$(grep -c 'milter neverup: started' "$TMP/md-neverup.err")" -eq 1
check neverup-one-copy test "$(pgrep -c -f "^$TMP/launch/neverup")" -eq 1

# 3. A root command without allow_root_command: an error at load (the
# launcher would refuse it; test_launcher.c checks that it still does),
# so milterd does not start, and nothing is run.
printf '%s\n' "pidfile = \"$TMP/refuse.pid\"" \
    "milter \"rootcmd\" { socket = \"unix:$TMP/rootcmd.sock\" command = \"/usr/bin/touch $TMP/marker\" user = \"root\" fallback = \"tempfail\" }" \
    >"$TMP/refuse.conf"
conf_bad refuse "$TMP/refuse.conf"
grep_ok refuse-says "refuse.conf:2: milter \"rootcmd\": user \"root\" is root: name an unprivileged user, or set allow_root_command = true" \
    "$TMP/refuse.out"
"$BUILD/milterd" -d -f "$TMP/refuse.conf" >"$TMP/refuse-start.out" 2>&1
RC=$?
rc_is refuse-start 1
check refuse-no-pidfile test ! -e "$TMP/refuse.pid"
check refuse-nothing-run test ! -e "$TMP/marker"

# 5. Retirement after max_sessions_per_worker.
milterd_start retire 'max_sessions_per_worker = 5'
timeout 20 "$BUILD/mtasim" -s "unix:$TMP/md-retire.sock" -n 12 -c 1 \
    >"$TMP/retire.out" 2>&1
grep_ok retire-sessions '^results: accept 12 reject 0 tempfail 0 discard 0 error 0' \
    "$TMP/retire.out"
NSERVERS=$(sed -n 's/.*session=\([0-9]*\)\.[0-9]* .*/\1/p' "$TMP/md-retire.err" |
    sort -u | grep -c .)
check retire-several-workers test "$NSERVERS" -ge 2
check retire-at-most-5-each sh -c "! sed -n 's/.*session=[0-9]*\.\([0-9]*\) .*/\1/p' '$TMP/md-retire.err' | grep -qvx '[1-5]'"
grep_ok retire-logged 'worker 1: pid [0-9]+ retired; starting another' \
    "$TMP/md-retire.err"

# 10. Daemon mode: the command returns once the pid file names the
# daemon; SIGTERM removes it.
{
	echo "listen = \"unix:$TMP/dm.sock\""
	echo "pidfile = \"$TMP/dm.pid\""
	echo "control = \"$TMP/dm.ctl\""
	echo "state_file = \"$TMP/dm.state\""
	echo "workers = 1"
	echo "spool_dir = \"$TMP/spool\""
} >"$TMP/dm.conf"
"$BUILD/milterd" -f "$TMP/dm.conf" >"$TMP/dm.err" 2>&1 &
FG=$!
reap 20 "$FG"
RC=$?
# At once, with no fork: the pid file must already be written.
DPID=
read -r DPID 2>/dev/null <"$TMP/dm.pid"
# ... and the launcher and the worker started.
NKIDS=0
[ -n "$DPID" ] && NKIDS=$(ps -o pid= --ppid "$DPID" | grep -c .)
[ -n "$DPID" ] && on_exit "kill -9 $DPID 2>/dev/null"
check daemon-exit-0 test "$RC" -eq 0
check daemon-pidfile-numeric sh -c "echo '$DPID' | grep -qx '[0-9][0-9]*'"
check daemon-pid-not-command test "${DPID:-0}" != "$FG"
check daemon-alive alive "${DPID:-0}"
check daemon-processes-started test "$NKIDS" -eq 2
check daemon-title sh -c "ps -o args= -p '${DPID:-0}' | grep -q '^milterd: master'"
check daemon-socket test -S "$TMP/dm.sock"
mtasim_run daemon -s "unix:$TMP/dm.sock"
rc_is daemon 0
[ -n "$DPID" ] && kill -TERM "$DPID"
if wait_for 20 sh -c "! test -e '$TMP/dm.pid'"; then
	ok daemon-pidfile-removed
else
	fail daemon-pidfile-removed "$TMP/dm.pid still there"
fi
if wait_for 20 none_alive "${DPID:-0}"; then
	ok daemon-stopped
else
	fail daemon-stopped "pid $DPID still alive"
fi
check daemon-socket-removed test ! -e "$TMP/dm.sock"

# A listening socket that cannot be opened: exit 1, no pid file.
sed "s|^listen = .*|listen = \"unix:$TMP/nonexistent/dm.sock\"|; s|dm.pid|dm2.pid|" \
    "$TMP/dm.conf" >"$TMP/dm2.conf"
timeout 10 "$BUILD/milterd" -f "$TMP/dm2.conf" >"$TMP/dm2.err" 2>&1
RC=$?
check nosock-exit-1 test "$RC" -eq 1
grep_ok nosock-reason "nonexistent/dm.sock: No such file or directory" "$TMP/dm2.err"
check nosock-no-pidfile test ! -e "$TMP/dm2.pid"

# 6, the end: the load is done.
reap 60 "$LOADPID"
RC=$?
rc_is load 0
grep_ok load-results '^results: accept 3000 reject 0 tempfail 0 discard 0 error 0' \
    "$TMP/load.out"
check load-child-saw-all test "$(grep -c '^eom' "$TMP/lhdr.log")" -eq 3000
OLDGEN=$( (gen_pids load 0; gen_pids load 1; gen_pids load 2) | sort -n)
check load-old-generations-logged test "$(echo "$OLDGEN" | grep -c .)" -ge 6
if wait_for 20 none_alive $OLDGEN; then
	ok load-old-generations-gone
else
	fail load-old-generations-gone "$(ps -o pid,user,args --ppid "$LM")"
fi
only_last_gen() {
	_w=$(kids "$LM" worker)
	[ "$(echo "$_w" | grep -c .)" -eq 2 ] || return 1
	for _p in $_w; do
		gen_pids load 3 | grep -qx "$_p" || return 1
	done
}
if wait_for 10 only_last_gen; then
	ok load-only-last-generation
else
	fail load-only-last-generation "$(ps -o pid,user,args --ppid "$LM")"
fi
check load-one-launcher test "$(kids "$LM" launcher | grep -c .)" -eq 1
mtasim_run load-after -s "unix:$TMP/md-load.sock" -o "$TMP/load-after.eml"
rc_is load-after 0
check load-after-header grep -q '^X-Load: yes' "$TMP/load-after.eml"

echo "# $(( ($(now_ms) - START) / 1000 )) s"
finish
