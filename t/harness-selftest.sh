#!/bin/sh
# harness-selftest.sh -- prove the integration-test harness works:
# t/lib/postfix.sh (private Postfix + smtp-sink) and t/tools/mcapture.py
# (recording milter proxy), with OpenDKIM as the milter.
#
#   swaks -> Postfix smtpd --(unix socket)--> mcapture.py --(inet)--> opendkim
#                 |
#                 `--> smtp-sink (DIR/sink/)
#
# Sends one message From user@example.com, checks that the delivered copy
# carries a DKIM-Signature by example.com/test and that the proxy recorded
# both directions.  Ends with "N passed, N failed"; exit status 1 on any
# failure.  Needs root.  Cleans up everything it started or created.

# Functions called through _pf_poll / check look unreachable to shellcheck.
# shellcheck disable=SC2317
set -u

here=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=lib/postfix.sh
. "$here/lib/postfix.sh"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() {
	_desc=$1
	shift
	if "$@"; then ok "$_desc"; else not_ok "$_desc"; fi
}

# Everything lives in one directory.  Not under /tmp: OpenDKIM refuses a
# KeyFile if ANY directory above it is writable by others (it does not
# honour the sticky bit), so mktemp -d under /tmp plus chmod 700 is not
# enough.  /run is root-owned 0755.  The directory itself is 0755 so the
# postfix user reaches the instance; the key directory inside is 0700.
base=$(mktemp -d -p "${SELFTEST_BASE:-/run}" milterd-selftest.XXXXXX) || {
	echo "cannot create a work directory"
	echo "0 passed, 1 failed"
	exit 1
}
chmod 755 "$base"
dkim_pid=
cap_pid=

# stop_pid SIG PID: signal our child PID and reap it (SIGKILL after 5s).
stop_pid() {
	[ -n "$2" ] && kill -0 "$2" 2>/dev/null || return 0
	kill -s "$1" "$2" 2>/dev/null
	_pf_poll 5 _pf_dead "$2" || kill -s KILL "$2" 2>/dev/null
	wait "$2" 2>/dev/null
	return 0
}

cleanup() {
	pf_stop
	stop_pid TERM "$cap_pid"
	# libmilter notices SIGTERM only at its listener's next poll timeout
	# (opendkim takes ~4s to exit); it holds no state worth keeping.
	stop_pid KILL "$dkim_pid"
	cap_pid=
	dkim_pid=
	[ -n "$base" ] && rm -rf "$base"
	base=
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

# --- OpenDKIM, in the foreground, signing for example.com -------------
mkdir -m 700 "$base/dkim"
if ! opendkim-genkey -D "$base/dkim" -d example.com -s test \
    >"$base/dkim/genkey.log" 2>&1; then
	not_ok "opendkim-genkey"
	cat "$base/dkim/genkey.log"
	finish
fi
dkim_port=$(pf_free_port)
cat >"$base/dkim/opendkim.conf" <<EOF
Syslog			no
Mode			sv
Domain			example.com
Selector		test
KeyFile			$base/dkim/test.private
Socket			inet:$dkim_port@127.0.0.1
UserID			root
EOF
opendkim -f -x "$base/dkim/opendkim.conf" \
    </dev/null >"$base/dkim/opendkim.log" 2>&1 &
dkim_pid=$!
dkim_up() {
	_pf_alive "$dkim_pid" || return 3
	_pf_listening "$dkim_port"
}
if ! _pf_poll 10 dkim_up; then
	not_ok "opendkim starts"
	cat "$base/dkim/opendkim.log"
	finish
fi
ok "opendkim listens on inet:$dkim_port@127.0.0.1"

# --- mcapture.py between Postfix and OpenDKIM --------------------------
"$PF_PYTHON" "$here/tools/mcapture.py" -p "$base/mcapture.pid" \
    "unix:$base/mcapture.sock" "inet:$dkim_port@127.0.0.1" "$base/cap" \
    </dev/null >"$base/mcapture.log" 2>&1 &
cap_pid=$!
cap_up() {
	_pf_alive "$cap_pid" || return 3
	[ -f "$base/mcapture.pid" ]
}
if ! _pf_poll 10 cap_up; then
	not_ok "mcapture.py starts"
	cat "$base/mcapture.log"
	finish
fi
ok "mcapture.py listens on unix:$base/mcapture.sock"

# --- Postfix -------------------------------------------------------------
if pf_init "$base/pf" && pf_milters "unix:$base/mcapture.sock" &&
    pf_conf "milter_connect_timeout = 10s" && pf_start; then
	ok "postfix starts (smtpd port $PF_SMTP_PORT, sink port $PF_SINK_PORT)"
else
	not_ok "postfix starts"
	finish
fi

# --- one message ---------------------------------------------------------
if pf_send --from user@example.com --to rcpt@example.org \
    --header "Subject: harness selftest" --timeout 20; then
	ok "swaks: message accepted"
else
	not_ok "swaks: message accepted (swaks exit $?)"
	cat "$PF_SEND_OUT"
fi

if pf_wait_sink 1 30; then
	ok "message delivered to the sink"
else
	not_ok "message delivered to the sink"
	cat "$PF_DIR/maillog"
fi
msg=$(pf_sink_files | head -n 1)
# The header folds after "v=1; a=rsa-sha256; c=relaxed/simple;": join
# the folded lines before looking for d= and s=.
has_dkim() {
	[ -n "$msg" ] && awk '
		/^[^ \t]/ { if (h ~ /^DKIM-Signature:/) print h; h = $0; next }
		/^$/ { if (h ~ /^DKIM-Signature:/) print h; exit }
		{ h = h $0 }
	' "$msg" | grep -q 'd=example\.com; s=test;'
}
if has_dkim; then
	ok "delivered message has DKIM-Signature (d=example.com, s=test)"
else
	not_ok "delivered message has DKIM-Signature (d=example.com, s=test)"
	[ -n "$msg" ] && cat "$msg"
	cat "$base/dkim/opendkim.log"
fi
check "queue is empty" pf_wait_queue_empty 10

# --- captures ------------------------------------------------------------
check "capture $base/cap.1.cmd is non-empty" test -s "$base/cap.1.cmd"
check "capture $base/cap.1.reply is non-empty" test -s "$base/cap.1.reply"
# Both directions start with option negotiation: 4-byte length, then 'O'.
first_cmd() { dd if="$1" bs=1 skip=4 count=1 2>/dev/null; }
check "MTA's first packet is SMFIC_OPTNEG" \
    test "$(first_cmd "$base/cap.1.cmd")" = O
check "milter's first packet is SMFIC_OPTNEG" \
    test "$(first_cmd "$base/cap.1.reply")" = O

# --- cleanup leaves nothing behind -------------------------------------
pf_pids_before=$(_pf_master_pid)
sink_pid=$(cat "$PF_DIR/sink.pid" 2>/dev/null)
pf_stop
left=
for _p in $pf_pids_before $sink_pid; do
	_pf_alive "$_p" && left="$left $_p"
done
[ -n "$pf_pids_before" ] && ! _pf_group_gone "$pf_pids_before" &&
    left="$left group:$pf_pids_before"
check "pf_stop leaves no process (left:${left:- none})" test -z "$left"
kill -s TERM "$cap_pid"

_pf_poll 5 _pf_dead "$cap_pid"
wait "$cap_pid"
cap_rc=$?
check "mcapture.py exits 0 on SIGTERM (exit $cap_rc)" test "$cap_rc" = 0
check "mcapture.py removed its socket and pid file" \
    test ! -e "$base/mcapture.sock" -a ! -e "$base/mcapture.pid"
cap_pid=
cleanup
finish
