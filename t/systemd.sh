#!/bin/sh
# systemd.sh: milterd under systemd (issue 22), with no running systemd.
#
# Notify: milterd with NOTIFY_SOCKET set to a datagram socket of the
# test's own (a small python listener writing each message to a file)
# says READY=1 once its workers serve, RELOADING=1 then READY=1 around
# a reload (a good one and a refused one), STOPPING=1 at SIGTERM.
#
# Socket activation: systemd-socket-activate passes a unix and a TCP
# socket (LISTEN_FDS); milterd serves both (the unix one named by
# another path to it), opens a third listen entry
# itself, refuses a reload that drops a passed socket, and at stop
# leaves the passed unix socket in place (it is systemd's).  A passed
# socket that no listen entry names is an error at start, saying what
# to do; so is LISTEN_FDS given to a milterd built with HAVE_SYSTEMD=no.
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"

if ! "$BUILD/milterd" -F -n -f /dev/null 2>&1 | grep -q 'configuration OK'
then
	fail "milterd -F" "$("$BUILD/milterd" -F -n -f /dev/null 2>&1)"
fi
if ! ldd "$BUILD/milterd" | grep -q libsystemd; then
	bail built-with-libsystemd "$BUILD/milterd does not link libsystemd"
fi
ok built-with-libsystemd

tmilter hdr -h 'X-Systemd: yes'

# notify_listen: messages to $TMP/notify, one per paragraph in
# $TMP/notify.log (each message's lines, then an empty line).
/usr/bin/python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode() + "\n\n")
        f.flush()
' "$TMP/notify" "$TMP/notify.log" >"$TMP/notify.err" 2>&1 &
NPID=$!
on_exit "kill $NPID 2>/dev/null"
wait_for 10 test -S "$TMP/notify" || bail notify-listener "did not start"
: >>"$TMP/notify.log"

# count WORD: how many messages in the log hold the line WORD.
count() {
	grep -c "^$1\$" "$TMP/notify.log"
}
# has_count WORD N: true once there are N.
has_count() {
	[ "$(count "$1")" -ge "$2" ]
}

NOTIFY_SOCKET=$TMP/notify
export NOTIFY_SOCKET
milterd_bg nt 'workers = 2' "$(child hdr)"
unset NOTIFY_SOCKET
NT=$BG_PID
if wait_for 10 has_count READY=1 1; then ok notify-ready; else
	fail notify-ready "no READY=1"; cat "$TMP/md-nt.err"; fi
# READY=1 comes once both workers said they serve: the master logged
# its start before it.
grep_ok notify-ready-after-start 'master: started: 2 workers' "$TMP/md-nt.err"
grep_ok notify-ready-status '^STATUS=generation 0, 2 workers, 1 milters$' \
    "$TMP/notify.log"
mtasim_run nt-served -s "unix:$TMP/md-nt.sock" -r ok@example.com
rc_is nt-served 0
grep_ok nt-served-filtered 'X-Systemd' "$TMP/nt-served.out"

kill -HUP "$NT"
if wait_for 10 has_count READY=1 2; then ok notify-reloaded; else
	fail notify-reloaded "no second READY=1"; fi
check notify-reloading-once test "$(count RELOADING=1)" -eq 1
grep_ok notify-reloading-monotonic '^MONOTONIC_USEC=[0-9]+$' \
    "$TMP/notify.log"
grep_ok notify-reload-status '^STATUS=reloaded: generation 1, 2 workers' \
    "$TMP/notify.log"
# The order: READY, RELOADING, READY.
check notify-order sh -c "grep -E '^(READY|RELOADING|STOPPING)=1\$' \
    '$TMP/notify.log' | tr '\n' ' ' | grep -qx 'READY=1 RELOADING=1 READY=1 '"

# A reload refused (errors in the file) ends READY=1 too: the old
# generation serves.
cp "$TMP/md-nt.conf" "$TMP/nt-good.conf"
echo 'workers = "many"' >>"$TMP/md-nt.conf"
kill -HUP "$NT"
if wait_for 10 has_count READY=1 3; then ok notify-refused-ready; else
	fail notify-refused-ready "no READY=1 after a refused reload"; fi
check notify-refused-reloading test "$(count RELOADING=1)" -eq 2
grep_ok notify-refused-status '^STATUS=reload failed: generation 1' \
    "$TMP/notify.log"
cp "$TMP/nt-good.conf" "$TMP/md-nt.conf"

kill -TERM "$NT"
if wait_for 10 has_count STOPPING=1 1; then ok notify-stopping; else
	fail notify-stopping "no STOPPING=1"; fi
wait_for 20 sh -c "! kill -0 $NT" || fail notify-stopped "still running"

# Socket activation.  systemd-socket-activate listens, execs milterd
# at the first connection with LISTEN_FDS=2 (fds 3 and 4, in -l order).
if ! command -v systemd-socket-activate >/dev/null 2>&1; then
	fail socket-activate "no systemd-socket-activate (apt-get install systemd)"
	finish
fi
PORT=$(pf_free_port)
SA=$TMP/sa.sock
salisten() {
	printf 'listen = { "unix:%s", "inet:%s@127.0.0.1"%s }\n' "$1" "$PORT" \
	    "$2"
}
# The unix socket named through a link to its directory, as
# /var/run/milterd is /run/milterd.
ln -s "$TMP" "$TMP/lnk"
{
	salisten "$TMP/lnk/sa.sock" ", \"unix:$TMP/own.sock\""
	echo "pidfile = \"$TMP/sa.pid\""
	echo "control = \"$TMP/sa.ctl\""
	echo "state_file = \"$TMP/sa.state\""
	echo "workers = 1"
	echo "spool_dir = \"$TMP/spool\""
	child hdr
} >"$TMP/sa.conf"
bg sa systemd-socket-activate -l "$SA" -l "127.0.0.1:$PORT" \
    "$BUILD/milterd" -d -v -f "$TMP/sa.conf"
SAPID=$BG_PID
wait_for 10 test -S "$SA" || bail sa-listens "systemd-socket-activate: no $SA"
# This first session starts milterd.
mtasim_run sa-unix -s "unix:$SA" -r ok@example.com
rc_is sa-unix 0
grep_ok sa-unix-filtered 'X-Systemd' "$TMP/sa-unix.out"
grep_ok sa-adopted 'master: 2 listening sockets from systemd' "$TMP/sa.err"
mtasim_run sa-inet -s "inet:$PORT@127.0.0.1" -r ok@example.com
rc_is sa-inet 0
grep_ok sa-inet-filtered 'X-Systemd' "$TMP/sa-inet.out"
mtasim_run sa-own -s "unix:$TMP/own.sock" -r ok@example.com
rc_is sa-own 0

# A reload whose listen no longer names the TCP socket is refused.
cp "$TMP/sa.conf" "$TMP/sa-good.conf"
sed -i "s|^listen = .*|listen = \"unix:$SA\"|" "$TMP/sa.conf"
"$BUILD/milterctl" -s "$TMP/sa.ctl" reload >"$TMP/sa-reload.out" 2>&1
grep_ok sa-reload-refused "socket inet:$PORT@127.0.0.1 from systemd is not one of the listen entries of $TMP/sa.conf: add it to listen, or remove it from milterd.socket; not reloading" \
    "$TMP/sa-reload.out"
mtasim_run sa-inet-after -s "inet:$PORT@127.0.0.1" -r ok@example.com
rc_is sa-inet-after 0

kill -TERM "$SAPID"
wait_for 20 sh -c "! kill -0 $SAPID" || fail sa-stopped "still running"
check sa-kept-systemds test -S "$SA"
check sa-removed-own sh -c "! test -e '$TMP/own.sock'"

# A passed socket no listen entry names: milterd does not start.
rm -f "$SA"
salisten "$SA" "" | sed "s|, \"inet:[^\"]*\"||" >"$TMP/mis.conf"
sed 1d "$TMP/sa.conf" | sed "s|sa\\.|mis.|" >>"$TMP/mis.conf"
bg mis systemd-socket-activate -l "$SA" -l "127.0.0.1:$PORT" \
    "$BUILD/milterd" -d -f "$TMP/mis.conf"
MISPID=$BG_PID
wait_for 10 test -S "$SA" || bail mis-listens "systemd-socket-activate: no $SA"
"$BUILD/mtasim" -s "unix:$SA" -r ok@example.com >"$TMP/mis-mta.out" 2>&1
wait_for 20 sh -c "! kill -0 $MISPID" || fail mis-exits "still running"
grep_ok mis-says-what-to-do "socket inet:$PORT@127.0.0.1 from systemd is not one of the listen entries of $TMP/mis.conf: add it to listen, or remove it from milterd.socket" \
    "$TMP/mis.err"
check mis-no-pidfile sh -c "! test -e '$TMP/mis.pid'"

# Built without libsystemd: LISTEN_FDS is refused, not ignored.
(cd "$T/.." && make -s B="$TMP/nosd" HAVE_SYSTEMD=no OPT=-O0 \
    "$TMP/nosd/milterd") >"$TMP/nosd-build.out" 2>&1
check nosd-builds test -x "$TMP/nosd/milterd"
check nosd-no-libsystemd sh -c "! ldd '$TMP/nosd/milterd' | grep -q libsystemd"
rm -f "$SA"
LISTEN_FDS=1 LISTEN_PID=1 "$TMP/nosd/milterd" -d -f "$TMP/sa-good.conf" \
    >"$TMP/nosd.out" 2>&1
RC=$?
rc_is nosd 1
grep_ok nosd-says-why 'LISTEN_FDS is set \(socket activation\), but this milterd was built without libsystemd' \
    "$TMP/nosd.out"
finish
