#!/bin/sh
# A shadow trial with Postfix end to end (issue 20): the trial child
# sleeps 15 s at end of message and rejects everything; it is in
# shadow mode (evaluation = true, evaluation_wait = false) after a
# child that passes all.  N clients send at once: every message is
# delivered to the sink while the trial child still sleeps (polled
# deliveries, then: the child has every message and has answered none),
# and once it has answered, the counters say exactly N "would have
# rejected" against N accepted.  (t/shadow.sh covers the rest with
# mtasim.)
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
on_exit pf_stop

N=5
tmilter pass
# Not libmilter: its worker pool, held by the sleeping ends of message,
# would hold up the next sessions' negotiation too.
bg slow /usr/bin/python3 "$T/milters/slowmilter.py" "$TMP/slow.sock" 15000 \
    "$TMP/slow.log"
wait_for 10 test -S "$TMP/slow.sock" || fail slow-start "slowmilter.py"
milterd_start pf 'socket_mode = "0666"' "workers = 2" "$(child pass)" \
    "$(child slow evaluation=true evaluation_wait=false eom_timeout=60)"
wait_for 10 test -S "$TMP/md-pf.ctl" || bail pf-ctl "no control socket"

pf_init "$TMP/pf" || bail postfix-init "pf_init failed"
pf_milters "unix:$TMP/md-pf.sock" || bail postfix-milters "pf_milters failed"
pf_start || bail postfix-start "pf_start failed"

eoms() {
	test "$(grep -c '^eom' "$TMP/slow.log" 2>/dev/null)" -eq "$1"
}

i=0
while [ $i -lt $N ]; do
	i=$((i + 1))
	bg "swaks-$i" swaks --server 127.0.0.1 --port "$PF_SMTP_PORT" \
	    --from alice@example.com --to "bob$i@example.org" \
	    --h-Subject "trial $i"
done
if pf_wait_sink $N 12; then ok delivered; else fail delivered \
    "$(pf_sink_files | wc -l) of $N in the sink"; fi
# Delivered, and the trial child has them all and has answered none.
check all-at-trial wait_for 10 eoms $N
check none-answered trial_is pf slow reject accept 0
check queued test "$(cat "$TMP"/swaks-*.err | grep -c ' Ok: queued')" -eq $N
# Then its verdicts: exactly N would have rejected, the messages accepted.
check would-reject wait_for 40 trial_is pf slow reject accept $N
check nothing-else trial_is pf slow accept accept 0
check none-cut test "$(child_stat pf slow trial_cut)" -eq 0
wait_for 10 sh -c "[ \$(grep -c 'trial=slow:reject' '$TMP/md-pf.err') -eq $N ]"
check log-lines test "$(grep -c 'verdict=accept@eom trial=slow:reject' \
    "$TMP/md-pf.err")" -eq $N
"$BUILD/milterctl" -s "$TMP/md-pf.ctl" stats >"$TMP/stats.txt"
grep_ok stats-text "^reject +$N +0 +0 +0 +0$" "$TMP/stats.txt"
finish
