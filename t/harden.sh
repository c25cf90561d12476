#!/bin/sh
# Hardening against local users and hostile peers (issue 17, items 6 to
# 12): the sample configuration keeps root's files where only root
# writes, and run as root with symlinks planted in advance in a
# directory others can write it follows none of them; a unix socket
# gets its mode and group with no window (a shim swaps the path for a
# symlink right after bind); Lua conditions within their limits; a
# daemonising launch command started once, across a reload; peer text
# escaped in the log, control refusals rate-limited.
. "$(dirname "$0")/lib/test.sh"

ROOT=$(cd "$T/.." && pwd)
SAMPLE=$ROOT/etc/milterd.conf

# A directory D and each one above it: writable by nobody but root?
root_only() {
	_d=$1
	while :; do
		if [ -e "$_d" ]; then
			set -- $(stat -L -c '%u %a' "$_d")
			[ "$1" -eq 0 ] || return 1
			# Neither group nor others may write (sticky or not).
			[ $(( 0$2 & 022 )) -eq 0 ] || return 1
		fi
		[ "$_d" = / ] && return 0
		_d=$(dirname "$_d")
	done
}

# 6. The sample's root files (pid file, control socket, history).
for key in pidfile control state_file; do
	path=$(sed -n "s/^$key[[:space:]]*=[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" \
	    "$SAMPLE" | tail -n 1)
	if [ -z "$path" ]; then
		fail "sample-$key-root-only" "no $key in $SAMPLE"
	elif root_only "$(dirname "$path")"; then
		ok "sample-$key-root-only"
	else
		fail "sample-$key-root-only" "$path: a directory above it is" \
		    "writable by others"
	fi
done

# The sample run as root, its files moved to a directory others can
# write, with symlinks planted there in advance: the pid file and the
# state file's temporary name (the fixed name of old) point at files
# root must not touch.
if [ "$(id -u)" -eq 0 ]; then
	PUB=$TMP/pub
	mkdir -m 0777 "$PUB"
	echo precious >"$TMP/victim-pid"
	echo precious >"$TMP/victim-state"
	ln -s "$TMP/victim-pid" "$PUB/milterd.pid"
	ln -s "$TMP/victim-state" "$PUB/history.tmp"
	{
		cat "$SAMPLE"
		echo "listen = \"unix:$TMP/sample.sock\""
		echo "pidfile = \"$PUB/milterd.pid\""
		echo "control = \"$PUB/control.sock\""
		echo "state_file = \"$PUB/history\""
		echo "workers = 1"
		echo "spool_dir = \"$TMP/spool\""
	} >"$TMP/sample.conf"
	# (One that followed the link would serve: timeout ends it.)
	timeout 20 "$BUILD/milterd" -d -f "$TMP/sample.conf" \
	    >"$TMP/sample1.err" 2>&1
	check sample-pidfile-symlink-refused test $? -eq 1
	grep_ok sample-pidfile-symlink-said "pid file $PUB/milterd.pid is a symbolic link: remove it" \
	    "$TMP/sample1.err"
	check sample-pidfile-victim-intact grep -qx precious "$TMP/victim-pid"

	rm -f "$PUB/milterd.pid"
	bg sample "$BUILD/milterd" -d -f "$TMP/sample.conf"
	pid=$BG_PID
	wait_for 10 test -s "$PUB/milterd.pid" ||
	    bail sample-started "$(cat "$TMP/sample.err")"
	ok sample-started
	kill -TERM "$pid"
	wait_for 10 test -s "$PUB/history"
	wait "$pid" 2>/dev/null
	check sample-state-victim-intact grep -qx precious "$TMP/victim-state"
	check sample-state-written grep -q '^milterd-history 1$' "$PUB/history"
	check sample-state-plain-file test -f "$PUB/history" -a ! -L "$PUB/history"
	check sample-state-no-leftover test "$(ls "$PUB" | grep -c '^history\.')" -eq 1
	check sample-pidfile-removed test ! -e "$PUB/milterd.pid"
else
	echo "# not root: the sample run with planted symlinks is skipped"
fi

# 7. The unix socket's mode and group, with no window: bindswap.so
# replaces the listening path by a symlink to a victim right after
# bind, as a user who can write the directory could.
if cc -shared -fPIC -o "$TMP/bindswap.so" "$T/tools/bindswap.c" -ldl \
    2>"$TMP/cc.err"; then
	PUB2=$TMP/pub2
	mkdir -m 0777 "$PUB2"
	echo precious >"$TMP/victim-sock"
	chmod 0600 "$TMP/victim-sock"
	BINDSWAP_PATH=$PUB2/md.sock BINDSWAP_VICTIM=$TMP/victim-sock \
	LD_PRELOAD=$TMP/bindswap.so \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    milterd_start swap "listen = \"unix:$PUB2/md.sock\"" \
	    'socket_mode = "0666"' 'socket_group = "nogroup"'
	check socket-victim-mode-intact test "$(stat -c %a "$TMP/victim-sock")" = 600
	check socket-victim-group-intact test "$(stat -c %G "$TMP/victim-sock")" = root
	check socket-is-socket test -S "$PUB2/md.sock" -a ! -L "$PUB2/md.sock"
	check socket-final-mode test "$(stat -c %a "$PUB2/md.sock")" = 666
	check socket-final-group test "$(stat -c %G "$PUB2/md.sock")" = nogroup
	check socket-no-private-dir-left test -z "$(ls -A "$PUB2" | grep -v '^md.sock$')"
	mtasim_run swap-mta -s "unix:$PUB2/md.sock" -r bob@example.org
	rc_is swap-mta 0
else
	fail bindswap-built "$(cat "$TMP/cc.err")"
fi

# 8. Lua scripts within their limits.  Each escape of old: the debug
# library (debug.sethook takes the time limit's hook away), a pcall
# inside a C function that calls back into Lua (a table.sort
# comparator: the hook cannot yield there), a __gc finalizer (run with
# hooks off), data kept in globals (the memory limit was per call).
# Each time the limit holds and condition_error (skip) applies: the
# child is not asked.  A script that fails to load is logged once.
cat >"$TMP/sethook.lua" <<'EOS'
function mail(s)
	debug.sethook()
	while true do end
end
EOS
cat >"$TMP/sort.lua" <<'EOS'
function mail(s)
	table.sort({ 3, 1, 2, 5, 4 }, function(a, b)
		while true do
			pcall(function() while true do end end)
		end
	end)
	return true
end
EOS
cat >"$TMP/gc.lua" <<'EOS'
function mail(s)
	setmetatable({}, { __gc = function() while true do end end })
	collectgarbage()
	return true
end
EOS
# About 1 MB more kept at each call; 2 MB allowed per call.
cat >"$TMP/mem.lua" <<'EOS'
keep = {}
function mail(s)
	for i = 1, 1000 do
		keep[#keep + 1] = string.rep("x", 1000) .. i
	end
	return true
end
EOS
cat >"$TMP/noload.lua" <<'EOS'
local db = require("no_such_module_for_milterd")
function mail(s) return true end
EOS
for n in sh so gc me nl; do
	tmilter "$n"
done
# The state's cap is the sum of the conditions' memory_limit: small
# but for mem.  One lookup thread: the cap is per thread's state.
lua_cond() {
	printf 'condition "%s" { type = "lua" script = "%s/%s.lua" %s }\n' \
	    "$1" "$TMP" "$1" "${2:-memory_limit = 100000}"
}
milterd_start lua 'lua_threads = 1' \
    "$(lua_cond sethook)" "$(lua_cond sort)" "$(lua_cond gc)" \
    "$(lua_cond mem 'memory_limit = 2000000')" "$(lua_cond noload)" \
    "$(child sh 'conditions = { "sethook" } condition_error = "skip"')" \
    "$(child so 'conditions = { "sort" } condition_error = "skip"')" \
    "$(child gc 'conditions = { "gc" } condition_error = "skip"')" \
    "$(child me 'conditions = { "mem" } condition_error = "skip"')" \
    "$(child nl 'conditions = { "noload" } condition_error = "skip"')"
printf 'Subject: hi\n\nbody\n' >"$TMP/msg.eml"
# (An escaped script would hold the worker for ever: timeout ends it.)
i=0
while [ $i -lt 4 ]; do
	i=$((i + 1))
	RC=0
	timeout 30 "$BUILD/mtasim" -s "unix:$TMP/md-lua.sock" -t 20 \
	    -r bob@example.org "$TMP/msg.eml" >"$TMP/lua-$i.out" 2>&1 || RC=$?
	check "lua-session-$i-done" test "$RC" -eq 0
done
mails() {
	grep -c '^mail' "$TMP/$1.log" 2>/dev/null || :
}
grep_ok lua-no-debug 'condition "sethook": .*global .debug.' "$TMP/md-lua.err"
check lua-sethook-skipped test "$(mails sh)" -eq 0
grep_ok lua-sort-time-limit 'condition "sort": time limit of 100 ms exceeded' "$TMP/md-lua.err"
check lua-sort-skipped test "$(mails so)" -eq 0
grep_ok lua-gc-refused 'condition "gc": .*__gc is not allowed' "$TMP/md-lua.err"
check lua-gc-skipped test "$(mails gc)" -eq 0
grep_ok lua-memory-total 'condition "mem": memory limit exceeded' "$TMP/md-lua.err"
check lua-memory-skipped test "$(mails me)" -lt 4
check lua-noload-logged-once test "$(grep -c 'condition "noload"' "$TMP/md-lua.err")" -eq 1
check lua-noload-skipped test "$(mails nl)" -eq 0

# 9. The launcher: a command that forks into the background (here
# /bin/true: exits 0, never listens) is started once, not at every
# request; a reload keeps that (the launcher is not restarted, it
# reads the configuration again).  t/unit/test_launcher.c sends the
# stream of requests a compromised worker could.
milterd_start dmn 'launch_wait = 2' \
    "milter \"dmn\" { socket = \"unix:$TMP/dmn.sock\" command = \"/bin/true\" user = \"nobody\" fallback = \"tempfail\" connect_timeout = 1 }"
mtasim_run dmn-1 -s "unix:$TMP/md-dmn.sock" -t 20 -r bob@example.org
wait_for 10 grep -q 'milter dmn: pid [0-9]* exited 0' "$TMP/md-dmn.err"
grep_ok dmn-started-once 'launcher: milter dmn: started "/bin/true"' "$TMP/md-dmn.err"
LPID1=$("$BUILD/milterctl" -s "$TMP/md-dmn.ctl" -j status |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["launcher"]["pid"])')
kill -HUP "$(cat "$TMP/md-dmn.pid")"
wait_for 20 grep -q 'reloaded: generation' "$TMP/md-dmn.err"
mtasim_run dmn-2 -s "unix:$TMP/md-dmn.sock" -t 20 -r bob@example.org
wait_for 10 grep -q 'milter dmn: launcher: started less than' "$TMP/md-dmn.err"
grep_ok dmn-later-after-reload 'milter dmn: launcher: started less than 10 seconds ago' \
    "$TMP/md-dmn.err"
check dmn-not-started-again test "$(grep -c 'launcher: milter dmn: started' "$TMP/md-dmn.err")" -eq 1
LPID2=$("$BUILD/milterctl" -s "$TMP/md-dmn.ctl" -j status |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["launcher"]["pid"])')
check dmn-launcher-kept test "$LPID1" = "$LPID2"

# 12. Logs.  Peer text escaped: the MTA's connect host with a newline
# and a terminal escape forges no line and reaches the log as \xHH.
# Refusals on the control socket are rate-limited: 200 malformed
# requests give at most 10 lines a minute (and a count of the rest).
milterd_start logs
"$BUILD/mtasim" -s "unix:$TMP/md-logs.sock" -t 20 -r bob@example.org \
    -N "$(printf 'evil.example\nmaster: forged line\033[2J')" \
    >"$TMP/logs-mta.out" 2>&1
wait_for 10 grep -q 'session=' "$TMP/md-logs.err"
no_grep log-no-forged-line '^master: forged line' "$TMP/md-logs.err"
grep_ok log-host-escaped 'evil\.example\\x0amaster: forged line\\x1b\[2J' "$TMP/md-logs.err"
check log-no-raw-escape test "$(tr -cd '\033' <"$TMP/md-logs.err" | wc -c)" -eq 0
/usr/bin/python3 - "$TMP/md-logs.ctl" <<'EOP'
import socket, struct, sys
for i in range(200):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(struct.pack(">I", 4) + b"zzzz")
    s.recv(100)
    s.close()
EOP
"$BUILD/milterctl" -s "$TMP/md-logs.ctl" status >/dev/null 2>&1
check log-refusals-limited test "$(grep -c 'control: malformed request' "$TMP/md-logs.err")" -le 10
check log-refusals-some test "$(grep -c 'control: malformed request' "$TMP/md-logs.err")" -ge 1

finish
