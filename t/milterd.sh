#!/bin/sh
# milterd with real child milters (t/milters/tmilter.c on Debian's
# libmilter), driven by mtasim: the MTA chain's semantics, message
# replay with earlier children's edits, failures and fallbacks,
# evaluation mode, parallel dispatch, configuration check.
. "$(dirname "$0")/lib/test.sh"

MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\n\nline 1\nline 2\n' >"$MSG"
printf 'new body from a\n' >"$TMP/newbody.txt"

# Configuration check.
printf 'milter "x" { socket = "tcp:1" }\n' >"$TMP/bad.conf"
conf_bad check "$TMP/bad.conf"
grep_ok check-line "bad.conf:1: socket \"tcp:1\": unknown socket type" "$TMP/check.out"
printf 'milter "x" { socket = "unix:/x" }\n' >"$TMP/good.conf"
check check-ok "$BUILD/milterd" -n -f "$TMP/good.conf"
# Comments of each kind do not move the lines named, and every error
# comes in the one run, in the file's order.
cat >"$TMP/lines.conf" <<'EOF'
# c1
# c2
// c3
listen = "inet:10025@127.0.0.1" # at the end
/* a block
   of three lines */
fallbak = "accept"
milter "x" { # opening
	# inside
	socket = "tcp:1"
	eom_timeout = soon
}
# after
workers = -1
EOF
conf_bad lines "$TMP/lines.conf"
cat >"$TMP/lines.want" <<EOF
$TMP/lines.conf:7: no such option 'fallbak'
$TMP/lines.conf:10: socket "tcp:1": unknown socket type (unix:, local:, inet:, inet6:)
$TMP/lines.conf:11: eom_timeout "soon": expected a number
$TMP/lines.conf:14: workers -1: out of range
$TMP/lines.conf: configuration has errors
EOF
check lines-all-errors cmp "$TMP/lines.want" "$TMP/lines.out"
# The shipped sample, comments and all: an error on its fallback line
# (the issue saw line 34 reported as 76) and one after its last line
# are named where they are.
SAMPLE=$T/../etc/milterd.conf
fb=$(grep -n '^fallback = ' "$SAMPLE" | cut -d: -f1)
sed "${fb}s/^fallback = .*/fallback = \"acept\"/" "$SAMPLE" >"$TMP/sample.conf"
echo 'bogus_key = 1' >>"$TMP/sample.conf"
last=$(wc -l <"$TMP/sample.conf")
conf_bad sample-lines "$TMP/sample.conf"
grep_ok sample-line-fallback \
    "^$TMP/sample.conf:$fb: fallback \"acept\"" "$TMP/sample-lines.out"
grep_ok sample-line-last \
    "^$TMP/sample.conf:$last: no such option 'bogus_key'" \
    "$TMP/sample-lines.out"
# A file that cannot be read: why.
conf_bad unreadable "$TMP"
grep_ok unreadable-why "^$TMP: cannot read the configuration: Is a directory\$" "$TMP/unreadable.out"

# Two children: a rejects one recipient, adds a header, replaces the
# body; b must see a's header and body, and not the rejected recipient.
tmilter a -R bad@example.com -h 'X-A: one' -b "$TMP/newbody.txt"
tmilter b -h 'X-B: two' -c 'Subject:1:changed by b'
milterd_start chain "$(child a)" "$(child b)"
mtasim_run chain -s "unix:$TMP/md-chain.sock" -r good@example.com \
    -r bad@example.com -o "$TMP/chain.eml" "$MSG"
rc_is chain 0
grep_ok chain-rcpt-text 'rcpt <bad@example.com>: replycode 550 5.7.1 recipient bad@example.com refused by tmilter' "$TMP/chain.out"
grep_ok chain-b-good-rcpt 'rcpt <good@example.com>' "$TMP/b.log"
no_grep chain-b-no-bad-rcpt 'rcpt <bad' "$TMP/b.log"
grep_ok chain-b-sees-a-header '^header X-A: one' "$TMP/b.log"
grep_ok chain-b-sees-a-body '^body 17 bytes' "$TMP/b.log"
tr -d '\r' <"$TMP/chain.eml" >"$TMP/chain.txt"
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: changed by b\nX-A: one\nX-B: two\n\nnew body from a\n' >"$TMP/want.txt"
check chain-message cmp "$TMP/chain.txt" "$TMP/want.txt"
grep_ok chain-session-line 'session=[0-9]+\.[0-9]+ client=client.example\[192.0.2.1\] children=a,b child.a=accept:[0-9.]+ child.b=accept:[0-9.]+ verdict=accept@eom end="quit" time=[0-9.]+ queue_id=4MTASIM0001$' "$TMP/md-chain.err"

# The session line as the MTA's log can be matched to it: a client the
# MTA has no name for ("[ADDR]" as its name) as Postfix logs it,
# unknown[ADDR], and Sendmail's "[IPv6:ADDR]" too; each message's queue
# id (macro i), in order.
tmilter q
milterd_start qid "$(child q)"
mtasim_run qid -s "unix:$TMP/md-qid.sock" -N '[192.0.2.9]' -a 192.0.2.9 \
    -M 2 -r good@example.com "$MSG"
rc_is qid 0
mtasim_run qid6 -s "unix:$TMP/md-qid.sock" -N '[IPv6:2001:db8::9]' \
    -a 2001:db8::9 -r good@example.com "$MSG"
rc_is qid6 0
wait_for 10 sh -c "[ \$(grep -c 'session=.*queue_id=' '$TMP/md-qid.err') -ge 2 ]"
grep_ok qid-client-unknown 'session=[0-9.]+ client=unknown\[192\.0\.2\.9\] children=q ' "$TMP/md-qid.err"
grep_ok qid-two-messages ' verdict=accept@eom end="quit" time=[0-9.]+ queue_id=4MTASIM0001,4MTASIM0002$' "$TMP/md-qid.err"
grep_ok qid-client-unknown-v6 'session=[0-9.]+ client=unknown\[2001:db8::9\] children=q ' "$TMP/md-qid.err"

# The first refusal decides; later children never see the command.
tmilter tf -T mail
tmilter after -h 'X-After: 1'
milterd_start first "$(child tf)" "$(child after)"
mtasim_run first -s "unix:$TMP/md-first.sock"
rc_is first 2
grep_ok first-text 'mail <sender@example.com>: replycode 451 4.7.1 tempfail at mail by tmilter' "$TMP/first.out"
grep_ok first-after-connected '^helo ' "$TMP/after.log"
no_grep first-after-no-mail '^mail' "$TMP/after.log"

# A large body goes to the spool file and arrives whole.
awk 'BEGIN { for (i = 0; i < 5000; i++) printf "line %06d of a large body\n", i }' >"$TMP/big.body"
{ printf 'Subject: big\n\n'; cat "$TMP/big.body"; } >"$TMP/big.eml"
tmilter big
milterd_start spool "body_memory_limit = 4096" "$(child big)"
mtasim_run spool -s "unix:$TMP/md-spool.sock" "$TMP/big.eml"
rc_is spool 0
total=$(awk '$1 == "body" { n += $2 } END { print n }' "$TMP/big.log")
want=$(($(wc -c <"$TMP/big.body") + 5000))
check spool-body-whole test "$total" -eq "$want"

# A large replaced body streams to the MTA whole.
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "replaced line %06d\r\n", i }' >"$TMP/bigrepl.txt"
tmilter bigrepl -b "$TMP/bigrepl.txt"
milterd_start bigrepl "$(child bigrepl)"
mtasim_run bigrepl -s "unix:$TMP/md-bigrepl.sock" -o "$TMP/bigrepl.eml"
rc_is bigrepl 0
grep_ok bigrepl-size "replace body: $(wc -c <"$TMP/bigrepl.txt") bytes" "$TMP/bigrepl.out"
sed '1,/^\r$/d' "$TMP/bigrepl.eml" >"$TMP/bigrepl.body"
check bigrepl-body cmp "$TMP/bigrepl.body" "$TMP/bigrepl.txt"

# A child that answers no header or body piece and reads slowly: the
# replay waits for it to drain (more than milterd queues at once) and
# goes on to the end of the message, whose edits are taken.
bg slow-reader /usr/bin/python3 "$T/milters/slowmilter.py" "$TMP/slowread.sock"
wait_for 10 test -S "$TMP/slowread.sock" || fail "slowmilter did not start"
{ printf 'Subject: big\r\n\r\n'
  awk 'BEGIN { for (i = 0; i < 100000; i++) printf "body line %030d\r\n", i }'
} >"$TMP/slowread-in.eml"
milterd_start slowread "$(child slowread)"
mtasim_run slowread -s "unix:$TMP/md-slowread.sock" -o "$TMP/slowread.eml" \
    "$TMP/slowread-in.eml"
rc_is slowread 0
grep_ok slowread-all-replayed '^X-Slow-Body: 4[0-9]{6}' "$TMP/slowread.eml"

# Failures: a child that is down, one that times out, one that crashes.
milterd_start down "$(child nothere fallback=\"accept\")" "$(child after)"
mtasim_run down -s "unix:$TMP/md-down.sock" -o "$TMP/down.eml"
rc_is down 0
check down-others-still-work grep -q '^X-After: 1' "$TMP/down.eml"
grep_ok down-logged 'child nothere: connect unix:.*; fallback accept' "$TMP/md-down.err"

# Permission denied on a child's socket: the line names the workers'
# user, the socket's group and mode, and what to change; or, when a
# directory above it is closed to them, says that.
tmilter perm
chgrp root "$TMP/perm.sock"
chmod 0660 "$TMP/perm.sock"
mkdir -m 0700 "$TMP/closed"
bg permdir "$BUILD/tmilter" -p "unix:$TMP/closed/permdir.sock" -l "$TMP/permdir.log"
wait_for 10 test -S "$TMP/closed/permdir.sock" || fail "tmilter permdir did not start"
milterd_start perm "$(child perm fallback=\"accept\")" \
    "milter \"permdir\" { socket = \"unix:$TMP/closed/permdir.sock\" fallback = \"accept\" }"
mtasim_run perm -s "unix:$TMP/md-perm.sock"
rc_is perm 0
wait_for 10 grep -q 'child permdir: connect' "$TMP/md-perm.err"
grep_ok perm-hint "child perm: connect unix:$TMP/perm\.sock: Permission denied \(the workers run as _milterd, and the socket is group root, mode 0660: add _milterd to group root, then restart milterd, or give the socket's group write permission\); fallback accept" "$TMP/md-perm.err"
grep_ok perm-dir-hint "child permdir: connect unix:$TMP/closed/permdir\.sock: Permission denied \(the workers run as _milterd, and cannot look into a directory above the socket: let _milterd search it\); fallback accept" "$TMP/md-perm.err"

milterd_start downtf "$(child nothere fallback=\"tempfail\")"
mtasim_run downtf -s "unix:$TMP/md-downtf.sock"
rc_is downtf 2

# The other fallbacks: discard, shutdown (421: tempfail for mtasim),
# quarantine (the message accepted and held, saying why), the session's
# own quarantine when every child failed.
milterd_start downdis "$(child nothere fallback=\"discard\")"
mtasim_run downdis -s "unix:$TMP/md-downdis.sock"
rc_is downdis 3
milterd_start downsd "$(child nothere fallback=\"shutdown\")"
mtasim_run downsd -s "unix:$TMP/md-downsd.sock"
rc_is downsd 2
grep_ok downsd-421 'connect: shutdown' "$TMP/downsd.out"
milterd_start downq "$(child nothere fallback=\"quarantine\")" "$(child after)"
mtasim_run downq -s "unix:$TMP/md-downq.sock"
rc_is downq 0
grep_ok downq-held 'quarantine: milterd: child nothere failed \(fallback quarantine\)' \
    "$TMP/downq.out"
wait_for 10 grep -q 'verdict=quarantine@eom' "$TMP/md-downq.err"
grep_ok downq-verdict 'child.nothere=failed:.* verdict=quarantine@eom' \
    "$TMP/md-downq.err"
milterd_start downqs "$(child nothere fallback=\"accept\")" \
    "fallback = \"quarantine\""
mtasim_run downqs -s "unix:$TMP/md-downqs.sock"
rc_is downqs 0
grep_ok downqs-held 'quarantine: milterd: no child could filter it' \
    "$TMP/downqs.out"

tmilter slow -S eom:5000
milterd_start slow "$(child slow fallback=\"reject\" eom_timeout=1)"
mtasim_run slow -s "unix:$TMP/md-slow.sock"
rc_is slow 1
grep_ok slow-logged 'child slow: eom: timeout; fallback reject' "$TMP/md-slow.err"

tmilter crash -X rcpt
milterd_start crash "$(child crash fallback=\"tempfail\")" "$(child after)"
mtasim_run crash -s "unix:$TMP/md-crash.sock"
rc_is crash 2
grep_ok crash-text 'rcpt <recipient@example.com>: tempfail' "$TMP/crash.out"
grep_ok crash-logged 'child crash: rcpt: connection closed by the milter; fallback tempfail' "$TMP/md-crash.err"

# A child that breaks the protocol: its fallback, one log line naming
# child, stage and fault, and the others still count.
for f in garbage:rcpt illegal:mail biglen:eom partial:helo close:data \
    silent:header silent:optneg; do
	kind=${f%:*}
	stage=${f#*:}
	[ "$stage" = optneg ] && { kind=neg; stage=negotiation; }
	badmilter "bad-$kind" "${f%:*}" "${f#*:}"
	milterd_start "bad-$kind" \
	    "$(child "bad-$kind" fallback=\"tempfail\" command_timeout=1 \
	    connect_timeout=1)" \
	    "$(child after)"
	mtasim_run "bad-$kind" -s "unix:$TMP/md-bad-$kind.sock"
	rc_is "bad-$kind" 2
	grep_ok "bad-$kind-logged" \
	    "child bad-$kind: $stage: .*; fallback tempfail" \
	    "$TMP/md-bad-$kind.err"
done
badmilter bad-accept garbage rcpt
milterd_start bad-accept "$(child bad-accept fallback=\"accept\")" \
    "$(child after)"
mtasim_run bad-accept -s "unix:$TMP/md-bad-accept.sock" -o "$TMP/bad-accept.eml"
rc_is bad-accept 0
check bad-accept-others-count grep -q '^X-After: 1' "$TMP/bad-accept.eml"

# Edits the copy cannot take (a body replaced in two runs): the child's
# fallback answers this end of message and the chain goes on.
printf 'one\n' >"$TMP/b1"
printf 'two\n' >"$TMP/b2"
tmilter split -b "$TMP/b1" -h 'X-Split: 1' -b "$TMP/b2"
tmilter aftersplit -h 'X-After-Split: 1'
milterd_start split "$(child split fallback=\"accept\")" "$(child aftersplit)"
mtasim_run split -t 10 -s "unix:$TMP/md-split.sock" -o "$TMP/split.eml"
rc_is split 0
grep_ok split-logged 'child split: eom: body replacement not in one run; fallback accept' "$TMP/md-split.err"
check split-next-child-ran grep -q '^X-After-Split: 1' "$TMP/split.eml"
no_grep split-edits-dropped '^X-Split' "$TMP/split.eml"

# A child that fails after it answered: its answer stands for this
# command, its fallback answers the next one.
badmilter answered answered rcpt
tmilter slowrcpt -S rcpt:300
milterd_start answered "$(child answered fallback=\"reject\")" "$(child slowrcpt)"
mtasim_run answered -s "unix:$TMP/md-answered.sock" -r one@example.com -r two@example.com
rc_is answered 0
grep_ok answered-stands '^rcpt <one@example.com>: continue' "$TMP/answered.out"
grep_ok answered-fallback-next '^rcpt <two@example.com>: reject' "$TMP/answered.out"

# After K, a child that is down does not let the others be skipped.
: >"$TMP/after.log"
milterd_start kdown "$(child nothere fallback=\"accept\")" "$(child after)"
mtasim_run kdown -s "unix:$TMP/md-kdown.sock" -K 2
rc_is kdown 0
check kdown-connects test "$(grep -c '^connect ' "$TMP/after.log")" -eq 2
check kdown-helos test "$(grep -c '^helo ' "$TMP/after.log")" -eq 2

# No child left: the global fallback (accept by default), once the
# children's own fallbacks (tempfail by default) passed them over.
milterd_start none 'fallback = "reject"' "$(child nothere fallback=\"accept\")" \
    "$(child nothere2 fallback=\"accept\")"
mtasim_run none -s "unix:$TMP/md-none.sock"
rc_is none 1
grep_ok none-text '^connect: reject' "$TMP/none.out"
milterd_start noneacc "$(child nothere fallback=\"accept\")"
mtasim_run noneacc -s "unix:$TMP/md-noneacc.sock"
rc_is noneacc 0
grep_ok noneacc-text '^connect: accept' "$TMP/noneacc.out"

# Evaluation: the verdict is logged, the mail goes through unchanged.
tmilter evrej -J eom -h 'X-Eval: 1'
milterd_start eval "$(child evrej evaluation=true)"
mtasim_run eval -s "unix:$TMP/md-eval.sock" -o "$TMP/eval.eml"
rc_is eval 0
grep_ok eval-delivered '^Subject: mtasim test message' "$TMP/eval.eml"
no_grep eval-no-edit X-Eval "$TMP/eval.eml"
grep_ok eval-logged 'child evrej \(evaluation\): eom replycode 550 5.7.1 rejected at eom by tmilter' "$TMP/md-eval.err"
# An evaluated child that accepts with edits: they never reach the mail
# either (a rejecting child's edits are not taken anyway).
tmilter evacc -A eom -h 'X-Eval-Acc: 1' -c 'Subject:1:changed in evaluation'
milterd_start evacc "$(child evacc evaluation=true)"
mtasim_run evacc -s "unix:$TMP/md-evacc.sock" -o "$TMP/evacc.eml"
rc_is evacc 0
grep_ok evacc-child-edited '^eom' "$TMP/evacc.log"
grep_ok evacc-delivered '^Subject: mtasim test message' "$TMP/evacc.eml"
no_grep evacc-no-header X-Eval-Acc "$TMP/evacc.eml"
grep_ok evacc-counted 'child\.evacc=eval-accept:' "$TMP/md-evacc.err"

# Evaluation of a child that accepts with modifications: the log line
# names what was dropped (header names, never values; the body's size;
# recipients; sender), and the message goes through unchanged.
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\nX-Old: 1\n\nline 1\n' >"$TMP/evmsg.eml"
printf 'replaced body\n' >"$TMP/evbody.txt"
tmilter evedit -h 'X-Eval: secret value' -i '0:X-Top: first' \
    -c 'Subject:1:changed' -c 'X-Old:1:' -b "$TMP/evbody.txt" \
    -a '<new@example.com>' -d '<b@example.com>' -f '<from@example.com>'
milterd_start evedit "$(child evedit evaluation=true)"
mtasim_run evedit -s "unix:$TMP/md-evedit.sock" -r b@example.com \
    -o "$TMP/evedit.eml" "$TMP/evmsg.eml"
rc_is evedit 0
tr -d '\r' <"$TMP/evedit.eml" >"$TMP/evedit.txt"
check evedit-unchanged cmp "$TMP/evedit.txt" "$TMP/evmsg.eml"
wait_for 10 grep -q 'modifications dropped' "$TMP/md-evedit.err"
grep -F 'child evedit (evaluation): modifications dropped: ' \
    "$TMP/md-evedit.err" >"$TMP/evedit.line"
for what in 'header X-Eval added' 'header X-Top inserted at 0' \
    'header Subject\[1\] changed' 'header X-Old\[1\] deleted' \
    'body replaced \(14 bytes\)' 'recipient <new@example\.com> added' \
    'recipient <b@example\.com> deleted' \
    'sender changed to <from@example\.com>'; do
	grep_ok "evedit-dropped $what" "modifications dropped: (.*, )?$what(,|\$)" \
	    "$TMP/evedit.line"
done
no_grep evedit-no-values 'secret value|bytes of modifications' "$TMP/evedit.line"

# Parallel dispatch: every child sees the command, order still decides.
tmilter p1 -R bad@example.com
tmilter p2 -T rcpt
milterd_start par 'dispatch = "parallel"' "$(child p1)" "$(child p2)"
mtasim_run par -s "unix:$TMP/md-par.sock" -r bad@example.com
rc_is par 1
grep_ok par-first-decides 'rcpt <bad@example.com>: replycode 550 5.7.1' "$TMP/par.out"
grep_ok par-both-saw 'rcpt <bad@example.com>' "$TMP/p2.log"

# Leading space: a child with HDR_LEADSPC and one without.
tmilter ls1 -N -h 'X-L1: one'
tmilter ls2 -h 'X-L2: two'
milterd_start lead "$(child ls1)" "$(child ls2)"
mtasim_run lead -s "unix:$TMP/md-lead.sock" -o "$TMP/lead.eml" "$MSG"
rc_is lead 0
grep_ok lead-ls1-raw '^header Subject:  hi$' "$TMP/ls1.log"
grep_ok lead-ls2-trimmed '^header Subject: hi$' "$TMP/ls2.log"
grep_ok lead-ls2-sees-ls1 '^header X-L1: one$' "$TMP/ls2.log"
check lead-message sh -c "grep -q '^X-L1: one' '$TMP/lead.eml' && grep -q '^X-L2: two' '$TMP/lead.eml'"

# Several messages per connection, and quit-new-connection: the
# children's sessions restart cleanly.
: >"$TMP/b.log"
mtasim_run multi -s "unix:$TMP/md-chain.sock" -r good@example.com -M 3 -K 2 "$MSG"
rc_is multi 0
check multi-results test "$(grep -c '^result: accept' "$TMP/multi.out")" -eq 6
check multi-b-connects test "$(grep -c '^connect ' "$TMP/b.log")" -eq 2
check multi-b-eoms test "$(grep -c '^eom' "$TMP/b.log")" -eq 6
check multi-b-one-subject-each test "$(grep -c '^header Subject' "$TMP/b.log")" -eq 6

# Load through milterd: nothing lost.
mtasim_run load -s "unix:$TMP/md-chain.sock" -r good@example.com -n 300 -c 10 "$MSG"
rc_is load 0
grep_ok load-results '^results: accept 300 reject 0 tempfail 0 discard 0 error 0' "$TMP/load.out"

# Progress: while a child works on the end of the message, the MTA is
# kept waiting with progress packets.
tmilter slowprog -S eom:2500
milterd_start prog 'progress_interval = 1' "$(child slowprog)"
mtasim_run prog -v -t 2 -s "unix:$TMP/md-prog.sock"
rc_is prog 0
grep_ok prog-progress '^  progress$' "$TMP/prog.out"

# Listening sockets: inet in both spellings, inet6, unix with mode and
# group; a stale unix socket is replaced, one in use refused.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
milterd_start inet "listen = { \"inet:$port@127.0.0.1\", \"unix:$TMP/grp.sock\" }" \
    'socket_mode = "0640"' 'socket_group = "mail"' "$(child after)"
wait_for 10 test -S "$TMP/grp.sock"
mtasim_run inet -s "inet:127.0.0.1:$port"
rc_is inet 0
check unix-mode test "$(stat -c %a "$TMP/grp.sock")" = 640
check unix-group test "$(stat -c %G "$TMP/grp.sock")" = mail
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	port6=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])')
	milterd_start inet6 "listen = \"inet6:$port6@[::1]\"" "$(child after)"
	mtasim_run inet6 -s "inet6:[::1]:$port6"
	rc_is inet6 0
else
	echo "# no IPv6 loopback here: inet6 listener not tested"
fi
python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.bind('$TMP/md-stale.sock')"
check stale-is-socket test -S "$TMP/md-stale.sock"
milterd_start stale "$(child after)"
mtasim_run stale -s "unix:$TMP/md-stale.sock"
rc_is stale 0
sed "s|md-stale.pid|md-stale2.pid|" "$TMP/md-stale.conf" >"$TMP/md-stale2.conf"
"$BUILD/milterd" -d -f "$TMP/md-stale2.conf" >"$TMP/stale2.out" 2>&1
RC=$?
rc_is stale2 1
grep_ok stale-in-use 'md-stale.sock is in use' "$TMP/stale2.out"

# Stop: the socket and the pid file go.
pid=$(cat "$TMP/md-chain.pid")
kill "$pid"
wait_for 20 sh -c "! kill -0 $pid 2>/dev/null"
check stop-socket-removed test ! -e "$TMP/md-chain.sock"
check stop-pidfile-removed test ! -e "$TMP/md-chain.pid"

finish
