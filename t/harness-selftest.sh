#!/bin/sh
# The test harness itself: a private Postfix (t/lib/postfix.sh) whose
# milter is the capture proxy (t/tools/mcapture.py) in front of a real
# OpenDKIM.  One message must come out signed, both directions must be
# captured, and stopping must leave nothing behind.
. "$(dirname "$0")/lib/test.sh"
. "$T/lib/opendkim.sh"
. "$T/lib/postfix.sh"
on_exit pf_stop

dkim_start dkim || finish
bg mcapture python3 "$T/tools/mcapture.py" -p "$TMP/mcapture.pid" \
    "unix:$TMP/mcapture.sock" "unix:$DKIM_DIR/dkim.sock" "$TMP/cap"
cap_pid=$BG_PID
check mcapture-starts wait_for 10 test -f "$TMP/mcapture.pid"

if pf_init "$TMP/pf" && pf_milters "unix:$TMP/mcapture.sock" && pf_start; then
	ok postfix-starts
else
	fail postfix-starts
	finish
fi
check swaks-accepted pf_send --from user@example.com --to rcpt@example.org \
    --header "Subject: harness selftest" --timeout 20
check delivered pf_wait_sink 1 30
msg=$(pf_sink_files | head -n 1)
# The signature header is folded: join its lines first.
check delivered-signed sh -c "awk '/^DKIM-Signature:/ { h = 1 } h && /^[^ \\t]/ && !/^DKIM/ { exit } h { printf \"%s\", \$0 }' '$msg' | grep -q 'd=example.com; s=test;'"
check queue-empty pf_wait_queue_empty 10

check capture-cmd test -s "$TMP/cap.1.cmd"
check capture-reply test -s "$TMP/cap.1.reply"
first() { dd if="$1" bs=1 skip=4 count=1 2>/dev/null; }
check capture-cmd-starts-with-O test "$(first "$TMP/cap.1.cmd")" = O
check capture-reply-starts-with-O test "$(first "$TMP/cap.1.reply")" = O

master=$(_pf_master_pid)
pf_stop
check pf-stop-leaves-nothing _pf_group_gone "$master"
kill "$cap_pid"
wait "$cap_pid"
check mcapture-exits-0 test $? -eq 0
check mcapture-cleans-up test ! -e "$TMP/mcapture.sock" -a ! -e "$TMP/mcapture.pid"
finish
