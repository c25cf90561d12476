# e2e.sh: what the end-to-end comparisons with a real MTA share
# (t/e2e-postfix.sh, t/sendmail.sh); sourced after test.sh and
# postfix.sh (smtp-sink and polling helpers).
#
# Each case runs the same child milters, in the same order,
#   (d) directly, listed in the MTA's own configuration, and
#   (m) behind milterd, the MTA listing only milterd,
# replays the same client session against both, and compares what came
# out after masking queue ids, dates, ports and DKIM b= and t=.
#
#   e2e_messages       the battery of messages in $TMP (plain.eml,
#                      big.eml, many.eml, 8bit.eml, second.eml) and of
#                      replacement bodies (newbody.txt, bigbody.txt)
#   case_begin NAME    start a case; kid ARGS adds a tmilter child
#   run_both CLIENT..  milterd for the case, the MTA pointed at the
#                      children (d) and at milterd (m), CLIENT run in
#                      each mode with $PORT set, then `collect' (the
#                      outputs E2E_OUTPUTS once the run has settled)
#   sw ARGS, two_msgs  clients: swaks, two messages in one session
#   run_to_bob [MSG [ARGS]]  run_both sw sending $TMP/MSG.eml to bob
#   compare            the outputs E2E_OUTPUTS of both modes identical
#   expect W PATTERN [DESC], expect_kid K PATTERN DESC
#   compat_case RE...  the macros_compat case
#   e2e_end FILE...    the timings, E2E_KEEP's copy (with FILEs), finish
# The cases every MTA runs are in t/lib/e2e-battery.sh.
#
# The test script provides the MTA's part as functions:
#   e2e_milterd        start milterd for $CASE with $TMP/$CASE.conf
#                      (milterd_start), leaving its pid in MD_PID
#   e2e_mta_conf       point mode d at $DIRECT (the children's socket
#                      specs) and mode m at milterd
#   e2e_queue_settled  true once the MTA's queue holds nothing but held
#                      mail (collect waits for it)
#   e2e_W              for each output W of E2E_OUTPUTS but replies,
#                      sink and view (here): write $TMP/$CASE.$MODE.W
#                      (the MTA's log from offset LOGOFF on is the run's)
# sets E2E_PORT_D and E2E_PORT_M (the MTA's SMTP ports for the two
# modes; e2e_mode sets PORT and LOGOFF for $MODE) and E2E_MTA_LOG (its
# log file), and may set E2E_REPLY_MASK and E2E_VIEW_MASK (sed -E
# scripts for the SMTP replies and the children's logs).
#
# MILTERD_TEST_REUSE=1 runs the comparison with reuse_connections on
# for every child behind milterd (E2E_REUSE: the key, for the children's
# sections): mode m's client runs once first, unrecorded, so that the
# recorded run takes the connections that run left in milterd's pool.
# milterd keeps no connection of a child that negotiates with a callback,
# so the tmilter children run without one (-O, in both modes) unless a
# case needs it (-k, -N, -L).

E2E_OUTPUTS=${E2E_OUTPUTS:-replies sink view}
E2E_REUSE=
[ "${MILTERD_TEST_REUSE:-0}" = 1 ] && E2E_REUSE="reuse_connections = true"
E2E_REPLY_MASK=${E2E_REPLY_MASK:-}
E2E_VIEW_MASK=${E2E_VIEW_MASK:-}
: >"$TMP/seen"

# msg FILE SUBJECT [HEADER-LINES]: a message with fixed Date and
# Message-ID (an MTA would add them with a queue id), body from stdin.
msg() {
	_id=$(basename "$1" .eml)
	{
		printf 'Date: Mon, 02 Mar 2026 10:00:00 +0000\n'
		printf 'From: Alice <alice@example.com>\n'
		printf 'To: Bob <bob@example.org>\n'
		printf 'Subject: %s\n' "$2"
		printf 'Message-ID: <%s@example.com>\n' "$_id"
		[ -n "${3:-}" ] && printf '%s\n' "$3"
		printf '\n'
		cat
	} >"$1"
}

e2e_messages() {
	printf 'Hello Bob,\nthis is the body.\n' | msg "$TMP/plain.eml" "plain test" \
	    "$(printf 'X-Del: delete me\nX-Dup: first\nX-Dup: second\nX-Folded: one\n\ttwo')"
	awk 'BEGIN { for (i = 0; i < 7000; i++)
	    printf "big line %06d: the quick brown fox jumps over the lazy dog\n", i }' |
	    msg "$TMP/big.eml" "big test"
	awk 'BEGIN { for (i = 1; i <= 200; i++) printf "X-Many: header %d\n", i }' \
	    >"$TMP/many.hdrs"
	printf 'Body under many headers.\n' | msg "$TMP/many.eml" "many headers" \
	    "$(cat "$TMP/many.hdrs")"
	printf 'Gr\303\274\303\237e aus K\303\266ln, caf\351 na\357ve.\nZweite Zeile \342\202\254.\n' |
	    msg "$TMP/8bit.eml" "$(printf 'Gr\303\274\303\237e 8-bit')" \
	    "$(printf 'X-Eight: na\303\257ve \351t\351')"
	# Replacement bodies: mixed LF and CRLF line ends and no line end at
	# the end (milters send all of these), and a large one with CRLF
	# line ends.
	printf 'new body from child 1\nsecond line\r\nno line end' \
	    >"$TMP/newbody.txt"
	awk 'BEGIN { for (i = 0; i < 4000; i++)
	    printf "replaced line %05d: lorem ipsum dolor sit amet\r\n", i }' \
	    >"$TMP/bigbody.txt"
	printf 'Message two.\n' | msg "$TMP/second.eml" "second message"
}

# --- Cases ----------------------------------------------------------------
# case_begin NAME: start a case; add children with kid, run the client
# with run_both, compare with compare and expect.
case_begin() {
	[ -n "${CASE:-}" ] && echo "# $CASE: $(($(date +%s%3N) - CASE_T0)) ms"
	CASE_T0=$(date +%s%3N)
	CASE=$1
	NKIDS=0
	DIRECT=
	CASE_PIDS=
	SOCKS=
	: >"$TMP/$CASE.conf"
}

# kid ARGS...: the next child, a tmilter with ARGS, one per mode (started
# here, waited for in run_both).
kid() {
	NKIDS=$((NKIDS + 1))
	_o=
	if [ -n "$E2E_REUSE" ]; then
		_o=-O
		for _a; do
			case $_a in -k|-N|-L) _o= ;; esac
		done
	fi
	for _m in d m; do
		bg "$CASE-$_m$NKIDS" "$BUILD/tmilter" \
		    -p "unix:$TMP/$CASE-$_m$NKIDS.sock" \
		    -l "$TMP/$CASE-$_m$NKIDS.log" $_o "$@"
		CASE_PIDS="$CASE_PIDS $BG_PID"
		SOCKS="$SOCKS $TMP/$CASE-$_m$NKIDS.sock"
	done
	DIRECT="$DIRECT unix:$TMP/$CASE-d$NKIDS.sock"
	child "$CASE-m$NKIDS" $E2E_REUSE >>"$TMP/$CASE.conf"
}

run_both() {
	e2e_milterd
	CASE_PIDS="$CASE_PIDS $MD_PID"
	# The MTA (Postfix's smtpd runs as postfix) must be able to connect.
	for _s in $SOCKS; do
		if wait_for 10 test -S "$_s"; then
			chmod 666 "$_s"
		else
			fail "$CASE-child-start" "no socket $_s"
			cat "${_s%.sock}.err"
		fi
	done
	e2e_mta_conf || fail "$CASE-mta-conf"
	for MODE in d m; do
		[ "$MODE" = m ] && [ -n "$E2E_REUSE" ] && reuse_prime "$@"
		e2e_mode
		"$@" >"$TMP/$CASE.$MODE.raw" 2>&1
		collect
	done
	case_end
}

# reuse_prime CLIENT...: MILTERD_TEST_REUSE: CLIENT once in mode m, its
# outputs dropped (its delivered mail marked seen, held mail deleted by
# collect) and the children's logs emptied, so that the recorded run
# starts on the connections it left in milterd's pool.
reuse_prime() {
	e2e_mode
	"$@" >"$TMP/$CASE.$MODE.raw" 2>&1
	collect
	_k=1
	while [ "$_k" -le "$NKIDS" ]; do
		: >"$TMP/$CASE-m$_k.log"
		_k=$((_k + 1))
	done
}

# e2e_mode: PORT, the MTA's port for $MODE, and LOGOFF, where its log
# ends before the run.
e2e_mode() {
	case $MODE in
	d) PORT=$E2E_PORT_D ;;
	m) PORT=$E2E_PORT_M ;;
	esac
	LOGOFF=$(wc -c <"$E2E_MTA_LOG")
}

# sw ARGS...: swaks against $PORT.
sw() {
	swaks --server 127.0.0.1 --port "$PORT" --helo client.example \
	    --from alice@example.com --suppress-data --timeout 30 "$@" \
	    </dev/null
}

# run_to_bob [MSG [ARGS...]]: run_both with swaks sending $TMP/MSG.eml
# (default plain.eml) to bob@example.org, with more swaks ARGS.
run_to_bob() {
	_eml=$TMP/${1:-plain}.eml
	[ $# -eq 0 ] || shift
	run_both sw --to bob@example.org --data "@$_eml" "$@"
}

# two_msgs: two messages in one SMTP session to $PORT (swaks cannot).
two_msgs() {
	"$PF_PYTHON" "$T/tools/two-msgs.py" "$PORT" \
	    alice@example.com good@example.org,bad@example.org "$TMP/plain.eml" \
	    carol@example.com other@example.org "$TMP/second.eml"
}

# Stop the case's processes: milterd with SIGTERM (a clean exit, so that
# LeakSanitizer reports into its .err), the tmilters with SIGKILL.
case_end() {
	# MILTERD_TEST_REUSE: the sessions on kept connections, summed.
	[ -z "$E2E_REUSE" ] || "$BUILD/milterctl" -s "$TMP/md-$CASE.ctl" -j \
	    stats 2>/dev/null | /usr/bin/python3 -c 'import json, sys
print(sum(c["reused"] for c in json.load(sys.stdin)["children"]))' \
	    >>"$TMP/reused.tally" 2>/dev/null
	kill "$MD_PID" 2>/dev/null
	_pf_poll 20 _pf_dead "$MD_PID" ||
	    fail "$CASE-milterd-stop" "milterd does not exit on SIGTERM"
	for _p in $CASE_PIDS; do
		[ "$_p" = "$MD_PID" ] || kill -9 "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
}

# --- Collecting -----------------------------------------------------------
# collect: once the run has settled, each output W of E2E_OUTPUTS into
# $TMP/$CASE.$MODE.W, by e2e_W.
collect() {
	_pf_poll 20 e2e_settled ||
	    fail "$CASE-$MODE-settle" "queue or logs not settled"
	for _w in $E2E_OUTPUTS; do
		"e2e_$_w"
	done
}

# e2e_settled: the MTA's queue holds nothing but held mail
# (e2e_queue_settled), the sink has closed its files, and every child's
# log of $MODE ends with "close" (or is empty).
e2e_settled() {
	e2e_queue_settled || return 1
	# shellcheck disable=SC2012
	[ "$(ls "$PF_SINK_DIR" | wc -l)" -eq "$(pf_sink_files | wc -l)" ] ||
	    return 1
	_k=1
	while [ "$_k" -le "$NKIDS" ]; do
		_l=$TMP/$CASE-$MODE$_k.log
		[ ! -s "$_l" ] ||
		    [ "$(grep -v '^macro ' "$_l" | tail -n 1)" = close ] ||
		    return 1
		_k=$((_k + 1))
	done
}

# e2e_replies: the server's replies (swaks "<-", "<~", "<**" lines),
# queue ids, dates and E2E_REPLY_MASK masked.
e2e_replies() {
	grep -E '^<[-~*]' "$TMP/$CASE.$MODE.raw" |
	    sed -E "s/(queued as) [0-9A-Za-z]+/\\1 QID/; s/$DATE_RE/DATE/g
		$E2E_REPLY_MASK" >"$TMP/$CASE.$MODE.replies"
}

# e2e_sink: every new sink file, masked, in a stable order; each one
# also as CASE.MODE.msgN.
e2e_sink() {
	_o=$TMP/$CASE.$MODE
	pf_sink_files | grep -vxF -f "$TMP/seen" >"$_o.files"
	cat "$_o.files" >>"$TMP/seen"
	_n=0
	while IFS= read -r _f; do
		_n=$((_n + 1))
		norm_msg <"$_f" >"$_o.msg$_n"
		echo "$(cksum <"$_o.msg$_n" | tr ' ' _) $_o.msg$_n"
	done <"$_o.files" | sort | while read -r _sum _f; do
		echo "=== message"
		cat "$_f"
	done >"$_o.sink"
}

# e2e_view: what each child saw.
e2e_view() {
	_k=1
	while [ "$_k" -le "$NKIDS" ]; do
		echo "=== child $_k"
		norm_view <"$TMP/$CASE-$MODE$_k.log" | sed -E "$E2E_VIEW_MASK"
		_k=$((_k + 1))
	done >"$TMP/$CASE.$MODE.view"
}

# --- Masking --------------------------------------------------------------
DATE_RE='[A-Z][a-z]{2}, [ 0-9]?[0-9] [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} ([-+][0-9]{4}|GMT)( \([A-Z]+\))?'
# A delivered message: Received: ids and dates; DKIM-Signature unfolded
# with b= and t= masked (bh= stays: same body, same hash).
norm_msg() {
	awk '
		function flush() {
			if (dkim != "") {
				gsub(/[ \t]+/, " ", dkim)
				sub(/ t=[0-9]+;/, " t=T;", dkim)
				sub(/ b=[^;]*$/, " b=B", dkim)
				sub(/ b=[^;]*;/, " b=B;", dkim)
				print dkim
				dkim = ""
			}
		}
		inhdr && /^DKIM-Signature:/ { flush(); dkim = $0; next }
		inhdr && dkim != "" && /^[ \t]/ { dkim = dkim $0; next }
		{ flush() }
		/^$/ { inhdr = 0 }
		{ print }
		END { flush() }
	' inhdr=1 |
	    sed -E "s/$DATE_RE/DATE/g; s/(with E?SMTPS?A? id) [0-9A-Za-z]+/\\1 QID/"
}

# A child's log: the negotiate line (milterd and the MTA offer different
# steps) and the client port are left out, and so is a connection that
# never got a callback (milterd negotiates every child before the MTA's
# connect; Postfix contacts a milter only when its connect is due, so a
# milter after one that refused the connect never hears of the session).
norm_view() {
	sed -E '/^negotiate /d; s/^(connect .* port=)[0-9]+/\1X/' | awk '
		/^close$/ { if (open) print; open = 0; next }
		!/^macro / { open = 1 }
		{ print }'
}

# --- Comparisons ----------------------------------------------------------
# compare: the outputs of the two modes are identical.
compare() {
	for _w in $E2E_OUTPUTS; do
		if cmp -s "$TMP/$CASE.d.$_w" "$TMP/$CASE.m.$_w"; then
			ok "$CASE-$_w"
		else
			fail "$CASE-$_w" "direct (---) and milterd (+++) differ"
			diff -u "$TMP/$CASE.d.$_w" "$TMP/$CASE.m.$_w" |
			    head -n 40 | sed 's/^/    | /'
		fi
	done
}

# expect WHAT PATTERN [DESC]: PATTERN (ERE) is in both modes' WHAT (so a
# case cannot pass by failing the same way twice); "!PATTERN": in neither.
expect() {
	_w=$1
	_p=$2
	_neg=
	case $_p in !*) _neg=1 _p=${_p#!} ;; esac
	for _m in d m; do
		if grep -Eq -- "$_p" "$TMP/$CASE.$_m.$_w"; then _r=1; else _r=; fi
		if [ "$_r" != "$_neg" ]; then
			ok "$CASE-$_m-${3:-$_w}"
		else
			fail "$CASE-$_m-${3:-$_w}" "${_neg:+unexpected }/$_p/ in $CASE.$_m.$_w"
			tail -n 15 "$TMP/$CASE.$_m.$_w" | sed 's/^/    | /'
		fi
	done
}

# expect_kid K PATTERN DESC: like expect, on child K's log.
expect_kid() {
	for _m in d m; do
		cp "$TMP/$CASE-$_m$1.log" "$TMP/$CASE.$_m.kid$1"
	done
	expect "kid$1" "$2" "$3"
}

# compat_case RE...: a milter's macros_compat.  One child, which logs
# some macros, with macros_compat on behind milterd: replies and the
# delivered message are the same as directly; each RE (an ERE on the
# child's log) is in what it saw behind milterd and not directly (what
# the other MTA would have sent).
compat_case() {
	case_begin compat
	kid -M '{if_addr}' -M '{daemon_addr}' -M v -h 'X-C1: one'
	sed -i '$ s/ }$/ macros_compat = true }/' "$TMP/$CASE.conf"
	_outs=$E2E_OUTPUTS
	E2E_OUTPUTS="replies sink"
	run_to_bob
	compare
	E2E_OUTPUTS=$_outs
	for _re in "$@"; do
		if grep -Eq -- "$_re" "$TMP/$CASE-m1.log" &&
		    ! grep -Eq -- "$_re" "$TMP/$CASE-d1.log"; then
			ok "compat $_re"
		else
			fail "compat $_re" "not behind milterd only"
			grep '^macro' "$TMP/$CASE-d1.log" | sort -u | sed 's/^/    | d: /'
			grep '^macro' "$TMP/$CASE-m1.log" | sort -u | sed 's/^/    | m: /'
		fi
	done
}

# e2e_end FILE...: the last case's time and the whole run's (since T0);
# with E2E_KEEP=DIR, a copy of the outputs, the logs and FILEs in DIR
# for a look after the run; finish.
e2e_end() {
	echo "# $CASE: $(($(date +%s%3N) - CASE_T0)) ms"
	echo "# $(($(date +%s) - T0)) s"
	if [ -n "$E2E_REUSE" ]; then
		_r=$(awk '{ n += $1 } END { print n + 0 }' "$TMP/reused.tally")
		if [ "$_r" -gt 0 ]; then
			ok "reuse: $_r sessions on kept connections"
		else
			fail "reuse: no session took a kept connection"
		fi
	fi
	[ -n "${E2E_KEEP:-}" ] && mkdir -p "$E2E_KEEP" &&
	    cp "$TMP"/*.raw "$TMP"/*.replies "$TMP"/*.sink "$TMP"/*.hold \
	    "$TMP"/*.view "$TMP"/*.log "$TMP"/*.err "$TMP"/*.conf \
	    "$@" "$E2E_KEEP/"
	finish
}
