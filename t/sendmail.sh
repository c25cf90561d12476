#!/bin/sh
# sendmail.sh -- milterd against Sendmail's own chain of milters.
#
# Like t/e2e-postfix.sh (the shared parts are t/lib/e2e.sh and
# t/lib/e2e-battery.sh), with Debian's Sendmail 8.17 as the MTA,
# chrooted in a Debian tree of its own (t/lib/sendmail.sh,
# t/lib/sendmail-tree).  For each case the same
# child milters, in the same order, run
#   (d) directly: Sendmail's daemon MTA-d lists them (MAIL_FILTER lines,
#       InputMailFilters= of its DAEMON_OPTIONS), and
#   (m) behind milterd: the daemon MTA-m has the global list, the one
#       INPUT_MAIL_FILTER line of README.md's recipe, taken from the
#       README as written; milterd is configured with the recipe's
#       milterd.conf lines, and the children get the recipe's F= and T=,
# and the same client session is replayed against both: the cases every
# MTA runs (t/lib/e2e-battery.sh), then Sendmail's own (progress, its
# macros, macros_compat).  What the two runs produce must be identical:
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
# shellcheck source=lib/e2e-battery.sh
. "$T/lib/e2e-battery.sh"
E2E_OUTPUTS="replies sink hold view log"
# Sendmail's queue id in its reply to the end of DATA.
E2E_REPLY_MASK='s/^(<-  250 2\.0\.0 )[0-9A-Za-z]{14} /\1QID /'
# The queue id and the name of the daemon (MTA-d, MTA-m) in macros.
E2E_VIEW_MASK='s/^(macro i=)[0-9A-Za-z]{14}$/\1QID/
s/^(macro \{daemon_name\}=MTA-)[dm]$/\1X/'

VIEW_MASK=$E2E_VIEW_MASK
# without [HEADER-NAME]: the views leave out where a header a child
# inserted lies (no HEADER-NAME: back to VIEW_MASK); the battery's
# e2e_inserted.  Sendmail counts an insert's index in its own header
# list, which holds entries no milter is shown (its Received: line and
# the header templates of sendmail.cf), so milterd, which sees only what
# the milters see, cannot tell where Sendmail put it: the children after
# the inserting one see it where Postfix would put it (milterd(8),
# SENDMAIL).  The index goes to Sendmail as the child gave it, so the
# delivered messages, compared in full, are the same.
without() {
	E2E_VIEW_MASK=$VIEW_MASK
	[ -z "${1:-}" ] || E2E_VIEW_MASK="$VIEW_MASK
/^header $1:/d"
}

T0=$(date +%s)
sm_recipe || bail recipe "no Sendmail recipe in README.md"
SM_BASE=$(mktemp -d /var/tmp/milterd-sm.XXXXXX)
sm_init "$SM_BASE" || bail sendmail-init "sm_init failed"
echo "# tree ready: $(($(date +%s) - T0)) s"
set -- $(pf_free_port 2)
E2E_PORT_D=$1
E2E_PORT_M=$2
E2E_MTA_LOG=$SM_LOG
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
	sm_mc "DAEMON_OPTIONS(\`Family=inet, Name=MTA-d, Addr=127.0.0.1, Port=$E2E_PORT_D, InputMailFilters=$_names')dnl" \
	    "DAEMON_OPTIONS(\`Family=inet, Name=MTA-m, Addr=127.0.0.1, Port=$E2E_PORT_M')dnl" \
	    "$_filters" "$SM_RECIPE_MC" >"$TMP/$CASE.mc"
	sm_start "$TMP/$CASE.mc" "$E2E_PORT_D" "$E2E_PORT_M"
}

# The queue holds nothing but quarantined mail (hf files).
e2e_queue_settled() {
	find "$SM_QUEUE" -type f \( -name 'qf*' -o -name 'tf*' -o \
	    -name 'xf*' \) | grep -q . && return 1
	for _f in "$SM_QUEUE"/df*; do
		[ ! -f "$_f" ] || [ -f "$SM_QUEUE/hf${_f##*/df}" ] || return 1
	done
}

# Quarantined: sender, recipients, headers, reason, body; then deleted.
e2e_hold() {
	_o=$TMP/$CASE.$MODE
	find "$SM_QUEUE" -type f -name 'hf*' >"$_o.held"
	while IFS= read -r _q; do
		echo "=== held"
		norm_qf <"$_q"
		echo "--- body"
		cat "$SM_QUEUE/df${_q##*/hf}" 2>/dev/null
		rm -f "$_q" "$SM_QUEUE/df${_q##*/hf}"
	done <"$_o.held" >"$_o.hold"
}

# What Sendmail logged about milters, and any error.
e2e_log() {
	tail -c +$((LOGOFF + 1)) "$SM_LOG" |
	    grep -Ei 'milter|reject|discard|quarantine|SYSERR|error|warning' |
	    grep -Ev 'Milter \([^)]*\) (add|change|insert|delete)' |
	    sed -E 's/^<[0-9]+>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} [a-z-]+\[[0-9]+\]: //
		s/^[0-9A-Za-z]{14}: /QID: /
		s/Milter \([^)]*\)/Milter (NAME)/g
		s/daemon=MTA-[dm]/daemon=MTA/
		s/^(milter_[a-z_]*)\([^)]*\)/\1(NAME)/
		s/milter=[^,]*,/milter=NAME,/' >"$TMP/$CASE.$MODE.log"
}

# A Sendmail queue file: what the client and the milters made of the
# envelope and headers (the lines of kinds S sender, R recipient, H
# header, q quarantine reason), queue ids and dates masked.
norm_qf() {
	awk '/^[SRHq]/ { keep = 1 } /^[^\t]/ && !/^[SRHq]/ { keep = 0 }
	    keep' |
	    sed -E "s/$DATE_RE/DATE/g; s/(with E?SMTPS?A? id) [0-9A-Za-z]+/\\1 QID/"
}

# The battery's differences (t/lib/e2e-battery.sh): Sendmail puts the
# recipient before a milter's text, its reply to the end of DATA has
# its queue id (masked), a quarantine does not end the chain.
e2e_rcpt_refused() {
	printf '550 5.7.1 <%s>\\.\\.\\. recipient %s refused' "$1" "$1"
}
E2E_ACCEPTED='250 2\.0\.0 QID Message accepted'
E2E_LOG_DISCARD='discard'
E2E_NEWBODY_BYTES=47
E2E_QUARANTINE_ONWARD=1
e2e_inserted() {
	without "$@"
}
e2e_battery
# MILTERD_TEST_REUSE: the shared battery only (see t/e2e-postfix.sh).
[ -z "$E2E_REUSE" ] || e2e_end "$TMP"/*.mc "$SM_LOG"

# 23. Child 1 slow at end of message (4 s), sending progress every
# second; milterd sends Sendmail its own (progress_interval, 5 s: none
# here) while the children work.
case_begin progress
kid -S eom:4000 -P -h 'X-C1: slow'
kid -h 'X-C2: two'
run_to_bob
compare
expect sink '^X-C1: slow' delivered

# 24. The macros Sendmail sends (its m4 defaults) reach the children
# behind milterd as they reach them directly.
case_begin macros
kid -M i -M j -M _ -M '{daemon_name}' -M '{if_name}' -M '{if_addr}' \
    -M '{mail_addr}' -M '{mail_mailer}' -M '{rcpt_addr}' -M '{rcpt_mailer}' \
    -M '{msg_id}' -M '{client_addr}' -M v
kid -M '{mail_addr}' -M '{msg_id}' -h 'X-C2: two'
run_to_bob
compare
expect view '^macro \{msg_id\}=<plain@example\.com>' msg-id

# 25. macros_compat: Postfix's {daemon_addr} and v at connect, which
# Sendmail sends only when asked.
compat_case '^macro \{daemon_addr\}=127\.0\.0\.1$' '^macro v=8\.'

e2e_end "$TMP"/*.mc "$SM_LOG"
