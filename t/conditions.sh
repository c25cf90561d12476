#!/bin/sh
# Conditions: which child milters apply to which sessions and messages
# (network, authenticated, s25r, sender, macro), with real children
# (tmilter) driven by mtasim: a child kept out never hears of the
# connection or message, the session line and the counters say why,
# and milterd asks the MTA for the macros its conditions need.
. "$(dirname "$0")/lib/test.sh"

MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\n\nbody\n' >"$MSG"
printf 'admins@\n# a comment\n\n@vip.example\n' >"$TMP/vip.list"

# spam: only for remote clients with dynamic-looking names;
# sign: only for authenticated senders; vip: senders on a list;
# daemon: a macro condition; rej rejects every recipient but applies
# to remote clients only.
tmilter spam
tmilter sign
tmilter vip
tmilter daemon
tmilter rej -J rcpt
milterd_start cond \
    'condition "lan" { type = "network" networks = { "local", "198.51.100.0/24" } }' \
    'condition "dynamic" { type = "s25r" allow = { "^mail[.]" } }' \
    'condition "auth" { type = "authenticated" }' \
    "condition \"vip\" { type = \"sender\" list = { \"boss@example.com\" } file = \"$TMP/vip.list\" }" \
    'condition "smtpd" { type = "macro" macro = "{daemon_name}" regex = "^smtpd$" }' \
    "$(child spam 'conditions = { "!lan", "dynamic" }')" \
    "$(child sign 'conditions = { "auth" }')" \
    "$(child vip 'conditions = { "vip" }')" \
    "$(child daemon 'conditions = { "smtpd" }')" \
    "$(child rej 'conditions = { "!lan" }')"
S="unix:$TMP/md-cond.sock"

# connects NAME: how many connections child NAME has seen.
connects() {
	grep -c '^connect' "$TMP/$1.log" 2>/dev/null
	true
}

# mails NAME: how many messages child NAME has seen begin.
mails() {
	grep -c '^mail' "$TMP/$1.log" 2>/dev/null
	true
}

# 1. A local client with a static name, no AUTH, an ordinary sender:
# spam and rej are kept out of the connection (never contacted past
# negotiation), sign, vip and daemon out of the message (they see the
# connection, not MAIL): every child is out at MAIL, milterd accepts.
mtasim_run local -s "$S" -a 127.0.0.1 -N mail.example.com \
    -f someone@example.org -r x@example.com "$MSG"
rc_is local 0
grep_ok local-accept-mail '^mail <someone@example.org>: accept' "$TMP/local.out"
for k in spam rej; do
	check "local-$k-no-connect" test "$(connects $k)" -eq 0
done
for k in sign vip daemon; do
	check "local-$k-connect" test "$(connects $k)" -eq 1
	check "local-$k-no-mail" test "$(mails $k)" -eq 0
done
wait_for 10 grep -q 'session=.*127\.0\.0\.1' "$TMP/md-cond.err"
grep_ok local-line 'session=[0-9.]+ client=mail\.example\.com\[127\.0\.0\.1\] children=spam,sign,vip,daemon,rej child\.spam=stopped@!lan:[0-9.]+ child\.sign=stopped@auth:[0-9.]+ child\.vip=stopped@vip:[0-9.]+ child\.daemon=stopped@smtpd:[0-9.]+ child\.rej=stopped@!lan:[0-9.]+ verdict=accept@mail ' "$TMP/md-cond.err"

# 2. A remote client with a dynamic name: spam and rej apply (rej
# refuses the recipient); sign, vip, daemon are kept out of the message.
mtasim_run dyn -s "$S" -a 192.0.2.7 -N p2124-ipad14tokyo.tokyo.ocn.ne.jp \
    -f someone@example.org -r x@example.com "$MSG"
rc_is dyn 1
grep_ok dyn-rejected 'rcpt <x@example.com>: replycode 550' "$TMP/dyn.out"
check dyn-spam-contacted test "$(connects spam)" -eq 1
check dyn-spam-saw-mail grep -q '^mail <someone@example.org>' "$TMP/spam.log"
for k in sign vip daemon; do
	check "dyn-$k-no-mail" test "$(mails $k)" -eq 0
done

# 3. A remote client with a static name (not S25R-dynamic: spam out),
# authenticated, a sender on the list's file (@vip.example), and the
# MTA's daemon name smtpd: sign, vip and daemon apply.
mtasim_run auth -s "$S" -a 192.0.2.8 -N mail.example.net \
    -m 'mail:{auth_authen}=joe' -m '{daemon_name}=smtpd' \
    -f carol@VIP.example -r x@example.com "$MSG"
rc_is auth 1
check auth-spam-one-connection test "$(connects spam)" -eq 1
grep_ok auth-sign-mail '^mail <carol@VIP.example>' "$TMP/sign.log"
grep_ok auth-vip-mail '^mail <carol@VIP.example>' "$TMP/vip.log"
grep_ok auth-daemon-mail '^mail <carol@VIP.example>' "$TMP/daemon.log"

# 4. An address in a listed network ("198.51.100.0/24") is local too.
mtasim_run listed -s "$S" -a 198.51.100.20 -N dhcp123.example.com \
    -f admins@example.org -r x@example.com "$MSG"
rc_is listed 0
check listed-spam-not-contacted test "$(connects spam)" -eq 1
# admins@ is on the list (user@): vip applies, the message passes.
check listed-vip-mail test "$(mails vip)" -eq 2

# The counters: stopped per child, exactly.
for pair in spam:3 sign:3 vip:2 daemon:3 rej:2; do
	n=${pair%%:*}
	want=${pair#*:}
	check "stopped-$n-$want" test "$(child_stat cond "$n" stopped)" = "$want"
done

# milterd asked the MTA for the macros its conditions need at MAIL.
mtasim_run neg -v -s "$S" -a 192.0.2.9 -N mail.example.net -r x@example.com "$MSG"
grep_ok neg-mail-macros '^  macros 2: .*\{auth_authen\}.*\{daemon_name\}' "$TMP/neg.out"

# Recipient conditions: anyr (recipients = any) and allr (all) only for
# recipients at vip.example.  Each is shown only those recipients; with
# a recipient elsewhere too, anyr takes the message, allr is told
# abort at the end of the envelope; with vip recipients only, both do.
tmilter anyr
tmilter allr
milterd_start rc \
    'condition "viprcpt" { type = "recipient" list = { "@vip.example" } }' \
    "$(child anyr 'conditions = { "viprcpt" }')" \
    "$(child allr 'conditions = { "viprcpt" } recipients = "all"')"
mtasim_run mixed -s "unix:$TMP/md-rc.sock" -r ann@vip.example \
    -r bob@other.example "$MSG"
rc_is mixed 0
for k in anyr allr; do
	grep_ok "mixed-$k-ann" '^rcpt <ann@vip.example>' "$TMP/$k.log"
	check "mixed-$k-not-bob" sh -c "! grep -q '^rcpt <bob' '$TMP/$k.log'"
done
grep_ok mixed-anyr-message '^eom' "$TMP/anyr.log"
grep_ok mixed-allr-abort '^abort' "$TMP/allr.log"
check mixed-allr-no-message sh -c "! grep -q '^eom' '$TMP/allr.log'"
wait_for 10 grep -q 'session=.*child\.allr=' "$TMP/md-rc.err"
grep_ok mixed-line 'child\.anyr=accept:[0-9.]+ child\.allr=stopped@viprcpt:' "$TMP/md-rc.err"
mtasim_run vip -s "unix:$TMP/md-rc.sock" -r ann@vip.example \
    -r cy@VIP.example "$MSG"
rc_is vip 0
check vip-allr-message test "$(grep -c '^eom' "$TMP/allr.log")" -eq 1
check vip-anyr-message test "$(grep -c '^eom' "$TMP/anyr.log")" -eq 2

# A recipient the chain refuses is no one's: with bob refused by rej2
# (first), allr2 (recipients = all, for vip.example) still takes the
# message: every recipient the MTA keeps is for it.
tmilter rej2 -R bob@other.example
tmilter allr2
milterd_start rc2 \
    'condition "viprcpt" { type = "recipient" list = { "@vip.example" } }' \
    "$(child rej2)" \
    "$(child allr2 'conditions = { "viprcpt" } recipients = "all"')"
mtasim_run refused -s "unix:$TMP/md-rc2.sock" -r ann@vip.example \
    -r bob@other.example "$MSG"
rc_is refused 0
grep_ok refused-bob 'rcpt <bob@other.example>: replycode 550' "$TMP/refused.out"
grep_ok refused-allr2-message '^eom' "$TMP/allr2.log"

# A child kept out at connect is judged again at the next connection
# (K), and a child that is down but kept out gives no fallback.
tmilter net
milterd_start kq 'condition "lan" { type = "network" networks = { "local" } }' \
    "$(child net 'conditions = { "!lan" }')" \
    "milter \"down\" { socket = \"unix:$TMP/none.sock\" fallback = \"tempfail\" conditions = { \"!lan\" } }"
mtasim_run kq -s "unix:$TMP/md-kq.sock" -K 2 -a 127.0.0.1 "$MSG"
rc_is kq 0
check kq-net-never test "$(connects net)" -eq 0
check kq-no-tempfail sh -c "! grep -q tempfail '$TMP/kq.out'"
mtasim_run kq2 -s "unix:$TMP/md-kq.sock" -a 192.0.2.5 "$MSG"
rc_is kq2 2
grep_ok kq2-down-tempfail 'tempfail' "$TMP/kq2.out"
check kq2-net-once test "$(connects net)" -eq 1

# Configuration errors, each with its line.
printf 'condition "a" { type = "network" networks = { "10.0.0.0/33" } }\nmilter "m" { socket = "unix:/m" conditions = { "!nope" } }\n' >"$TMP/bad.conf"
conf_bad bad "$TMP/bad.conf"
grep_ok bad-cidr 'bad.conf:1: condition "a": "10.0.0.0/33": expected an address' "$TMP/bad.out"
grep_ok bad-ref 'bad.conf:2: milter "m": no condition "!nope"' "$TMP/bad.out"
printf 'condition "f" { type = "sender" file = "%s/none" }\n' "$TMP" >"$TMP/nofile.conf"
conf_bad nofile "$TMP/nofile.conf"
grep_ok nofile-line 'nofile.conf:1: condition "f": .*/none: No such file or directory' "$TMP/nofile.out"

finish
