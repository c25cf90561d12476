#!/bin/sh
# Bounds on what a peer can make a worker hold (issue 17): an MTA that
# writes ahead while a child is silent, a million headers, a child
# replacing the body with 50 MB, too many recipients, a small
# descriptor limit with idle connections, an MTA that goes quiet.
# Memory is measured from /proc for the worker of the optimised build
# that `make' builds (as t/leaks.sh: ASan's bookkeeping grows);
# LEAK_BUILD names another.  The bounds asserted are README's
# "Limits and failure behaviour".
. "$(dirname "$0")/lib/test.sh"

REL=${LEAK_BUILD:-$T/../build}
if [ ! -x "$REL/milterd" ]; then
	fail release-milterd "no $REL/milterd: run make first"
	finish
fi
ASAN=$BUILD

# rel NAME ARGS...: a helper of test.sh (milterd_start, mtasim_run)
# with the optimised build.
rel() {
	BUILD=$REL
	"$@"
	BUILD=$ASAN
}

# --- 1. The MTA writes ahead while the child does not negotiate.
badmilter silent silent optneg
rel milterd_start flood "$(child silent 'connect_timeout = 60')"
wait_for 10 has_worker flood
W=$(worker_pid flood)
check flood-worker test -n "$W"
R0=$(rss "$W")
set -- $(python3 "$T/tools/mtaflood.py" flood "$TMP/md-flood.sock" 256 "$W")
echo "# flood: $2 bytes taken while the child was silent, worker RSS $R0 -> $4 KiB"
# The sockets' buffers and one packet: far below the 256 MiB offered.
check flood-stopped test "${2:-999999999}" -lt $((32 * 1024 * 1024))
check flood-rss test "${4:-999999}" -le $((R0 + 8192))

# --- 3. A million headers: tempfail past max_headers, nothing kept.
python3 -c 'import sys
w = sys.stdout.write
w("From: <a@example.com>\n")
for i in range(1000000):
    w("X: y\n")
w("\nbody\n")' >"$TMP/headers.eml"
tmilter plain
rel milterd_start headers "$(child plain)"
wait_for 10 has_worker headers
W=$(worker_pid headers)
R0=$(rss "$W")
rel mtasim_run headers -t 60 -s "unix:$TMP/md-headers.sock" -r x@example.com \
    "$TMP/headers.eml"
rc_is headers 2
R1=$(rss "$W" VmHWM)
echo "# a million headers: worker RSS $R0 KiB, peak $R1 KiB"
check headers-rss test "${R1:-999999}" -le $((R0 + 4096))
grep_ok headers-logged 'more than 10000 headers in a message \(max_headers\): tempfail' \
    "$TMP/md-headers.err"
n=$(grep -c 'max_headers' "$TMP/md-headers.err")
check headers-logged-once test "$n" -eq 1
# The child never saw the message.
no_grep headers-not-replayed '^eom' "$TMP/plain.log"

# max_header_bytes, and the next message of the session is whole again.
printf 'From: <a@example.com>\nSubject: %0300d\nX-Two: %0300d\n\nbody\n' 0 0 \
    >"$TMP/long.eml"
milterd_start hbytes "$(child plain)" "max_header_bytes = 400"
mtasim_run hbytes -s "unix:$TMP/md-hbytes.sock" -M 2 -r x@example.com \
    "$TMP/long.eml"
rc_is hbytes 2
grep_ok hbytes-logged 'more than 400 header bytes in a message \(max_header_bytes\)' \
    "$TMP/md-hbytes.err"
grep_ok hbytes-verdict 'verdict=tempfail@' "$TMP/md-hbytes.err"

# max_recipients: the third recipient is refused alone.
milterd_start rcpts "$(child plain)" "max_recipients = 2"
mtasim_run rcpts -s "unix:$TMP/md-rcpts.sock" -r a@example.com \
    -r b@example.com -r c@example.com "$TMP/long.eml"
rc_is rcpts 0
grep_ok rcpts-refused '^rcpt <c@example.com>: .*452 4\.5\.3' "$TMP/rcpts.out"
grep_ok rcpts-logged 'more than 2 recipients in a message \(max_recipients\)' \
    "$TMP/md-rcpts.err"
no_grep rcpts-child-unaware 'rcpt <c@example.com>' "$TMP/plain.log"

# --- 3. A child replaces the body with 50 MB: spooled, RSS flat.
python3 -c 'import sys
line = "x" * 76 + "\n"
sys.stdout.write(line * (50 * 1024 * 1024 // len(line)))' >"$TMP/big.body"
tmilter big -b "$TMP/big.body"
rel milterd_start big "$(child big)"
wait_for 10 has_worker big
W=$(worker_pid big)
R0=$(rss "$W")
rel mtasim_run big -t 120 -s "unix:$TMP/md-big.sock" -r x@example.com \
    -o "$TMP/big.eml" "$TMP/long.eml"
rc_is big 0
R1=$(rss "$W" VmHWM)
echo "# 50 MB replaced body: worker RSS $R0 KiB, peak $R1 KiB"
check big-body-out test "$(wc -c <"$TMP/big.eml")" -gt $((50 * 1024 * 1024))
check big-rss test "${R1:-999999}" -le $((R0 + 8192))

# --- 2. Out of descriptors: accept pauses (said once, no spin), and a
# session whose child cannot be reached for want of a descriptor is
# tempfailed and counted, never given the child's accept fallback.
MILTERD_PREFIX="prlimit --nofile=40:40"
milterd_start starve "$(child plain 'fallback = "accept"')" \
    "max_sessions = 1000"
MILTERD_PREFIX=
wait_for 10 has_worker starve
W=$(worker_pid starve)
grep_ok starve-limit-logged 'descriptors: limit 40, so at most 1000 sessions per worker \(max_sessions\)' \
    "$TMP/md-starve.err"
set -- $(python3 "$T/tools/mtaflood.py" starve "$TMP/md-starve.sock" 60 \
    "$TMP/md-starve.err" "$W")
echo "# out of descriptors: connect answered '${2:-}', worker CPU ${4:-} ticks in 2 s"
check starve-tempfail test "${2:-}" = t
# Paused, not spinning: well under a tenth of the 2 s.
check starve-no-spin test "${4:-999}" -le 20
n=$(grep -c 'not accepting' "$TMP/md-starve.err")
check starve-said-once test "$n" -eq 1
grep_ok starve-logged 'child plain: connect .*Too many open files; milterd is out of a resource: tempfail' \
    "$TMP/md-starve.err"
no_grep starve-no-fallback 'fallback accept' "$TMP/md-starve.err"
n=$("$BUILD/milterctl" -s "$TMP/md-starve.ctl" -j stats |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["resource_failures"])')
check starve-counted test "$n" = 1
check starve-metric sh -c "\"$BUILD/milterctl\" -s \"$TMP/md-starve.ctl\" stats |
    grep -q 'want of a resource 1'"

# The default max_sessions keeps a worker within its descriptors: the
# connections beyond it wait in the listen queue, nothing fails.
MILTERD_PREFIX="prlimit --nofile=64:64"
milterd_start capped "$(child plain)"
MILTERD_PREFIX=
grep_ok capped-derived 'descriptors: limit 64, so at most 12 sessions per worker$' \
    "$TMP/md-capped.err"
bg idle python3 "$T/tools/mtaflood.py" idle "$TMP/md-capped.sock" 30 \
    "$TMP/capped.stop"
IDLE=$BG_PID
# open_sessions NAME N: md-NAME's worker has N sessions open.
open_sessions() {
	test "$("$BUILD/milterctl" -s "$TMP/md-$1.ctl" -j status |
	    python3 -c 'import json, sys
print(json.load(sys.stdin)["workers"][0]["open"])')" = "$2"
}
check capped-at-12 wait_for 20 open_sessions capped 12
no_grep capped-no-emfile 'Too many open files' "$TMP/md-capped.err"
touch "$TMP/capped.stop"
wait $IDLE
mtasim_run capped -s "unix:$TMP/md-capped.sock" -r x@example.com "$TMP/long.eml"
rc_is capped 0

# --- 5. mta_timeout: an MTA silent between commands is dropped.
milterd_start quiet "$(child plain)" "mta_timeout = 1"
bg quietconn python3 "$T/tools/mtaflood.py" idle "$TMP/md-quiet.sock" 1 \
    "$TMP/quiet.stop"
check quiet-dropped wait_for 20 grep -q 'no command from the MTA in 1 s (mta_timeout): closed' \
    "$TMP/md-quiet.err"
grep_ok quiet-session-line 'end="MTA timeout"' "$TMP/md-quiet.err"
touch "$TMP/quiet.stop"

# --- 4. spool_dir: by default a directory private to the workers'
# user, made by the master; a link or a shared directory in its place
# stops milterd with what to do.  (Inside a chroot, so that the test
# leaves /var/spool alone; root only.)
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$TMP/r1/var/spool" "$TMP/r2/var/spool" "$TMP/r3/var/spool/milterd"
	chmod 777 "$TMP/r3/var/spool/milterd"
	ln -s /tmp "$TMP/r2/var/spool/milterd"
	milterd_start spool1 "chroot = \"$TMP/r1\"" \
	    'spool_dir = "/var/spool/milterd"'
	check spool-made test "$(stat -c '%F %a %U' "$TMP/r1/var/spool/milterd")" = \
	    "directory 700 _milterd"
	milterd_bg spool2 "chroot = \"$TMP/r2\"" 'spool_dir = "/var/spool/milterd"'
	check spool-link-refused wait_for 10 grep -q \
	    "spool_dir $TMP/r2/var/spool/milterd: not a directory: remove it" \
	    "$TMP/md-spool2.err"
	milterd_bg spool3 "chroot = \"$TMP/r3\"" 'spool_dir = "/var/spool/milterd"'
	check spool-shared-refused wait_for 10 grep -q \
	    "spool_dir $TMP/r3/var/spool/milterd: owned by uid 0, mode 0777, not private" \
	    "$TMP/md-spool3.err"
	check spool-not-started test ! -e "$TMP/md-spool3.pid"
fi

finish
