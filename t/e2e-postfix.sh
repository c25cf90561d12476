#!/bin/sh
# e2e-postfix.sh -- milterd against Postfix's own chain of milters.
#
# For each case the same child milters, in the same order, run
#   (d) directly: Postfix's smtpd_milters lists them, and
#   (m) behind milterd: smtpd_milters is milterd's socket, milterd's
#       configuration lists them,
# and the same client session is replayed against both (t/lib/e2e.sh):
# the cases every MTA runs (t/lib/e2e-battery.sh), then Postfix's own
# (OpenDKIM signing a replaced body, XCLIENT, macros_compat).  What the
# two runs produce must be identical:
#   replies  the server's SMTP replies (swaks "<-", "<~", "<**" lines),
#   sink     the delivered messages as smtp-sink dumped them (envelope
#            included: X-Mail-Args, one X-Rcpt-Args per recipient),
#   hold     the messages left on hold (postcat of each), then deleted,
#   view     what each tmilter child logged (every callback, in order),
#   log      what Postfix logged about milters (milter-reject, -hold,
#            -discard lines) and any warning,
# after masking queue ids, dates, ports and DKIM b= and t=.  Each case
# also checks, in both modes, that the children did what they were told
# (so a case cannot pass by failing the same way twice).
#
# One private Postfix (t/lib/postfix.sh) with two smtpd listeners:
# PF_SMTP_PORT uses smtpd_milters = $e2e_direct, MD_PORT uses
# smtpd_milters = $e2e_md; a case sets both with one reload.  Each child
# is a tmilter started once per mode (cheap), so each mode's view is
# logged apart; OpenDKIM (stateless per connection) serves both.  milterd
# has body_memory_limit = 65536, so large bodies go through its spool.
#
# E2E_KEEP=DIR copies the outputs (CASE.d.* direct, CASE.m.* milterd)
# and the logs to DIR at the end.
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
# shellcheck source=lib/opendkim.sh
. "$T/lib/opendkim.sh"
# shellcheck source=lib/e2e.sh
. "$T/lib/e2e.sh"
# shellcheck source=lib/e2e-battery.sh
. "$T/lib/e2e-battery.sh"
on_exit pf_stop
E2E_OUTPUTS="replies sink hold view log"

# --- Postfix with two listeners ------------------------------------------
pf_init "$TMP/pf" || bail postfix-init "pf_init failed"
MD_PORT=$(pf_free_port)
sed -i "s|^\(127\.0\.0\.1:$PF_SMTP_PORT inet .* smtpd\)\$|\1 -o smtpd_milters=\$e2e_direct|" \
    "$PF_ETC/master.cf"
echo "127.0.0.1:$MD_PORT inet n - n - - smtpd -o smtpd_milters=\$e2e_md" \
    >>"$PF_ETC/master.cf"
postconf -c "$PF_ETC" -e "e2e_direct =" "e2e_md =" \
    "milter_connect_timeout = 10s" || bail postfix-conf "postconf failed"
_pf_cool "$PF_ETC/main.cf" "$PF_ETC/master.cf"
pf_start || bail postfix-start "pf_start failed"
wait_for 10 _pf_listening "$MD_PORT" || bail postfix-start "port $MD_PORT"
E2E_PORT_D=$PF_SMTP_PORT
E2E_PORT_M=$MD_PORT
E2E_MTA_LOG=$PF_DIR/maillog
e2e_messages

# --- Postfix's part (see t/lib/e2e.sh) ------------------------------------
# kid_dkim: the next child is OpenDKIM (t/lib/opendkim.sh), signing for
# example.com; one instance serves both modes.
kid_dkim() {
	NKIDS=$((NKIDS + 1))
	[ -S "$DKIM_DIR/e2e-dkim.sock" ] || dkim_start e2e-dkim ||
	    bail dkim-start "opendkim does not start"
	DIRECT="$DIRECT unix:$DKIM_DIR/e2e-dkim.sock"
	printf 'milter "dkim" { socket = "unix:%s/e2e-dkim.sock" %s }\n' \
	    "$DKIM_DIR" "$E2E_REUSE" >>"$TMP/$CASE.conf"
	: >"$TMP/$CASE-d$NKIDS.log"
	: >"$TMP/$CASE-m$NKIDS.log"
}

e2e_milterd() {
	milterd_start "$CASE" 'socket_mode = "0666"' \
	    'body_memory_limit = 65536' "$(cat "$TMP/$CASE.conf")"
	MD_PID=$BG_PID
}

e2e_mta_conf() {
	pf_conf "e2e_direct =$DIRECT" "e2e_md = unix:$TMP/md-$CASE.sock"
}

# The queue holds nothing but held mail.
e2e_queue_settled() {
	# (cleanup makes the queue file before smtpd says "queued")
	! find "$PF_DIR/queue/maildrop" "$PF_DIR/queue/incoming" \
	    "$PF_DIR/queue/active" "$PF_DIR/queue/deferred" -type f |
	    grep -q .
}

# Held: each one's queue file, masked; then deleted.
e2e_hold() {
	_o=$TMP/$CASE.$MODE
	find "$PF_DIR/queue/hold" -type f -exec basename {} \; >"$_o.held"
	while IFS= read -r _q; do
		echo "=== held"
		postcat -c "$PF_ETC" -q "$_q" | norm_postcat
		postsuper -c "$PF_ETC" -d "$_q" >/dev/null 2>&1
	done <"$_o.held" >"$_o.hold"
}

# What Postfix logged about milters, and any warning.
e2e_log() {
	tail -c +$((LOGOFF + 1)) "$PF_DIR/maillog" |
	    grep -E 'milter|warning|error|fatal|panic' | grep -v ' reload -- ' |
	    sed -E 's/^.* [a-z]+\/([a-z]+)\[[0-9]+\]: /\1: /
		s/^([a-z]+: )[0-9A-F]{6,}: /\1QID: /' >"$TMP/$CASE.$MODE.log"
}

# --- Masking --------------------------------------------------------------
norm_postcat() {
	sed -E "s/$DATE_RE/DATE/g
	    s/(with E?SMTPS?A? id) [0-9A-Za-z]+/\\1 QID/
	    s/^(\*\*\* [A-Z ]+ [a-z]+\/)[0-9A-Za-z]+/\\1QID/
	    s/^(message_arrival_time|create_time|message_size): .*/\\1: X/
	    s/^(named_attribute: [a-z_]*port)=.*/\\1=X/
	    s/^(named_attribute: log_ident)=.*/\\1=X/"
}

T0=$(date +%s)

# The battery's differences (t/lib/e2e-battery.sh).
e2e_rcpt_refused() {
	printf '550 5.7.1 recipient %s refused' "$1"
}
E2E_ACCEPTED='queued as'
E2E_LOG_DISCARD='milter-discard: RCPT'
E2E_NEWBODY_BYTES=49
E2E_QUARANTINE_ONWARD=
e2e_battery
# MILTERD_TEST_REUSE (t/e2e-postfix-reuse.sh): the shared battery only;
# the cases below are about OpenDKIM (never kept: it negotiates with a
# callback), XCLIENT and dead children.
[ -z "$E2E_REUSE" ] || e2e_end "$PF_DIR/maillog"

# 23. OpenDKIM as child 2 signs the body child 1 replaced.
case_begin dkim
kid -b "$TMP/newbody.txt" -h 'X-C1: one'
kid_dkim
run_to_bob
compare
expect sink '^DKIM-Signature: .* d=example\.com; s=test;.* bh=' signed
bh_d=$(sed -n 's/^DKIM-Signature: .* bh=\([^;]*\);.*/\1/p' "$TMP/dkim.d.sink")
bh_m=$(sed -n 's/^DKIM-Signature: .* bh=\([^;]*\);.*/\1/p' "$TMP/dkim.m.sink")
check dkim-bh-equal test -n "$bh_d" -a "$bh_d" = "$bh_m"
# And bh= is the hash of the body delivered (c=.../simple), so the
# signature verifies.
body_hash() {
	"$PF_PYTHON" -c '
import base64, hashlib, sys
body = open(sys.argv[1], "rb").read().split(b"\n\n", 1)[1]
lines = body.split(b"\n")
while lines and lines[-1] == b"":
    lines.pop()
canon = b"".join(l + b"\r\n" for l in lines)
print(base64.b64encode(hashlib.sha256(canon).digest()).decode())
' "$1"
}
check dkim-d-bh-of-body test "$(body_hash "$TMP/dkim.d.msg1")" = "$bh_d"
check dkim-m-bh-of-body test "$(body_hash "$TMP/dkim.m.msg1")" = "$bh_m"

# 24. XCLIENT: the children get a fresh connect with the new client.
case_begin xclient
kid -M '{client_addr}' -M '{client_name}' -h 'X-C1: one'
kid -h 'X-C2: two'
run_to_bob plain --xclient-addr 192.0.2.7 --xclient-name x.example
compare
expect view 'connect host=x\.example .*addr=192\.0\.2\.7' new-connect

# 25. macros_compat: Sendmail's {if_addr}, made from {daemon_addr}.
compat_case '^macro \{if_addr\}=127\.0\.0\.1$'

# 26. A child that is down, with default_action (Postfix) and fallback
# (milterd) quarantine: the message goes to the hold queue, and the
# content chain ends there (child 2's edit is not made), as when a child
# quarantines.  The log lines differ (milterd's quarantine request names
# the child), so they are only expected; the held messages are compared.
fallback_case() {
	case_begin "down$1"
	DIRECT=" { unix:$TMP/down$1-nothere.sock, default_action=$1 }"
	echo "milter \"nothere\" { socket = \"unix:$TMP/down$1-nothere.sock\"" \
	    "fallback = \"$1\" }" >>"$TMP/$CASE.conf"
	kid -h 'X-C2: two'
}
fallback_case quarantine
run_to_bob
expect hold '^Subject: plain test' held
expect hold '!X-C2: two' chain-ended
check downquarantine-hold-same cmp "$TMP/downquarantine.d.hold" \
    "$TMP/downquarantine.m.hold"
expect sink '!X-C2: two' not-delivered
expect replies '^<- +250 ' accepted
expect log 'milter-hold' logged

# 27. The same with shutdown, milterd's own (Postfix has no such
# default_action): the client gets 421 and the connection ends, and
# nothing is queued.  Directly, tempfail, for the comparison of what
# the client sees otherwise.
case_begin downshutdown
echo "milter \"nothere\" { socket = \"unix:$TMP/downshutdown-nothere.sock\"" \
    "fallback = \"shutdown\" }" >>"$TMP/$CASE.conf"
DIRECT=" { unix:$TMP/downshutdown-nothere.sock, default_action=tempfail }"
kid -h 'X-C2: two'
run_to_bob
grep_ok downshutdown-m-421 '^<\*\* +421 ' "$TMP/downshutdown.m.replies"
no_grep downshutdown-m-not-delivered 'X-C2: two' "$TMP/downshutdown.m.sink"

e2e_end "$PF_DIR/maillog"
