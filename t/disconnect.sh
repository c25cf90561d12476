#!/bin/sh
# disconnect.sh -- the disconnect check against a real Postfix: an SMTP
# client that gives up while a child milter is slow at end of message.
#
# One private Postfix (t/lib/postfix.sh), max_use = 1 so that each
# smtpd exits after its one session, with one smtpd listener per case,
# each pointed at that case's milterd (so no reload between cases).
# The client (a python script, $TMP/client.py) sends one message and
# either waits for the reply to the final dot or closes its socket N
# seconds after the dot without reading anything.  The smtpd that
# serves it is found by the client's port (ss -p) among the children of
# the instance's master.
#
#   1. cut:     child sleeps 60 s at eom, default check settings; the
#               client closes 2 s after the dot: milterd logs "gone"
#               within about disconnect_check_interval, answers
#               tempfail, aborts the child; the smtpd exits; counted
#               in "disconnects"; nothing delivered.
#   2. waiting: child sleeps 5 s, the client waits: nothing cut, the
#               message is delivered, nothing counted.
#   3. off:     disconnect_check = false, as 1: the session still waits
#               for the child 5 s and more after the close, longer than
#               case 1 takes to cut it, and the smtpd is still there (it
#               is the check that releases it).  Proven by events, not
#               by a sleep: milterd sends a progress packet every second
#               of the wait (progress_interval = 1), which this case's
#               own verbose cleanup service logs as it reads it.
#   4. xclient: the client says XCLIENT ADDR=192.0.2.9 PORT=4242 (no
#               such TCP connection), child sleeps 6 s, the client closes
#               2 s after the dot: "not checked again", counted in
#               "unverifiable", not cut: the smtpd waits for the child.
#   5. reset:   as 1, but the client resets the connection 1 s after the
#               dot, before the first check of the wait: the connection
#               was seen at connect, so its absence is a client gone.
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
on_exit pf_stop

now_ms() {
	date +%s%3N
}

# port_of CASE: the smtpd port of CASE's listener.
port_of() {
	eval "echo \"\$PORT_$1\""
}

# --- Postfix: one smtpd listener per case ---------------------------------
CASES="cut waiting off xclient reset"
pf_init "$TMP/pf" || bail postfix-init "pf_init failed"
# shellcheck disable=SC2046
set -- $(pf_free_port 5)
for _c in $CASES; do
	eval "PORT_$_c=$1"
	# The cleanup server runs the end-of-message milter exchange; the off
	# case has its own, verbose (-v), so that each reply it reads from
	# milterd is logged ("reply: SMFIR_PROGRESS data 0 bytes").
	_o=
	[ "$_c" = off ] && _o=" -o cleanup_service_name=cleanup-off"
	echo "127.0.0.1:$1 inet n - n - - smtpd -o smtpd_milters=unix:$TMP/md-$_c.sock$_o" \
	    >>"$PF_ETC/master.cf"
	shift
done
echo "cleanup-off unix n - n - 0 cleanup -v" >>"$PF_ETC/master.cf"
# max_use = 1: an smtpd exits after its one session.
pf_conf "max_use = 1" "milter_connect_timeout = 10s" \
    "milter_content_timeout = 120s" || bail postfix-conf "pf_conf failed"
_pf_cool "$PF_ETC/master.cf"
pf_start || bail postfix-start "pf_start failed"
for _c in $CASES; do
	wait_for 10 _pf_listening "$(port_of "$_c")" ||
	    bail postfix-start "port $(port_of "$_c")"
done
PF_MASTER=$(_pf_master_pid)

# --- The client -----------------------------------------------------------
# client.py PORT CLOSE_AFTER [XCLIENT-ARGS]: one message; CLOSE_AFTER < 0:
# wait for the reply to the dot (and QUIT); else close the socket that
# many seconds after the dot, reading nothing (with a reset instead of
# a FIN when CLOSE_AFTER ends in "r").  Prints "port N" (its own
# port) once connected, "dot MS" and "closed MS" (epoch milliseconds),
# and the server's replies ("<- ...").
cat >"$TMP/client.py" <<'EOF'
import socket, sys, time
import struct
port, close_after = int(sys.argv[1]), float(sys.argv[2].rstrip("r"))
reset = sys.argv[2].endswith("r")
xclient = sys.argv[3] if len(sys.argv) > 3 else ""
def ms():
    return int(time.time() * 1000)
def out(line):
    print(line, flush=True)
s = socket.create_connection(("127.0.0.1", port), timeout=60)
out("port %d" % s.getsockname()[1])
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        if not line:
            out("<- EOF")
            sys.exit(1)
        out("<- " + line.decode("utf-8", "replace").rstrip())
        if line[3:4] != b"-":
            return int(line[:3])
def cmd(c, want):
    s.sendall(c.encode() + b"\r\n")
    code = reply()
    if code != want:
        out("unexpected reply to %s" % c)
        sys.exit(1)
reply()
cmd("EHLO client.example", 250)
if xclient:
    cmd("XCLIENT " + xclient, 220)
    cmd("EHLO client.example", 250)
cmd("MAIL FROM:<alice@example.com>", 250)
cmd("RCPT TO:<bob@example.org>", 250)
cmd("DATA", 354)
s.sendall(b"From: alice@example.com\r\nTo: bob@example.org\r\n"
    b"Subject: disconnect test\r\n\r\nHello.\r\n.\r\n")
out("dot %d" % ms())
if close_after >= 0:
    time.sleep(close_after)
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
            struct.pack("ii", 1, 0))
    f.close()
    s.close()
    out("closed %d" % ms())
    sys.exit(0)
code = reply()
cmd("QUIT", 221)
sys.exit(0 if code == 250 else 1)
EOF

# client NAME CLOSE_AFTER [XCLIENT-ARGS]: client.py against case NAME's
# listener, in the background, output in $TMP/NAME.client; waits until
# it has sent the dot, then sets CPID (the client), SMTPD (the smtpd
# serving it, a child of the Postfix master) and DOT (epoch ms).
client() {
	_p=$(port_of "$1")
	"$PF_PYTHON" "$TMP/client.py" "$_p" "$2" ${3:+"$3"} \
	    >"$TMP/$1.client" 2>&1 &
	CPID=$!
	on_exit "kill $CPID 2>/dev/null"
	SMTPD=
	DOT=
	if ! wait_for 20 grep -q '^dot ' "$TMP/$1.client"; then
		fail "$1-client" "the client did not send its message"
		sed 's/^/    | /' "$TMP/$1.client"
		return 1
	fi
	DOT=$(sed -n 's/^dot //p' "$TMP/$1.client")
	_cport=$(sed -n 's/^port //p' "$TMP/$1.client")
	# The process with the server end of the client's connection.
	SMTPD=$(ss -Htnp state established "( sport = :$_p and dport = :$_cport )" |
	    sed -n 's/.*"smtpd",pid=\([0-9]*\),.*/\1/p' | head -n 1)
	if [ -n "$SMTPD" ] &&
	    [ "$(ps -o ppid= -p "$SMTPD" | tr -d ' ')" = "$PF_MASTER" ]; then
		ok "$1-smtpd-found"
	else
		fail "$1-smtpd-found" "no smtpd child of $PF_MASTER for" \
		    "client port $_cport (got '$SMTPD')"
		SMTPD=
		return 1
	fi
}

# closed_at NAME: the epoch ms at which case NAME's client closed.
closed_at() {
	wait_for 10 grep -q '^closed ' "$TMP/$1.client"
	sed -n 's/^closed //p' "$TMP/$1.client"
}

# stat NAME KEY: a counter from case NAME's milterd (milterctl stats -j).
stat() {
	"$BUILD/milterctl" -s "$TMP/md-$1.ctl" -j stats 2>>"$TMP/milterctl.err" |
	    "$PF_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' \
	    "$2" 2>>"$TMP/milterctl.err"
}

# stat_is NAME KEY WANT
stat_is() {
	_v=$(stat "$1" "$2")
	if [ "$_v" = "$3" ]; then
		ok "$1-stats-$2"
	else
		fail "$1-stats-$2" "$2 is '$_v', not $3"
	fi
}

sink_count() {
	pf_sink_files | wc -l
}

# case_milterd NAME CHILD-ARGS [CONFIG-LINES]: tmilter "NAME-kid" with
# CHILD-ARGS (one string, split), then milterd md-NAME with it as its
# one child.
case_milterd() {
	_cm=$1
	_cmargs=$2
	shift 2
	# shellcheck disable=SC2086
	tmilter "$_cm-kid" $_cmargs
	KID_PID=$BG_PID
	milterd_start "$_cm" 'socket_mode = "0666"' "$@" "$(child "$_cm-kid")"
	MD_PID=$BG_PID
	MDLOG=$TMP/md-$_cm.err
}

# md_stop: milterd with SIGTERM (a clean exit, so that LeakSanitizer
# reports into its .err).
md_stop() {
	kill "$MD_PID" 2>/dev/null
	_pf_poll 20 _pf_dead "$MD_PID" ||
	    fail "milterd-stop" "milterd $MD_PID does not exit on SIGTERM"
}

T0=$(now_ms)
GONE_RE='session [0-9.]+: client [^ ]+ gone \((CLOSE_WAIT|not found)\) after [0-9.]+s waiting for the children at eom: answering tempfail, children aborted'

# --- 1. The client gives up while the child sleeps -----------------------
case_milterd cut "-S eom:60000"
sink0=$(sink_count)
client cut 2
CLOSED=$(closed_at cut)
# Poll for the "gone" line (up to 6 s after the close), noting when.
_end=$((CLOSED + 6000))
SEEN=
while [ "$(now_ms)" -le "$_end" ]; do
	if grep -Eq -- "$GONE_RE" "$MDLOG"; then
		SEEN=$(now_ms)
		break
	fi
	sleep 0.05
done
if [ -n "$SEEN" ]; then
	DELAY=$((SEEN - CLOSED))
	echo "# cut: gone line $DELAY ms after the client closed"
	ok cut-gone-line
	if [ "$DELAY" -le 5000 ]; then
		ok cut-gone-in-time
	else
		fail cut-gone-in-time "$DELAY ms after the close (over 5 s)"
	fi
else
	fail cut-gone-line "no 'gone' line 6 s after the client closed"
	sed 's/^/    | /' "$MDLOG" | tail -n 20
fi
grep -E -o -- 'after [0-9.]+s waiting' "$MDLOG" | sed 's/^/# cut: milterd: /'
if [ -n "$SMTPD" ] && _pf_poll 3 _pf_dead "$SMTPD"; then
	echo "# cut: smtpd $SMTPD gone $(($(now_ms) - CLOSED)) ms after the client closed"
	ok cut-smtpd-exited
else
	fail cut-smtpd-exited "smtpd '$SMTPD' still runs"
fi
wait_for 5 grep -q 'session=.* child\.cut-kid=' "$MDLOG"
grep_ok cut-session-line 'session=.* child\.cut-kid=aborted:[0-9.]+ verdict=tempfail@eom' "$MDLOG"
# Its seconds are the time it was waited for (about 2-3 s at eom), as
# milterd(8) says: "the seconds spent waiting for its replies".
_secs=$(sed -n 's/.* child\.cut-kid=aborted:\([0-9]*\)\..*/\1/p' "$MDLOG")
check cut-aborted-seconds test "${_secs:-0}" -ge 2
stat_is cut disconnects 1
stat_is cut unverifiable 0
grep_ok cut-postfix-tempfail 'milter-reject: END-OF-MESSAGE .*4\.7\.1' \
    "$PF_DIR/maillog"
# Rejected by cleanup: never queued (qmgr would log its sender), nothing
# in the sink.
no_grep cut-not-queued '/qmgr\[[0-9]+\]: [0-9A-F]+: from=' "$PF_DIR/maillog"
check cut-nothing-delivered test "$(sink_count)" -eq "$sink0"
md_stop

# --- 2. The client waits: nothing is cut ----------------------------------
case_milterd waiting "-S eom:5000"
sink0=$(sink_count)
client waiting -1
wait "$CPID"
RC=$?
check waiting-client-ok test "$RC" -eq 0
grep_ok waiting-queued '^<- 250 .*queued as' "$TMP/waiting.client"
check waiting-delivered pf_wait_sink $((sink0 + 1)) 10
no_grep waiting-no-gone-line ' gone \(' "$MDLOG"
wait_for 5 grep -q 'session=.* child\.waiting-kid=' "$MDLOG"
grep_ok waiting-session-line 'session=.* child\.waiting-kid=accept:[0-9.]+ verdict=accept@eom' "$MDLOG"
stat_is waiting disconnects 0
# The connection was found (else it would count as unverifiable).
stat_is waiting unverifiable 0
md_stop

# --- 3. Without the check the smtpd stays ---------------------------------
# progresses: the progress packets from milterd that the off case's
# cleanup has read so far.
progresses() {
	grep -c 'cleanup.*: reply: SMFIR_PROGRESS data 0 bytes' \
	    "$PF_DIR/maillog"
}

# progresses_ge N
progresses_ge() {
	[ "$(progresses)" -ge "$1" ]
}

case_milterd off "-S eom:60000" "disconnect_check = false" \
    "progress_interval = 1"
client off 2
CLOSED=$(closed_at off)
# Case 1 cuts within 5 s of the close; this session must still wait
# after that.  Seven progress packets more than now, sent one a second:
# allowing for one sent before the close but logged after the count,
# six were sent after the close, the last of them 5 s or more after it.
_p0=$(progresses)
if wait_for 20 progresses_ge $((_p0 + 7)); then
	echo "# off: $(($(progresses) - _p0)) progress packets in" \
	    "$(($(now_ms) - CLOSED)) ms after the close"
	ok off-still-waiting-after-close
else
	_n=$(($(progresses) - _p0))
	fail off-still-waiting-after-close \
	    "$_n progress packets in 20 s after the close (want 7)"
fi
if [ -n "$SMTPD" ] && _pf_alive "$SMTPD"; then
	ok off-smtpd-still-there
else
	fail off-smtpd-still-there "smtpd '$SMTPD' has gone without the check"
fi
no_grep off-no-gone-line ' gone \(' "$MDLOG"
stat_is off disconnects 0
# End it: the child's failure answers the MTA (its fallback).
kill -9 "$KID_PID"
if [ -n "$SMTPD" ] && _pf_poll 10 _pf_dead "$SMTPD"; then
	ok off-smtpd-exits-after-child
else
	fail off-smtpd-exits-after-child "smtpd '$SMTPD' still runs"
fi
md_stop

# --- 4. XCLIENT: not the TCP peer, not checked ----------------------------
case_milterd xclient "-S eom:6000"
sink0=$(sink_count)
client xclient 2 "ADDR=192.0.2.9 PORT=4242"
CLOSED=$(closed_at xclient)
grep_ok xclient-accepted '^<- 220 ' "$TMP/xclient.client"
# The first look finds nothing (XCLIENT: not the TCP peer).
wait_for 5 grep -q 'no such connection' "$MDLOG"
grep_ok xclient-unverifiable-line \
    'session [0-9.]+: client [^ ]*\[192\.0\.2\.9\]: no such connection to the MTA; not checked again' \
    "$MDLOG"
# The smtpd still waits for the child (it sleeps 6 s from the dot).
_t=$(($(now_ms) - DOT))
if [ -n "$SMTPD" ] && [ "$_t" -lt 5500 ] && _pf_alive "$SMTPD"; then
	ok xclient-smtpd-waits
else
	fail xclient-smtpd-waits "smtpd '$SMTPD' gone, or too late to tell ($_t ms after the dot)"
fi
# Then the child answers and the smtpd ends (the message is taken).
if [ -n "$SMTPD" ] && _pf_poll 10 _pf_dead "$SMTPD"; then
	_t=$(($(now_ms) - DOT))
	echo "# xclient: smtpd gone $_t ms after the dot"
	check xclient-smtpd-waited-for-child test "$_t" -ge 5800
else
	fail xclient-smtpd-exits "smtpd '$SMTPD' still runs"
fi
wait_for 5 grep -q 'session=.*192\.0\.2\.9.* child\.xclient-kid=' "$MDLOG"
grep_ok xclient-session-line \
    'session=.*192\.0\.2\.9.* child\.xclient-kid=accept:[0-9.]+ verdict=accept@eom' "$MDLOG"
no_grep xclient-no-gone-line ' gone \(' "$MDLOG"
check xclient-delivered pf_wait_sink $((sink0 + 1)) 10
stat_is xclient unverifiable 1
stat_is xclient disconnects 0
md_stop

# --- 5. A reset before the wait is checked: still a client gone ----------
case_milterd reset "-S eom:60000"
client reset 1r
CLOSED=$(closed_at reset)
if wait_for 6 grep -Eq -- "$GONE_RE" "$MDLOG"; then
	ok reset-gone-line
else
	fail reset-gone-line "no 'gone' line 6 s after the reset"
fi
grep_ok reset-not-found 'gone \(not found\)' "$MDLOG"
if [ -n "$SMTPD" ] && _pf_poll 3 _pf_dead "$SMTPD"; then
	ok reset-smtpd-exited
else
	fail reset-smtpd-exited "smtpd '$SMTPD' still runs"
fi
stat_is reset disconnects 1
stat_is reset unverifiable 0
md_stop

echo "# $(($(now_ms) - T0)) ms"
finish
