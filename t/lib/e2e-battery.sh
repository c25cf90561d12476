# e2e-battery.sh: the cases of the end-to-end comparison that every MTA
# runs (t/e2e-postfix.sh, t/sendmail.sh), written once; sourced after
# e2e.sh.  e2e_battery runs them; a test script runs the cases only its
# MTA has (XCLIENT, OpenDKIM, Sendmail's progress, ...) itself.
#
# The cases look into the outputs replies, sink, hold, view and log
# (E2E_OUTPUTS), and the children's logs.  What the MTAs do
# differently, the test script says before it calls e2e_battery:
#   e2e_rcpt_refused ADDR  (a function) print the ERE of the MTA's reply
#                          to RCPT TO:<ADDR> refused by a child with
#                          tmilter's text; Sendmail puts "<ADDR>... "
#                          before the text, Postfix does not
#   E2E_ACCEPTED           ERE of the reply to an accepted message, after
#                          e2e_replies' masking
#   E2E_LOG_DISCARD        ERE in the log output for a discard at RCPT
#   E2E_NEWBODY_BYTES      the size of newbody.txt as the MTA keeps a
#                          replaced body, as the next child is sent it
#   E2E_QUARANTINE_ONWARD  1 if the MTA goes on to the next children after
#                          one quarantined the message (Sendmail), empty
#                          if the chain ends there (Postfix)
#   e2e_inserted NAME      (a function, optional) run before run_both in a
#                          case whose children insert header NAME, and
#                          with no NAME after it; the default does nothing
#                          (t/sendmail.sh leaves the header out of views)

e2e_inserted() { :; }

e2e_battery() {
	for _v in E2E_ACCEPTED E2E_LOG_DISCARD E2E_NEWBODY_BYTES; do
		eval "[ -n \"\${$_v:-}\" ]" || bail battery "$_v not set"
	done

	# 1. Plain message, two children adding headers.
	case_begin plain
	kid -h 'X-C1: one'
	kid -h 'X-C2: two'
	run_to_bob
	compare
	expect sink '^X-C2: two' added-headers

	# 2. A body over milterd's spool limit (the test scripts set
	# body_memory_limit = 65536).
	case_begin spool
	kid -c 'Subject:1:big one'
	kid -h 'X-C2: saw it'
	run_to_bob big
	compare
	expect sink '^X-C2: saw it' delivered
	# Child 2 got all of it: 7000 lines with CRLF, and the empty line
	# swaks puts before the final dot.
	for _m in d m; do
		check "spool-$_m-body-whole" test "$(awk '$1 == "body" { n += $2 }
		    END { print n }' "$TMP/spool-${_m}2.log")" -eq \
		    "$(($(sed '1,/^$/d' "$TMP/big.eml" | wc -c) + 7000 + 2))"
	done

	# 3. A large replacement body (over the limit) from child 1.
	case_begin bigreplace
	kid -b "$TMP/bigbody.txt"
	kid -h 'X-C2: two'
	run_to_bob
	compare
	expect sink '^replaced line 03999' replaced

	# 4. Child 1 skips the rest of the body after the first piece.
	case_begin skip
	kid -k -h 'X-C1: one'
	kid -h 'X-C2: two'
	run_to_bob big
	compare
	expect_kid 1 '^body 65535 bytes' kid1-first-piece
	expect sink '^X-C1: one' delivered

	# 5. 200 headers; edits deep in the list; child 2 sees child 1's
	# insert.
	case_begin manyhdrs
	kid -c 'X-Many:150:changed by c1' -i '100:X-Ins: inserted by c1'
	kid -c 'X-Many:199:' -h 'X-C2: two'
	e2e_inserted X-Ins
	run_to_bob many
	e2e_inserted
	compare
	expect sink '^X-Many: changed by c1' changed
	expect_kid 2 '^header X-Ins: inserted by c1' kid2-sees-insert

	# 6. 8-bit header and body.
	case_begin eightbit
	kid -h "$(printf 'X-C1: gr\303\274\303\237e')"
	kid -c "$(printf 'Subject:1:ge\303\244ndert \351')"
	run_to_bob 8bit
	compare
	expect sink "$(printf 'K\303\266ln')" body-8bit

	# 7. Recipients refused by child 1 and by child 2: child 2 never sees
	# the one child 1 refused.
	case_begin rcpts
	kid -R bad@example.org
	kid -R worse@example.org -h 'X-C2: two'
	run_both sw --to good1@example.org,bad@example.org,worse@example.org,good2@example.org \
	    --data "@$TMP/plain.eml"
	compare
	expect replies "$(e2e_rcpt_refused bad@example.org)" rejected-1
	expect replies "$(e2e_rcpt_refused worse@example.org)" rejected-2
	expect kid2 '!rcpt <bad@' kid2-no-bad
	expect sink 'X-Rcpt-Args: <good2@example.org>' delivered

	# 8. Header add / insert / change / delete, in both children; a third
	# child with leading-space headers, which sees child 2's insert.
	case_begin headers
	kid -h 'X-Add: 1' -i '1:X-Top: top' -c 'Subject:1:new subject' -c 'X-Del:1:'
	kid -i '3:X-Mid: mid' -c 'X-Add:1:changed by c2' -c 'X-Dup:2:' -h 'X-C2: two' \
	    -i '0:X-Zero: zero' -c 'X-Missing:1:appended' -c 'X-Dup:5:'
	kid -N -h 'X-N3:  lead' -c 'X-Folded:1: refolded
	line'
	e2e_inserted X-Mid
	run_to_bob
	e2e_inserted
	compare
	expect sink '^X-Add: changed by c2' chain
	expect_kid 3 '^header X-Mid: +mid' kid3-sees-insert

	# 9. Body replaced by child 1 (mixed line ends), then a header by
	# child 2, which sees the new body as the MTA keeps it (Postfix: CRLF
	# lines, 49 bytes; Sendmail: bare LF made CRLF, no line end added
	# after the last line, 47 bytes).
	case_begin replbody
	kid -b "$TMP/newbody.txt"
	kid -h 'X-C2: two'
	run_to_bob
	compare
	expect sink '^new body from child 1' replaced
	expect_kid 2 "^body $E2E_NEWBODY_BYTES bytes" kid2-new-body

	# 10. Discard at end of message.
	case_begin discard
	kid -h 'X-C1: one' -D eom
	kid -h 'X-C2: two'
	run_to_bob
	compare
	expect replies "$E2E_ACCEPTED" accepted
	expect sink '!X-C' none-delivered

	# 11. Quarantine: the message is held.  Sendmail goes on to child 2,
	# whose header is in the held message; Postfix stops at child 1.
	case_begin quarantine
	kid -h 'X-C1: one' -q 'held by c1'
	kid -h 'X-C2: two'
	run_to_bob
	compare
	expect hold 'X-C1: one' held
	if [ -n "${E2E_QUARANTINE_ONWARD:-}" ]; then
		expect hold 'X-C2: two' kid2-edit-held
	else
		expect hold '!X-C2: two' kid2-no-edit-held
	fi
	expect sink '!X-C' none-delivered

	# 12. Added recipient.
	case_begin addrcpt
	kid -a 'added@example.org'
	kid -h 'X-C2: two' -a 'added2@example.org NOTIFY=NEVER'
	run_to_bob
	compare
	expect sink 'X-Rcpt-Args: <added@example.org>' added

	# 13. Deleted recipient.
	case_begin delrcpt
	kid -d 'second@example.org'
	kid -h 'X-C2: two'
	run_both sw --to first@example.org,second@example.org --data "@$TMP/plain.eml"
	compare
	expect sink '!X-Rcpt-Args: <second@' deleted

	# 14. Changed envelope sender.
	case_begin chgfrom
	kid -f 'changed@example.com'
	kid -h 'X-C2: two' -f 'again@example.com SIZE=1000'
	run_to_bob
	compare
	expect sink 'X-Mail-Args: <again@example.com>' changed

	# 15. Tempfail at RCPT by child 1.
	case_begin tfrcpt
	kid -T rcpt
	kid -h 'X-C2: two'
	run_to_bob
	compare
	expect replies '451 4.7.1 tempfail at rcpt by tmilter' tempfail

	# 16. Tempfail at MAIL by child 2 only.
	case_begin tfmail
	kid -h 'X-C1: one'
	kid -T mail
	run_to_bob
	compare
	expect replies '451 4.7.1 tempfail at mail by tmilter' tempfail

	# 17. Reject at connect by child 1.  Postfix connects to a milter
	# only when its first event is due, so child 2 never hears of this
	# session; behind milterd it is negotiated and closed (see
	# norm_view).  Sendmail, like milterd, negotiates with every milter
	# when the SMTP session starts, so child 2 is negotiated with and
	# closed without a callback (Sendmail answers 554 to the greeting,
	# ignoring the milter's text).
	case_begin rejconn
	kid -J connect
	kid -h 'X-C2: two'
	run_to_bob
	compare
	expect replies '^<\*\* 5' refused

	# 18. Reject at end of message, the milter's own text, by child 2.
	case_begin rejeom
	kid -h 'X-C1: one'
	kid -J eom
	run_to_bob
	compare
	expect replies '550 5.7.1 rejected at eom by tmilter' custom-text

	# 19. Discard at RCPT.
	case_begin discrcpt
	kid -D rcpt
	kid -h 'X-C2: two'
	run_to_bob
	compare
	expect log "$E2E_LOG_DISCARD" discarded
	expect sink '!X-C' none-delivered

	# 20, 21. Accept at connect by child 1: its edits never happen; at
	# RCPT: done with the message, no edits.
	for _at in connect rcpt; do
		case_begin "accept${_at%ect}"	# acceptconn, acceptrcpt
		kid -A "$_at" -h 'X-C1: one'
		kid -h 'X-C2: two'
		run_to_bob
		compare
		expect sink '^X-C2: two' delivered
		expect sink '!^X-C1' no-c1-edit
	done

	# 22. Two messages in one SMTP session.
	case_begin twomsgs
	kid -R bad@example.org -h 'X-C1: one'
	kid -c 'Subject:1:changed by c2' -h 'X-C2: two'
	run_both two_msgs
	compare
	expect replies "$(e2e_rcpt_refused bad@example.org)" rejected
	expect sink 'X-Mail-Args: <carol@example.com>' second-delivered
	expect sink '^Subject: changed by c2' edited

	# 23. A child that asks for its own macro lists (smfi_setsymlist,
	# as MIMEDefang does) gets just those, as from its MTA directly:
	# {client_addr} at connect, which neither MTA sends by default, and
	# not {daemon_name}, which it did not ask for; at MAIL, where it
	# asked for none, the MTA's defaults.  Child 2 keeps the defaults.
	case_begin symlist
	kid -L 'connect:j {client_addr}' -M j -M '{client_addr}' \
	    -M '{daemon_name}' -M '{mail_addr}' -h 'X-C1: one'
	kid -M '{daemon_name}' -M '{client_addr}' -h 'X-C2: two'
	run_to_bob
	compare
	expect_kid 1 '^macro \{client_addr\}=127\.0\.0\.1$' own-list-sent
	expect_kid 1 '!^macro \{daemon_name\}=' only-own-list
	expect_kid 1 '^macro \{mail_addr\}=' defaults-elsewhere
	expect_kid 2 '^macro \{daemon_name\}=' others-defaults
	expect_kid 2 '!^macro \{client_addr\}=' others-not-widened
}
