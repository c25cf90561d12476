#!/bin/sh
# Trials (issue 20) with mtasim: a shadow child (evaluation_wait =
# false) that sleeps at end of message and rejects is never waited for
# and its verdicts are counted against the messages'; the share of
# sessions evaluation_sample gives a child is the one sample_in()
# predicts from evaluation_seed and the session ids, and milterctl
# evaluate NAME PERCENT changes it; a shadow that crashes or sends
# garbage changes nothing; a modifying shadow's modifications are
# counted and never applied; past evaluation_memory_limit a trial is
# dropped and counted; a shadow does not get a recipient a filter
# before it refused; a worker full of sessions that linger for their
# shadows gives the oldest one's room to a new session.
# (t/shadow-postfix.sh: the same end to end.)
. "$(dirname "$0")/lib/test.sh"

PY=/usr/bin/python3
MSG=$TMP/msg.eml
printf 'From: <s@example.com>\nTo: <r@example.com>\nSubject: trial\n\nline 1\n' >"$MSG"
ctl() {
	_md=$1
	shift
	"$BUILD/milterctl" -s "$TMP/md-$_md.ctl" "$@"
}
# stat_is NAME CHILD KEY N (for wait_for)
stat_is() {
	test "$(child_stat "$1" "$2" "$3")" = "$4"
}

# 1. A slow rejecting shadow: every session answered accept while it
# still sleeps (15 s); then exactly N "would have rejected".
N=6
tmilter pass
# Not libmilter: its worker pool, held by the sleeping ends of message,
# would hold up the next sessions' negotiation too.
bg slow /usr/bin/python3 "$T/milters/slowmilter.py" "$TMP/slow.sock" 15000 \
    "$TMP/slow.log"
wait_for 10 test -S "$TMP/slow.sock" || fail slow-start "slowmilter.py"
MPORT=$(free_port)
milterd_start slow "metrics_listen = \"127.0.0.1:$MPORT\"" "$(child pass)" \
    "$(child slow evaluation=true evaluation_wait=false eom_timeout=30)"
wait_for 10 test -S "$TMP/md-slow.ctl"
start=$(date +%s)
mtasim_run slow-run -s "unix:$TMP/md-slow.sock" -n $N -c $N -M 1 \
    -r r@example.com "$MSG"
rc_is slow-run 0
end=$(date +%s)
if [ $((end - start)) -lt 10 ]; then ok slow-not-waited; else
	fail slow-not-waited "$N sessions took $((end - start)) s"; fi
# The shadow has all the messages and has not answered one yet.
wait_for 10 sh -c "[ \$(grep -c '^eom' '$TMP/slow.log') -eq $N ]"
check slow-all-eom test "$(grep -c '^eom' "$TMP/slow.log")" -eq $N
check slow-none-yet trial_is slow slow reject accept 0
# Their log lines wait for the shadow's verdicts.
no_grep slow-lines-wait 'session=.*verdict=' "$TMP/md-slow.err"
check slow-counted wait_for 40 trial_is slow slow reject accept $N
check slow-nothing-else trial_is slow slow accept accept 0
check slow-cut-none stat_is slow slow trial_cut 0
# Not an inline evaluation's verdict.
child_stat slow slow evaluation_verdicts >"$TMP/slow-eval.out"
grep_ok slow-eval-verdicts-none "'reject': 0," "$TMP/slow-eval.out"
wait_for 10 sh -c "[ \$(grep -c 'trial=slow:reject' '$TMP/md-slow.err') -eq $N ]"
grep_ok slow-logline 'children=pass,slow child\.pass=accept:[0-9.]+ child\.slow=shadow-reject:[0-9.]+ verdict=accept@eom trial=slow:reject end="quit"' "$TMP/md-slow.err"
ctl slow stats >"$TMP/slow-stats.txt"
grep_ok slow-text '^TRIAL slow: ' "$TMP/slow-stats.txt"
grep_ok slow-text-row "^reject +$N +0 +0 +0 +0$" "$TMP/slow-stats.txt"
check slow-metrics-get test "$(http_get "http://127.0.0.1:$MPORT/metrics" \
    "$TMP/metrics.txt")" = 200
grep_ok slow-metric "^milterd_trial_verdicts_total\\{child=\"slow\",trial=\"reject\",actual=\"accept\"\\} $N$" "$TMP/metrics.txt"
grep_ok slow-metric-latency "^milterd_trial_latency_seconds_count\\{child=\"slow\"\\} $N$" "$TMP/metrics.txt"
# "Would have refused" over time: the history and its graph.
ctl slow history 1 >"$TMP/slow-history.txt"
grep_ok slow-history "^c slow 0 0 0 0 0 0 $N$" "$TMP/slow-history.txt"
ctl slow graph -o "$TMP/slow.svg" --hours 1 >/dev/null 2>&1
grep_ok slow-graph '>would have refused</text>' "$TMP/slow.svg"

# 2. The share: 25 % of 200 sessions, seed 7, exactly those sample_in()
# names (FNV-1a of "SEED/ID", modulo 100, below the percent).
tmilter samp
milterd_start samp "evaluation_seed = 7" "$(child pass)" \
    "$(child samp evaluation=true evaluation_sample=25 evaluation_wait=false)"
wait_for 10 test -S "$TMP/md-samp.ctl"
mtasim_run samp-run -s "unix:$TMP/md-samp.sock" -n 200 -c 4 \
    -r r@example.com "$MSG"
rc_is samp-run 0
wait_for 20 sh -c "[ \$(grep -c 'session=.*end=' '$TMP/md-samp.err') -eq 200 ]"
cat >"$TMP/share.py" <<'EOF'
import re, sys
seed, pct, name = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def sample_in(sid):
    h = 2166136261
    for b in ("%d/%s" % (seed, sid)).encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h % 100 < pct
bad, n, took = [], 0, 0
for line in open(sys.argv[1]):
    m = re.search(r"session=(\S+) client=\S+ children=(\S+)", line)
    if not m:
        continue
    n += 1
    has = name in m.group(2).split(",")
    took += has
    if has != sample_in(m.group(1)):
        bad.append(m.group(1))
print(n, took, len(bad), " ".join(bad[:5]))
EOF
set -- $("$PY" "$TMP/share.py" "$TMP/md-samp.err" 7 25 samp)
check samp-sessions test "$1" -eq 200
check samp-predicted test "$3" -eq 0
check samp-count test "$(child_stat samp samp sessions)" -eq "$2"
# Some, not all: the share is a share.
check samp-share test "$2" -gt 20 -a "$2" -lt 80
# milterctl evaluate NAME PERCENT: 0 %, then 100 %, until a reload.
ctl samp evaluate samp 0 >"$TMP/ev0.out" 2>&1
RC=$?
rc_is ev0 0
grep_ok ev0-text 'evaluation on in 0 % of new sessions' "$TMP/ev0.out"
before=$(child_stat samp samp sessions)
mtasim_run samp-0 -s "unix:$TMP/md-samp.sock" -n 20 -c 2 -r r@example.com "$MSG"
check ev0-none test "$(child_stat samp samp sessions)" -eq "$before"
ctl samp evaluate samp 100 >/dev/null 2>&1
mtasim_run samp-100 -s "unix:$TMP/md-samp.sock" -n 20 -c 2 -r r@example.com "$MSG"
check ev100-all test "$(child_stat samp samp sessions)" -eq $((before + 20))
ctl samp evaluate samp 101 >"$TMP/ev101.out" 2>&1
RC=$?
rc_is ev101 1
grep_ok ev101-text 'PERCENT: 0 to 100' "$TMP/ev101.out"
"$BUILD/milterctl" -s "$TMP/md-samp.ctl" -j status >"$TMP/samp-status.json"
grep_ok ev-status '"evaluation_sample":100,"evaluation_wait":false' "$TMP/samp-status.json"

# 3. Shadows that crash or send garbage at end of message: every
# session accepted as without them, their trials cut and counted.
tmilter crash -X eom
badmilter garb garbage eom
milterd_start bad "$(child pass)" \
    "$(child crash evaluation=true evaluation_wait=false)" \
    "$(child garb evaluation=true evaluation_wait=false)"
wait_for 10 test -S "$TMP/md-bad.ctl"
for i in 1 2 3; do
	mtasim_run bad-$i -s "unix:$TMP/md-bad.sock" -r r@example.com "$MSG"
	rc_is bad-$i 0
	grep_ok bad-$i-accept 'accept|continue' "$TMP/bad-$i.out"
done
check bad-garb-cut wait_for 10 stat_is bad garb trial_cut 3
# libmilter's process is gone after the first crash: the next sessions
# find it down (connect) and have no trial to cut.
check bad-crash-cut wait_for 20 stat_is bad crash trial_cut 1
check bad-pass-fallbacks stat_is bad pass fallbacks 0
wait_for 10 sh -c "[ \$(grep -c 'session=.*end=' '$TMP/md-bad.err') -eq 3 ]"
check bad-lines test "$(grep -c 'verdict=accept@eom' "$TMP/md-bad.err")" -eq 3

# 4. A modifying shadow: nothing of it reaches the MTA; counted by kind.
printf 'new body\n' >"$TMP/newbody"
tmilter mod -h 'X-Trial: yes' -c 'Subject:1:changed' -b "$TMP/newbody" \
    -a 'extra@example.com' -d 'r@example.com'
milterd_start mod "$(child pass)" \
    "$(child mod evaluation=true evaluation_wait=false)"
wait_for 10 test -S "$TMP/md-mod.ctl"
mtasim_run mod-1 -s "unix:$TMP/md-mod.sock" -r r@example.com \
    -o "$TMP/mod.eml" "$MSG"
rc_is mod-1 0
tr -d '\r' <"$TMP/mod.eml" >"$TMP/mod.txt"
check mod-unchanged cmp "$MSG" "$TMP/mod.txt"
no_grep mod-no-edits 'X-Trial|addrcpt|delrcpt|replbody|chgheader|ADD|CHG' "$TMP/mod-1.out"
check mod-hdr-added wait_for 10 stat_is mod mod trial_headers_added 1
check mod-hdr-changed stat_is mod mod trial_headers_changed 1
check mod-body stat_is mod mod trial_bodies_replaced 1
check mod-rcpts stat_is mod mod trial_recipients_changed 2
check mod-verdict trial_is mod mod accept accept 1

# 5. Past evaluation_memory_limit: the trial is dropped, counted; the
# mail goes on.
head -c 20000 /dev/zero | tr '\0' 'x' | fold -w 70 >"$TMP/big.body"
{ printf 'Subject: big\n\n'; cat "$TMP/big.body"; } >"$TMP/big.eml"
tmilter small
milterd_start mem "evaluation_memory_limit = 4096" "$(child pass)" \
    "$(child small evaluation=true evaluation_wait=false)"
wait_for 10 test -S "$TMP/md-mem.ctl"
mtasim_run mem-1 -s "unix:$TMP/md-mem.sock" -r r@example.com "$TMP/big.eml"
rc_is mem-1 0
check mem-dropped stat_is mem small trial_dropped 1
grep_ok mem-log 'child small \(shadow\): more than evaluation_memory_limit \(4096 bytes\)' "$TMP/md-mem.err"
mtasim_run mem-2 -s "unix:$TMP/md-mem.sock" -r r@example.com "$MSG"
rc_is mem-2 0
check mem-small-ok wait_for 10 trial_is mem small accept accept 1

# Many sessions at once, the shadow's negotiation racing their ends of
# message: each message judged, none dropped (the default bound).
tmilter many
milterd_start many "$(child pass)" \
    "$(child many evaluation=true evaluation_wait=false)"
wait_for 10 test -S "$TMP/md-many.ctl"
mtasim_run many -s "unix:$TMP/md-many.sock" -n 300 -c 30 \
    -r r@example.com "$MSG"
rc_is many 0
check many-judged wait_for 30 trial_is many many accept accept 300
check many-none-dropped stat_is many many trial_dropped 0

# 6. Many messages in one session while the shadow is behind: its queue
# is written as it answers (and compacted), each message judged once.
tmilter behind -S eom:200 -J eom
milterd_start behind "$(child pass)" \
    "$(child behind evaluation=true evaluation_wait=false)"
wait_for 10 test -S "$TMP/md-behind.ctl"
mtasim_run behind-1 -s "unix:$TMP/md-behind.sock" -M 10 -r r@example.com \
    "$MSG"
rc_is behind-1 0
check behind-judged wait_for 30 trial_is behind behind reject accept 10
check behind-cut-none stat_is behind behind trial_cut 0
check behind-eoms test "$(grep -c '^eom' "$TMP/behind.log")" -eq 10

# A recipient a filter before the shadow refused is not the shadow's, as
# in the MTA's own chain; one the filter accepts is.
tmilter gate -R '<no@example.com>'
tmilter rcpts
milterd_start rcpts "$(child gate)" \
    "$(child rcpts evaluation=true evaluation_wait=false)"
wait_for 10 test -S "$TMP/md-rcpts.ctl"
mtasim_run rcpts -s "unix:$TMP/md-rcpts.sock" -r no@example.com \
    -r yes@example.com "$MSG"
rc_is rcpts 0
check rcpts-judged wait_for 10 trial_is rcpts rcpts accept accept 1
count_is rcpts-gate-both 2 '^rcpt ' "$TMP/gate.log"
count_is rcpts-shadow-one 1 '^rcpt <yes@example\.com>' "$TMP/rcpts.log"
count_is rcpts-shadow-not-refused 0 '^rcpt <no@example\.com>' "$TMP/rcpts.log"

# 7. A worker full of sessions that only linger for their shadow (which
# sleeps 30 s): each new session takes the oldest one's room, its trial
# cut and counted; mail never waits for a trial.  One worker,
# max_sessions 3, 10 sessions one after another: from the third on,
# each accept finds the worker full, so 8 are cut and 2 still linger.
bg full /usr/bin/python3 "$T/milters/slowmilter.py" "$TMP/full.sock" 30000 \
    "$TMP/full.log"
wait_for 10 test -S "$TMP/full.sock" || fail full-start "slowmilter.py"
milterd_start full "workers = 1" "max_sessions = 3" "$(child pass)" \
    "$(child full evaluation=true evaluation_wait=false eom_timeout=60)"
wait_for 10 test -S "$TMP/md-full.ctl"
start=$(date +%s)
mtasim_run full-run -s "unix:$TMP/md-full.sock" -n 10 -c 1 \
    -r r@example.com "$MSG"
rc_is full-run 0
end=$(date +%s)
if [ $((end - start)) -lt 20 ]; then ok full-not-waited; else
	fail full-not-waited "10 sessions took $((end - start)) s"; fi
grep_ok full-all-accepted '^results: accept 10 ' "$TMP/full-run.out"
check full-cut stat_is full full trial_cut 8
count_is full-cut-logged 8 'the worker needs its room \(max_sessions\): 1 trial cut' \
    "$TMP/md-full.err"
count_is full-lines 8 'session=.*child\.full=shadow-failed:[0-9.]+ verdict=accept@eom trial=full:failed' "$TMP/md-full.err"

finish
