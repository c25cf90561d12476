#!/bin/sh
# e2e-postfix.sh -- milterd against Postfix's own chain of milters.
#
# For each case the same child milters, in the same order, run
#   (d) directly: Postfix's smtpd_milters lists them, and
#   (m) behind milterd: smtpd_milters is milterd's socket, milterd's
#       configuration lists them,
# and the same client session is replayed against both (t/lib/e2e.sh).
# What the two runs produce must be identical:
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
e2e_messages

# --- Postfix's part (see t/lib/e2e.sh) ------------------------------------
# kid_dkim: the next child is OpenDKIM (t/lib/opendkim.sh), signing for
# example.com; one instance serves both modes.
kid_dkim() {
	NKIDS=$((NKIDS + 1))
	[ -S "$DKIM_DIR/e2e-dkim.sock" ] || dkim_start e2e-dkim ||
	    bail dkim-start "opendkim does not start"
	DIRECT="$DIRECT unix:$DKIM_DIR/e2e-dkim.sock"
	printf 'milter "dkim" { socket = "unix:%s/e2e-dkim.sock" }\n' \
	    "$DKIM_DIR" >>"$TMP/$CASE.conf"
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

e2e_mode() {
	case $MODE in
	d) PORT=$PF_SMTP_PORT ;;
	m) PORT=$MD_PORT ;;
	esac
	LOGOFF=$(wc -c <"$PF_DIR/maillog")
}

# The queue holds nothing but held mail, the sink has closed its files,
# and every child's log ends with "close" (or is empty).
settled() {
	# (cleanup makes the queue file before smtpd says "queued")
	find "$PF_DIR/queue/maildrop" "$PF_DIR/queue/incoming" \
	    "$PF_DIR/queue/active" "$PF_DIR/queue/deferred" -type f |
	    grep -q . && return 1
	# shellcheck disable=SC2012
	[ "$(ls "$PF_SINK_DIR" | wc -l)" -eq "$(pf_sink_files | wc -l)" ] ||
	    return 1
	e2e_kids_closed
}

collect() {
	_o=$TMP/$CASE.$MODE
	_pf_poll 20 settled ||
	    fail "$CASE-$MODE-settle" "queue or logs not settled"
	e2e_replies
	e2e_sink
	# Held: each one's queue file, masked; then deleted.
	find "$PF_DIR/queue/hold" -type f -exec basename {} \; >"$_o.held"
	while IFS= read -r _q; do
		echo "=== held"
		postcat -c "$PF_ETC" -q "$_q" | norm_postcat
		postsuper -c "$PF_ETC" -d "$_q" >/dev/null 2>&1
	done <"$_o.held" >"$_o.hold"
	# What Postfix logged about milters, and any warning.
	tail -c +$((LOGOFF + 1)) "$PF_DIR/maillog" |
	    grep -E 'milter|warning|error|fatal|panic' | grep -v ' reload -- ' |
	    sed -E 's/^.* [a-z]+\/([a-z]+)\[[0-9]+\]: /\1: /
		s/^([a-z]+: )[0-9A-F]{6,}: /\1QID: /' >"$_o.log"
	e2e_view
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

# 1. Plain message, two children adding headers.
case_begin plain
kid -h 'X-C1: one'
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink '^X-C2: two' added-headers

# 2. A body over milterd's spool limit (body_memory_limit = 65536).
case_begin spool
kid -c 'Subject:1:big one'
kid -h 'X-C2: saw it'
run_both sw --to bob@example.org --data "@$TMP/big.eml"
compare
expect sink '^X-C2: saw it' delivered
# Child 2 got all of it: 7000 lines with CRLF, and the empty line swaks
# puts before the final dot.
for _m in d m; do
	check "spool-$_m-body-whole" test "$(awk '$1 == "body" { n += $2 }
	    END { print n }' "$TMP/spool-${_m}2.log")" -eq \
	    "$(($(sed '1,/^$/d' "$TMP/big.eml" | wc -c) + 7000 + 2))"
done

# 3. A large replacement body (over the limit) from child 1.
case_begin bigreplace
kid -b "$TMP/bigbody.txt"
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink '^replaced line 03999' replaced

# 3b. Child 1 skips the rest of the body after the first piece.
case_begin skip
kid -k -h 'X-C1: one'
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/big.eml"
compare
expect_kid 1 '^body 65535 bytes' kid1-first-piece
expect sink '^X-C1: one' delivered

# 4. 200 headers; edits deep in the list.
case_begin manyhdrs
kid -c 'X-Many:150:changed by c1' -i '100:X-Ins: inserted by c1'
kid -c 'X-Many:199:' -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/many.eml"
compare
expect sink '^X-Many: changed by c1' changed

# 5. 8-bit header and body.
case_begin eightbit
kid -h "$(printf 'X-C1: gr\303\274\303\237e')"
kid -c "$(printf 'Subject:1:ge\303\244ndert \351')"
run_both sw --to bob@example.org --data "@$TMP/8bit.eml"
compare
expect sink "$(printf 'K\303\266ln')" body-8bit

# 6. Recipients refused by child 1 and by child 2: child 2 never sees
# the one child 1 refused.
case_begin rcpts
kid -R bad@example.org
kid -R worse@example.org -h 'X-C2: two'
run_both sw --to good1@example.org,bad@example.org,worse@example.org,good2@example.org \
    --data "@$TMP/plain.eml"
compare
expect replies '550 5.7.1 recipient bad@example.org refused' rejected-1
expect replies '550 5.7.1 recipient worse@example.org refused' rejected-2
expect kid2 '!rcpt <bad@' kid2-no-bad
expect sink 'X-Rcpt-Args: <good2@example.org>' delivered

# 7. Header add / insert / change / delete, in both children; a third
# child with leading-space headers.
case_begin headers
kid -h 'X-Add: 1' -i '1:X-Top: top' -c 'Subject:1:new subject' -c 'X-Del:1:'
kid -i '3:X-Mid: mid' -c 'X-Add:1:changed by c2' -c 'X-Dup:2:' -h 'X-C2: two' \
    -i '0:X-Zero: zero' -c 'X-Missing:1:appended' -c 'X-Dup:5:'
kid -N -h 'X-N3:  lead' -c 'X-Folded:1: refolded
	line'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink '^X-Add: changed by c2' chain

# 8. Body replaced by child 1 (mixed line ends), then a header by child
# 2, which sees the new body (as Postfix keeps it: CRLF lines).
case_begin replbody
kid -b "$TMP/newbody.txt"
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink '^new body from child 1' replaced
expect_kid 2 '^body 49 bytes' kid2-new-body

# 9. Discard at end of message.
case_begin discard
kid -h 'X-C1: one' -D eom
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect replies 'queued as' accepted
expect sink '!X-C' none-delivered

# 10. Quarantine: the message is held.
case_begin quarantine
kid -h 'X-C1: one' -q 'held by c1'
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect hold 'X-C1: one' held
expect sink '!X-C' none-delivered

# 11. Added recipient.
case_begin addrcpt
kid -a 'added@example.org'
kid -h 'X-C2: two' -a 'added2@example.org NOTIFY=NEVER'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink 'X-Rcpt-Args: <added@example.org>' added

# 12. Deleted recipient.
case_begin delrcpt
kid -d 'second@example.org'
kid -h 'X-C2: two'
run_both sw --to first@example.org,second@example.org --data "@$TMP/plain.eml"
compare
expect sink '!X-Rcpt-Args: <second@' deleted

# 13. Changed envelope sender.
case_begin chgfrom
kid -f 'changed@example.com'
kid -h 'X-C2: two' -f 'again@example.com SIZE=1000'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink 'X-Mail-Args: <again@example.com>' changed

# 14. Tempfail at RCPT by child 1.
case_begin tfrcpt
kid -T rcpt
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect replies '451 4.7.1 tempfail at rcpt by tmilter' tempfail

# 15. Tempfail at MAIL by child 2 only.
case_begin tfmail
kid -h 'X-C1: one'
kid -T mail
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect replies '451 4.7.1 tempfail at mail by tmilter' tempfail

# 16. Reject at connect by child 1.  Postfix connects to a milter only
# when its first event is due, so child 2 never hears of this session;
# behind milterd it is negotiated and closed (see norm_view).
case_begin rejconn
kid -J connect
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect replies '^<\*\* 5' refused

# 17. Reject at end of message, the milter's own text, by child 2.
case_begin rejeom
kid -h 'X-C1: one'
kid -J eom
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect replies '550 5.7.1 rejected at eom by tmilter' custom-text

# 18. Discard at RCPT.
case_begin discrcpt
kid -D rcpt
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect log 'milter-discard: RCPT' discarded
expect sink '!X-C' none-delivered

# 19. Accept at connect by child 1: its edits never happen.
case_begin acceptconn
kid -A connect -h 'X-C1: one'
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink '^X-C2: two' delivered
expect sink '!^X-C1' no-c1-edit

# 20. Accept at RCPT by child 1: done with the message, no edits.
case_begin acceptrcpt
kid -A rcpt -h 'X-C1: one'
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink '^X-C2: two' delivered
expect sink '!^X-C1' no-c1-edit

# 21. OpenDKIM as child 2 signs the body child 1 replaced.
case_begin dkim
kid -b "$TMP/newbody.txt" -h 'X-C1: one'
kid_dkim
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
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

# 22. Two messages in one SMTP session.
case_begin twomsgs
kid -R bad@example.org -h 'X-C1: one'
kid -c 'Subject:1:changed by c2' -h 'X-C2: two'
run_both two_msgs
compare
expect replies '550 5.7.1 recipient bad@example.org refused' rejected
expect sink 'X-Mail-Args: <carol@example.com>' second-delivered
expect sink '^Subject: changed by c2' edited

# 23. XCLIENT: the children get a fresh connect with the new client.
case_begin xclient
kid -M '{client_addr}' -M '{client_name}' -h 'X-C1: one'
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml" \
    --xclient-addr 192.0.2.7 --xclient-name x.example
compare
expect view 'connect host=x\.example .*addr=192\.0\.2\.7' new-connect

# 24. macros_compat: Sendmail's {if_addr}, made from {daemon_addr}.
compat_case '^macro \{if_addr\}=127\.0\.0\.1$'

echo "# $CASE: $(($(date +%s%3N) - CASE_T0)) ms"
echo "# $(($(date +%s) - T0)) s"
# E2E_KEEP=DIR: keep a copy of the outputs for a look after the run.
[ -n "${E2E_KEEP:-}" ] && mkdir -p "$E2E_KEEP" &&
    cp "$TMP"/*.raw "$TMP"/*.replies "$TMP"/*.sink "$TMP"/*.hold \
    "$TMP"/*.view "$TMP"/*.log "$TMP"/*.err "$TMP"/*.conf \
    "$PF_DIR/maillog" "$E2E_KEEP/"
finish
