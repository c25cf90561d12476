#!/bin/sh
# mtasim against real milters built on Debian's libmilter (t/milters/
# tmilter.c): verdicts and exit codes, every modification printed and
# applied, macros, protocol versions, load mode.
. "$(dirname "$0")/lib/test.sh"

MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\nX-Old: 1\nX-Old: 2\n\nline 1\nline 2\n' >"$MSG"
printf 'replaced body\n' >"$TMP/body.txt"

tmilter edit -h 'X-Added: yes' -i '0:X-Top: first' -c 'Subject:1:changed' \
    -c 'X-Old:2:' -b "$TMP/body.txt" -a '<new@example.com>' \
    -d '<b@example.com>' -f '<from@example.com>' -q 'held by test' \
    -M '{auth_authen}' -M i
mtasim_run edit -s "unix:$TMP/edit.sock" -f a@example.com -r b@example.com \
    -m '{auth_authen}=alice' -o "$TMP/edit.eml" "$MSG"
rc_is edit 0
grep_ok edit-add 'add header: X-Added: ?yes' "$TMP/edit.out"
grep_ok edit-insert 'insert header at 0: X-Top: ?first' "$TMP/edit.out"
grep_ok edit-change 'change header: Subject\[1\]: ?changed' "$TMP/edit.out"
grep_ok edit-delete 'delete header: X-Old\[2\]' "$TMP/edit.out"
grep_ok edit-body 'replace body: 15 bytes' "$TMP/edit.out"
grep_ok edit-addrcpt 'add recipient: <new@example.com>' "$TMP/edit.out"
grep_ok edit-delrcpt 'delete recipient: <b@example.com>' "$TMP/edit.out"
grep_ok edit-chgfrom 'change sender: <from@example.com>' "$TMP/edit.out"
grep_ok edit-quarantine 'quarantine: held by test' "$TMP/edit.out"
tr -d '\r' <"$TMP/edit.eml" >"$TMP/edit.txt"
printf 'X-Top: first\nFrom: <a@example.com>\nTo: <b@example.com>\nSubject: changed\nX-Old: 1\nX-Added: yes\n\nreplaced body\n' >"$TMP/want.txt"
check edit-message cmp "$TMP/edit.txt" "$TMP/want.txt"
grep_ok edit-macro-auth 'macro \{auth_authen\}=alice' "$TMP/edit.log"
grep_ok edit-macro-qid 'macro i=4MTASIM0001' "$TMP/edit.log"
grep_ok edit-header-seen 'header Subject: hi' "$TMP/edit.log"

tmilter rcpt -R bad@example.com
mtasim_run rcpt-one -s "unix:$TMP/rcpt.sock" -r ok@example.com -r bad@example.com
rc_is rcpt-one 0
grep_ok rcpt-one-text 'rcpt <bad@example.com>: replycode 550 5.7.1 recipient' "$TMP/rcpt-one.out"
mtasim_run rcpt-all -s "unix:$TMP/rcpt.sock" -r bad@example.com
rc_is rcpt-all 1

tmilter tf -T mail
mtasim_run tf -s "unix:$TMP/tf.sock"
rc_is tf 2
grep_ok tf-text 'mail <sender@example.com>: replycode 451 4.7.1' "$TMP/tf.out"

tmilter disc -D eom
mtasim_run disc -s "unix:$TMP/disc.sock"
rc_is disc 3

tmilter rej -J connect
mtasim_run rej -s "unix:$TMP/rej.sock"
rc_is rej 1
check rej-no-helo sh -c "! grep -q '^helo' '$TMP/rej.out'"

mtasim_run unreachable -s "unix:$TMP/nothing.sock"
rc_is unreachable 4
grep_ok unreachable-text 'error: connect unix:' "$TMP/unreachable.out"

tmilter slow -S eom:3000
mtasim_run timeout -t 1 -s "unix:$TMP/slow.sock"
rc_is timeout 4
grep_ok timeout-text 'timeout' "$TMP/timeout.out"

for v in 2 3 4; do
	mtasim_run "v$v" -P "$v" -s "unix:$TMP/edit.sock"
	rc_is "v$v" 0
	grep_ok "v$v-negotiated" "negotiate: version $v " "$TMP/v$v.out"
done
check v2-no-data sh -c "! grep -q '^data' '$TMP/v2.out'"

tmilter leadspc -N -h 'X-Spaced: yes'
mtasim_run leadspc -s "unix:$TMP/leadspc.sock" -o "$TMP/leadspc.eml" "$MSG"
rc_is leadspc 0
grep_ok leadspc-value 'header Subject:  ?hi' "$TMP/leadspc.log"
check leadspc-message grep -q '^X-Spaced: yes' "$TMP/leadspc.eml"

# Several messages per connection, several connections joined by K.
tmilter multi
mtasim_run multi -s "unix:$TMP/multi.sock" -M 3 -K 2
rc_is multi 0
check multi-results test "$(grep -c '^result: accept' "$TMP/multi.out")" -eq 6
check multi-quitnc test "$(grep -c '^quit-new-connection' "$TMP/multi.out")" -eq 1
check multi-milter-connects test "$(grep -c '^connect ' "$TMP/multi.log")" -eq 2
check multi-milter-eoms test "$(grep -c '^eom' "$TMP/multi.log")" -eq 6
mtasim_run multi-v2 -s "unix:$TMP/multi.sock" -P 2 -K 2
rc_is multi-v2 4
grep_ok multi-v2-text 'quit-new-connection needs protocol version 6' "$TMP/multi-v2.out"

mtasim_run load -s "unix:$TMP/rcpt.sock" -n 200 -c 8
rc_is load 0
grep_ok load-rate '^sessions/s: [0-9]' "$TMP/load.out"
grep_ok load-latency '^latency ms: p50 [0-9.]+ p90 [0-9.]+ p99 [0-9.]+' "$TMP/load.out"
grep_ok load-results '^results: accept 200 reject 0 tempfail 0 discard 0 error 0' "$TMP/load.out"

# Hold mode: 5 sessions open at once as far as DATA until stdin ends.
tmilter hold
mkfifo "$TMP/go"
"$BUILD/mtasim" -s "unix:$TMP/hold.sock" -n 5 -w <"$TMP/go" \
    >"$TMP/hold.out" 2>&1 &
hold_pid=$!
exec 3>"$TMP/go"
check hold-held wait_for 10 grep -q '^held: 5 of 5 sessions' "$TMP/hold.out"
check hold-data-seen test "$(grep -c '^data' "$TMP/hold.log")" -eq 5
check hold-no-eom-yet test "$(grep -c '^eom' "$TMP/hold.log")" -eq 0
exec 3>&-
wait "$hold_pid"
RC=$?
rc_is hold 0
grep_ok hold-results '^results: accept 5 reject 0 tempfail 0 discard 0 error 0' "$TMP/hold.out"
check hold-eoms test "$(grep -c '^eom' "$TMP/hold.log")" -eq 5
mtasim_run hold-usage -s "unix:$TMP/hold.sock" -w
grep_ok hold-usage "-w needs -n" "$TMP/hold-usage.out"

finish
