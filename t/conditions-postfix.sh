#!/bin/sh
# conditions-postfix.sh -- conditions (milterd.conf(5), CONDITIONS) end
# to end with a real Postfix (t/lib/postfix.sh) in front of milterd and
# three tmilter children:
#
#   spam  adds "X-Spam-Checked: yes"; conditions { "!auth", "!lan",
#         "dynamic" } (not authenticated, not a local network, an
#         S25R-dynamic name)
#   sign  adds "X-Signed: yes"; conditions { "auth" } (authenticated)
#   vip   adds "X-VIP: yes"; conditions { "viprcpt" } (a recipient at
#         vip.example)
#
# Every client really connects from 127.0.0.1; each says XCLIENT to
# present another client (NAME, ADDR, and LOGIN for an authenticated
# one).  Postfix opens a milter session at connect (localhost
# [127.0.0.1]: spam is kept out, !lan), closes it at XCLIENT and opens a
# new one with the presented client; with LOGIN= it sends
# {auth_authen} and {auth_type}=XCLIENT at MAIL.  So each case makes
# two milterd sessions, and the counts below include the first one.
#
#   1. dyn:    p2124-ipad14tokyo.tokyo.ocn.ne.jp [192.0.2.10]: spam
#              applies; sign out at MAIL (auth), vip at DATA (viprcpt)
#   2. static: mail.example.net [192.0.2.11], to ann@vip.example: spam
#              out at connect (dynamic), sign out (auth), vip applies
#   3. auth:   the dynamic name [192.0.2.12], LOGIN=joe: spam passes
#              connect but is out at MAIL (!auth), sign applies, vip out
#   4. lan:    dhcp123.example.com [10.1.2.3]: spam out at connect
#              (!lan), sign and vip out: no child left, accepted at DATA
#   5. stats:  milterctl's "stopped" per child: spam 4 (localhost) + 3,
#              sign 3, vip 3.
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
on_exit pf_stop

T0=$(date +%s%3N)
MDLOG=$TMP/md-pf.err

# --- milterd and its children ---------------------------------------------
tmilter spam -h 'X-Spam-Checked: yes'
tmilter sign -h 'X-Signed: yes' -M '{auth_authen}' -M '{auth_type}'
tmilter vip -h 'X-VIP: yes'
milterd_start pf 'socket_mode = "0666"' \
    'condition "lan" { type = "network" networks = { "local" } }' \
    'condition "dynamic" { type = "s25r" }' \
    'condition "auth" { type = "authenticated" }' \
    'condition "viprcpt" { type = "recipient" list = { "@vip.example" } }' \
    "$(child spam 'conditions = { "!auth", "!lan", "dynamic" }')" \
    "$(child sign 'conditions = { "auth" }')" \
    "$(child vip 'conditions = { "viprcpt" }')"
MD_PID=$BG_PID
wait_for 10 test -S "$TMP/md-pf.sock" || bail milterd-socket "no $TMP/md-pf.sock"

# --- Postfix ----------------------------------------------------------------
pf_init "$TMP/pf" || bail postfix-init "pf_init failed"
pf_milters "unix:$TMP/md-pf.sock" || bail postfix-conf "pf_milters failed"
pf_start || bail postfix-start "pf_start failed"

# --- Helpers ----------------------------------------------------------------

# session_ok NAME CLIENT-RE CHILDREN-RE: the session line of CLIENT
# (client=NAME[ADDR], an ERE) has CHILDREN-RE after children=...
session_ok() {
	grep_ok "$1" "session=[0-9.]+ client=$2 children=spam,sign,vip $3" "$MDLOG"
}

DYN='p2124-ipad14tokyo\.tokyo\.ocn\.ne\.jp'
N='[0-9.]+'

# --- 1. Remote, dynamic name, not authenticated: spam applies -------------
pf_send_case dyn bob@example.org --xclient-name p2124-ipad14tokyo.tokyo.ocn.ne.jp \
    --xclient-addr 192.0.2.10
grep_ok dyn-spam-header '^X-Spam-Checked: yes' "$TMP/dyn.hdrs"
no_grep dyn-no-signed '^X-Signed:' "$TMP/dyn.hdrs"
no_grep dyn-no-vip '^X-VIP:' "$TMP/dyn.hdrs"
grep_ok dyn-spam-connect "^connect host=$DYN family=4 port=[0-9]+ addr=192\.0\.2\.10\$" \
    "$TMP/spam.log"
grep_ok dyn-spam-eom '^eom$' "$TMP/spam.log"
session_ok dyn-localhost-line 'localhost\[127\.0\.0\.1\]' \
    "child\.spam=stopped@!lan:$N child\.sign=continue:$N child\.vip=continue:$N verdict="
session_ok dyn-line "$DYN\[192\.0\.2\.10\]" \
    "child\.spam=accept:$N child\.sign=stopped@auth:$N child\.vip=stopped@viprcpt:$N verdict=accept@eom "
# The line carries Postfix's queue id: the one swaks was told and the
# sink's Received header has.
QID=$(sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$TMP/dyn.swaks" | head -n 1)
check dyn-queued test -n "$QID"
session_ok dyn-line-queue-id "$DYN\[192\.0\.2\.10\]" ".* queue_id=$QID\$"
grep_ok dyn-sink-queue-id "with E?SMTP id $QID" "${SINK:-/dev/null}"

# --- 2. Remote, static name, to a vip recipient: spam out at connect ------
pf_send_case static ann@vip.example --xclient-name mail.example.net \
    --xclient-addr 192.0.2.11
no_grep static-no-spam '^X-Spam-Checked:' "$TMP/static.hdrs"
no_grep static-no-signed '^X-Signed:' "$TMP/static.hdrs"
grep_ok static-vip-header '^X-VIP: yes' "$TMP/static.hdrs"
no_grep static-spam-no-connect 'addr=192\.0\.2\.11' "$TMP/spam.log"
grep_ok static-vip-rcpt '^rcpt <ann@vip\.example>' "$TMP/vip.log"
session_ok static-line 'mail\.example\.net\[192\.0\.2\.11\]' \
    "child\.spam=stopped@dynamic:$N child\.sign=stopped@auth:$N child\.vip=accept:$N verdict=accept@eom "

# --- 3. The dynamic name, authenticated (XCLIENT LOGIN): sign applies -----
pf_send_case auth bob@example.org --xclient-name p2124-ipad14tokyo.tokyo.ocn.ne.jp \
    --xclient-addr 192.0.2.12 --xclient-login joe
no_grep auth-no-spam '^X-Spam-Checked:' "$TMP/auth.hdrs"
grep_ok auth-signed '^X-Signed: yes' "$TMP/auth.hdrs"
no_grep auth-no-vip '^X-VIP:' "$TMP/auth.hdrs"
# spam passed connect (remote, dynamic), then was kept out at MAIL.
grep_ok auth-spam-connect "^connect host=$DYN .*addr=192\.0\.2\.12\$" "$TMP/spam.log"
# Postfix sent the XCLIENT login at MAIL, and sign saw it.
grep_ok auth-sign-mail '^mail <alice@example\.com>' "$TMP/sign.log"
grep_ok auth-sign-authen '^macro \{auth_authen\}=joe$' "$TMP/sign.log"
grep_ok auth-sign-type '^macro \{auth_type\}=XCLIENT$' "$TMP/sign.log"
session_ok auth-line "$DYN\[192\.0\.2\.12\]" \
    "child\.spam=stopped@!auth:$N child\.sign=accept:$N child\.vip=stopped@viprcpt:$N verdict=accept@eom "

# --- 4. A local network: spam out at connect, no child left ---------------
pf_send_case lan bob@example.org --xclient-addr 10.1.2.3 \
    --xclient-name dhcp123.example.com
no_grep lan-no-spam '^X-Spam-Checked:' "$TMP/lan.hdrs"
no_grep lan-no-signed '^X-Signed:' "$TMP/lan.hdrs"
no_grep lan-no-vip '^X-VIP:' "$TMP/lan.hdrs"
no_grep lan-spam-no-connect 'addr=10\.1\.2\.3' "$TMP/spam.log"
session_ok lan-line 'dhcp123\.example\.com\[10\.1\.2\.3\]' \
    "child\.spam=stopped@!lan:$N child\.sign=stopped@auth:$N child\.vip=stopped@viprcpt:$N verdict=accept@data "

# --- Across the cases --------------------------------------------------------
# spam heard of two connections (1 and 3) and one message (1).
count_is spam-connects 2 '^connect ' "$TMP/spam.log"
count_is spam-mails 1 '^mail ' "$TMP/spam.log"
count_is spam-eoms 1 '^eom$' "$TMP/spam.log"
# sign got every connection (no connect condition), one message (3).
count_is sign-connects 8 '^connect ' "$TMP/sign.log"
count_is sign-mails 1 '^mail ' "$TMP/sign.log"
count_is sign-eoms 1 '^eom$' "$TMP/sign.log"
# (libmilter keeps macros: they are logged again after later callbacks)
awk 'prev ~ /^mail / { print } { prev = $0 }' "$TMP/sign.log" \
    >"$TMP/sign.atmail"
count_is sign-authen-at-mail 1 '^macro \{auth_authen\}=joe$' "$TMP/sign.atmail"
# vip saw every MAIL, only the vip recipient, one end of message; the
# other three messages were aborted at the end of the envelope.
count_is vip-mails 4 '^mail ' "$TMP/vip.log"
count_is vip-rcpts 1 '^rcpt ' "$TMP/vip.log"
count_is vip-eoms 1 '^eom$' "$TMP/vip.log"
count_is vip-aborts 3 '^abort$' "$TMP/vip.log"
# Each case's first session: localhost, spam kept out (!lan).
count_is localhost-lines 4 \
    "session=$N client=localhost\[127\.0\.0\.1\] children=spam,sign,vip child\.spam=stopped@!lan:" \
    "$MDLOG"
count_is session-lines 8 ' session=' "$MDLOG"

# --- 5. The counters ---------------------------------------------------------
stat_is pf stopped spam:7 sign:3 vip:3

# milterd with SIGTERM: a clean exit, so LeakSanitizer reports into its
# .err (checked by finish).
kill "$MD_PID" 2>/dev/null
_pf_poll 20 _pf_dead "$MD_PID" ||
    fail milterd-stop "milterd $MD_PID does not exit on SIGTERM"

echo "# $(($(date +%s%3N) - T0)) ms"
finish
