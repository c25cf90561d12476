#!/bin/sh
# sendmail.sh -- milterd against Sendmail's own chain of milters.
#
# Like t/e2e-postfix.sh (the shared part is t/lib/e2e.sh), with Debian's
# Sendmail 8.17 as the MTA, chrooted in a Debian tree of its own
# (t/lib/sendmail.sh, t/lib/sendmail-tree).  For each case the same
# child milters, in the same order, run
#   (d) directly: Sendmail's daemon MTA-d lists them (MAIL_FILTER lines,
#       InputMailFilters= of its DAEMON_OPTIONS), and
#   (m) behind milterd: the daemon MTA-m has the global list, the one
#       INPUT_MAIL_FILTER line of README.md's recipe, taken from the
#       README as written; milterd is configured with the recipe's
#       milterd.conf lines, and the children get the recipe's F= and T=,
# and the same client session is replayed against both.  What the two
# runs produce must be identical:
#   replies  the server's SMTP replies (swaks "<-", "<~", "<**" lines),
#   sink     the delivered messages as smtp-sink dumped them,
#   hold     the messages Sendmail quarantined (the queue file's sender,
#            recipients, headers and quarantine reason, and the body),
#   view     what each tmilter child logged (every callback, in order),
#   log      what Sendmail logged about milters (the milter's name
#            masked: Sendmail names each child in (d), milterd in (m)),
#            but for its lines about each modification: their effect is
#            in sink, and they differ in form (milterd negotiates
#            SMFIP_HDR_LEADSPC with Sendmail, so Sendmail logs values
#            with their leading blank, "X-C1:  one") and in number (in
#            (d) Sendmail logs, and drops, a child's edits before that
#            child's discard; milterd does not pass them on),
# after masking queue ids, dates and ports.  Each case also checks, in
# both modes, that the children did what they were told.
#
# Sendmail is restarted for each case (its filters are in sendmail.cf);
# milterd listens where the recipe says, SM_MDRUN/milterd.sock on the
# host, /var/run/milterd/milterd.sock in Sendmail's tree.  milterd has
# body_memory_limit = 65536, so large bodies go through its spool.
#
# The tree is made once (a couple of minutes, network needed) and
# cached; the test runs only when MILTERD_TEST_SENDMAIL=1 (make
# test-sendmail), else it says so and passes.  E2E_KEEP=DIR copies the
# outputs and the logs to DIR at the end.
. "$(dirname "$0")/lib/test.sh"
if [ "${MILTERD_TEST_SENDMAIL:-0}" != 1 ]; then
	echo "# skipped: run with MILTERD_TEST_SENDMAIL=1 (make test-sendmail)"
	finish
fi
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
# shellcheck source=lib/sendmail.sh
. "$T/lib/sendmail.sh"
# shellcheck source=lib/e2e.sh
. "$T/lib/e2e.sh"
E2E_OUTPUTS="replies sink hold view log"
# Sendmail's queue id in its reply to the end of DATA.
E2E_REPLY_MASK='s/^(<-  250 2\.0\.0 )[0-9A-Za-z]{14} /\1QID /'
# The queue id and the name of the daemon (MTA-d, MTA-m) in macros.
E2E_VIEW_MASK='s/^(macro i=)[0-9A-Za-z]{14}$/\1QID/
s/^(macro \{daemon_name\}=MTA-)[dm]$/\1X/'

VIEW_MASK=$E2E_VIEW_MASK
# without HEADER-NAME: the views leave out where a header a child
# inserted lies.  Sendmail counts an insert's index in its own header
# list, which holds entries no milter is shown (its Received: line and
# the header templates of sendmail.cf), so milterd, which sees only what
# the milters see, cannot tell where Sendmail put it: the children after
# the inserting one see it where Postfix would put it (milterd(8),
# SENDMAIL).  The index goes to Sendmail as the child gave it, so the
# delivered messages, compared in full, are the same.
without() {
	E2E_VIEW_MASK="$VIEW_MASK
/^header $1:/d"
}

T0=$(date +%s)
sm_recipe || bail recipe "no Sendmail recipe in README.md"
SM_BASE=$(mktemp -d /var/tmp/milterd-sm.XXXXXX)
sm_init "$SM_BASE" || bail sendmail-init "sm_init failed"
echo "# tree ready: $(($(date +%s) - T0)) s"
set -- $(pf_free_port 2)
PORT_D=$1
PORT_M=$2
MD_SOCK=$SM_MDRUN/$(basename "$SM_RECIPE_SOCK")
e2e_messages

# --- Sendmail's part (see t/lib/e2e.sh) -----------------------------------
e2e_milterd() {
	# The recipe's lines, listen moved to where the tree sees it.
	_conf=$(printf '%s\n' "$SM_RECIPE_CONF" |
	    sed "s|unix:$SM_RECIPE_SOCK|unix:$MD_SOCK|")
	milterd_start "$CASE" "$_conf" 'body_memory_limit = 65536' \
	    "$(cat "$TMP/$CASE.conf")"
	MD_PID=$BG_PID
}

e2e_mta_conf() {
	_names=
	_filters=
	_k=0
	for _s in $DIRECT; do
		_k=$((_k + 1))
		_names="$_names${_names:+;}c$_k"
		_filters="$_filters
MAIL_FILTER(\`c$_k', \`S=unix:$(sm_path "${_s#unix:}"), $SM_RECIPE_FLAGS')dnl"
	done
	sm_mc "DAEMON_OPTIONS(\`Family=inet, Name=MTA-d, Addr=127.0.0.1, Port=$PORT_D, InputMailFilters=$_names')dnl" \
	    "DAEMON_OPTIONS(\`Family=inet, Name=MTA-m, Addr=127.0.0.1, Port=$PORT_M')dnl" \
	    "$_filters" "$SM_RECIPE_MC" >"$TMP/$CASE.mc"
	sm_start "$TMP/$CASE.mc" "$PORT_D" "$PORT_M"
}

e2e_mode() {
	case $MODE in
	d) PORT=$PORT_D ;;
	m) PORT=$PORT_M ;;
	esac
	LOGOFF=$(wc -c <"$SM_LOG")
}

# The queue holds nothing but quarantined mail (hf files), the sink has
# closed its files, and every child's log ends with "close" (or is
# empty).
settled() {
	find "$SM_QUEUE" -type f \( -name 'qf*' -o -name 'tf*' -o \
	    -name 'xf*' \) | grep -q . && return 1
	for _f in "$SM_QUEUE"/df*; do
		[ ! -f "$_f" ] || [ -f "$SM_QUEUE/hf${_f##*/df}" ] || return 1
	done
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
	# Quarantined: sender, recipients, headers, reason, body; then
	# deleted.
	find "$SM_QUEUE" -type f -name 'hf*' >"$_o.held"
	while IFS= read -r _q; do
		echo "=== held"
		norm_qf <"$_q"
		echo "--- body"
		cat "$SM_QUEUE/df${_q##*/hf}" 2>/dev/null
		rm -f "$_q" "$SM_QUEUE/df${_q##*/hf}"
	done <"$_o.held" >"$_o.hold"
	# What Sendmail logged about milters, and any error.
	tail -c +$((LOGOFF + 1)) "$SM_LOG" |
	    grep -Ei 'milter|reject|discard|quarantine|SYSERR|error|warning' |
	    grep -Ev 'Milter \([^)]*\) (add|change|insert|delete)' |
	    sed -E 's/^<[0-9]+>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} [a-z-]+\[[0-9]+\]: //
		s/^[0-9A-Za-z]{14}: /QID: /
		s/Milter \([^)]*\)/Milter (NAME)/g
		s/daemon=MTA-[dm]/daemon=MTA/
		s/^(milter_[a-z_]*)\([^)]*\)/\1(NAME)/
		s/milter=[^,]*,/milter=NAME,/' >"$_o.log"
	e2e_view
}

# A Sendmail queue file: what the client and the milters made of the
# envelope and headers (the lines of kinds S sender, R recipient, H
# header, q quarantine reason), queue ids and dates masked.
norm_qf() {
	awk '/^[SRHq]/ { keep = 1 } /^[^\t]/ && !/^[SRHq]/ { keep = 0 }
	    keep' |
	    sed -E "s/$DATE_RE/DATE/g; s/(with E?SMTPS?A? id) [0-9A-Za-z]+/\\1 QID/"
}

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
without X-Ins
run_both sw --to bob@example.org --data "@$TMP/many.eml"
E2E_VIEW_MASK=$VIEW_MASK
compare
expect sink '^X-Many: changed by c1' changed
expect_kid 2 '^header X-Ins: inserted by c1' kid2-sees-insert

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
expect replies '550 5.7.1 <bad@example.org>\.\.\. recipient bad@example.org refused' rejected-1
expect replies '550 5.7.1 <worse@example.org>\.\.\. recipient worse@example.org refused' rejected-2
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
without X-Mid
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
E2E_VIEW_MASK=$VIEW_MASK
compare
expect sink '^X-Add: changed by c2' chain
expect_kid 3 '^header X-Mid: +mid' kid3-sees-insert

# 8. Body replaced by child 1 (mixed line ends), then a header by child
# 2, which sees the new body as Sendmail keeps it: bare LF made CRLF,
# no line end added after the last line (47 bytes; Postfix: 49).
case_begin replbody
kid -b "$TMP/newbody.txt"
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink '^new body from child 1' replaced
expect_kid 2 '^body 47 bytes' kid2-new-body

# 9. Discard at end of message.
case_begin discard
kid -h 'X-C1: one' -D eom
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect replies '250 2\.0\.0 QID Message accepted' accepted
expect sink '!X-C' none-delivered

# 10. Quarantine: the message is held; Sendmail goes on to child 2,
# whose header is in the held message (Postfix stops at child 1).
case_begin quarantine
kid -h 'X-C1: one' -q 'held by c1'
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect hold 'X-C1: one' held
expect hold 'X-C2: two' kid2-edit-held
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

# 16. Reject at connect by child 1.  Sendmail, like milterd, negotiates
# with every milter when the SMTP session starts, so child 2 is
# negotiated with and closed without a callback (Sendmail answers 554
# to the greeting, ignoring the milter's text).
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
expect log 'discard' discarded
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

# 22. Two messages in one SMTP session.
case_begin twomsgs
kid -R bad@example.org -h 'X-C1: one'
kid -c 'Subject:1:changed by c2' -h 'X-C2: two'
run_both two_msgs
compare
expect replies '550 5.7.1 <bad@example.org>\.\.\. recipient bad@example.org refused' rejected
expect sink 'X-Mail-Args: <carol@example.com>' second-delivered
expect sink '^Subject: changed by c2' edited

# 24. Child 1 slow at end of message (4 s), sending progress every
# second; milterd sends Sendmail its own (progress_interval, 5 s: none
# here) while the children work.
case_begin progress
kid -S eom:4000 -P -h 'X-C1: slow'
kid -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect sink '^X-C1: slow' delivered

# 25. The macros Sendmail sends (its m4 defaults) reach the children
# behind milterd as they reach them directly.
case_begin macros
kid -M i -M j -M _ -M '{daemon_name}' -M '{if_name}' -M '{if_addr}' \
    -M '{mail_addr}' -M '{mail_mailer}' -M '{rcpt_addr}' -M '{rcpt_mailer}' \
    -M '{msg_id}' -M '{client_addr}' -M v
kid -M '{mail_addr}' -M '{msg_id}' -h 'X-C2: two'
run_both sw --to bob@example.org --data "@$TMP/plain.eml"
compare
expect view '^macro \{msg_id\}=<plain@example\.com>' msg-id

# 26. macros_compat: Postfix's {daemon_addr} and v at connect, which
# Sendmail sends only when asked.
compat_case '^macro \{daemon_addr\}=127\.0\.0\.1$' '^macro v=8\.'

echo "# $CASE: $(($(date +%s%3N) - CASE_T0)) ms"
echo "# $(($(date +%s) - T0)) s"
# E2E_KEEP=DIR: keep a copy of the outputs for a look after the run.
[ -n "${E2E_KEEP:-}" ] && mkdir -p "$E2E_KEEP" &&
    cp "$TMP"/*.raw "$TMP"/*.replies "$TMP"/*.sink "$TMP"/*.hold \
    "$TMP"/*.view "$TMP"/*.log "$TMP"/*.err "$TMP"/*.conf "$TMP"/*.mc \
    "$SM_LOG" "$E2E_KEEP/"
finish
