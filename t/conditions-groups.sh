#!/bin/sh
# conditions-groups.sh -- issue 21's any/all groups and the texthash,
# cidr and pcre tables with mtasim and two tmilter children:
#
#   grp   conditions { "lan_or_vip" }: any of { "lan" (connect),
#         "vip" (a recipient) }, so decided at each RCPT for that
#         recipient; it logs {milterd_conditions} (macros_add)
#   nest  conditions { "outer" }: any of { "known", "boss" }, where
#         known = all of { "!lan", "listed" } and listed = any of
#         { "clients" (cidr), "names" (pcre on the client's name) },
#         boss a texthash table of senders (decided at MAIL)
. "$(dirname "$0")/lib/test.sh"

MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\n\nbody\n' >"$MSG"
mkdir -p "$TMP/maps" && chmod 755 "$TMP/maps"
printf '192.0.2.0/24 OK\n' >"$TMP/maps/clients"
printf '/^mx[0-9]+[.]example[.]net$/ OK\n' >"$TMP/maps/names"
printf '# senders\nboss@corp.example OK\ncorp.example DUNNO\n' >"$TMP/maps/senders"
# The master reads only tables no one but root can write.
chmod 644 "$TMP/maps/clients" "$TMP/maps/names" "$TMP/maps/senders"

tmilter grp -M '{milterd_conditions}'
tmilter nest
milterd_start grp \
    'condition "lan" { type = "network" networks = { "local" } }' \
    'condition "vip" { type = "recipient" list = { "@vip.example" } }' \
    'condition "lan_or_vip" { type = "any" of = { "lan", "vip" } }' \
    "condition \"clients\" { type = \"table\" map = \"cidr:$TMP/maps/clients\" key = \"client\" }" \
    "condition \"names\" { type = \"table\" map = \"pcre:$TMP/maps/names\" key = \"client\" }" \
    "condition \"boss\" { type = \"table\" map = \"texthash:$TMP/maps/senders\" key = \"sender\" }" \
    'condition "listed" { type = "any" of = { "clients", "names" } }' \
    'condition "known" { type = "all" of = { "!lan", "listed" } }' \
    'condition "outer" { type = "any" of = { "known", "boss" } }' \
    "$(child grp 'conditions = { "lan_or_vip" }' \
	'macros_add = { "{milterd_conditions}" }')" \
    "$(child nest 'conditions = { "outer" }')"
S="unix:$TMP/md-grp.sock"
LOG=$TMP/md-grp.err
N='[0-9.]+'

# line_ok NAME ADDR REST: the session line of client ADDR has REST.
line_ok() {
	wait_for 10 grep -q "client=[^ ]*\[$2\]" "$LOG"
	grep_ok "$1" "client=[^ ]*\[$2\] children=grp,nest $3" "$LOG"
}

# 1. A local client: grp applies (lan, for every recipient); nest is
# out at MAIL (known needs !lan, the sender is not boss).
mtasim_run local -s "$S" -a 127.0.0.1 -N localhost -f a@example.org \
    -r x@example.com "$MSG"
rc_is local 0
grep_ok local-grp-rcpt '^rcpt <x@example\.com>' "$TMP/grp.log"
grep_ok local-grp-held '^macro \{milterd_conditions\}=lan lan_or_vip$' \
    "$TMP/grp.log"
line_ok local-line '127\.0\.0\.1' \
    "child\.grp=accept:$N child\.nest=stopped@outer:$N"

# 2. A remote client, one recipient at vip.example and one not: grp is
# shown only the vip one; nest out (no table lists it).
mtasim_run vip -s "$S" -a 203.0.113.5 -N other.example.org \
    -f a@example.org -r a@vip.example -r b@example.com "$MSG"
rc_is vip 0
grep_ok vip-grp-rcpt '^rcpt <a@vip\.example>' "$TMP/grp.log"
no_grep vip-grp-not-shown '^rcpt <b@example\.com>' "$TMP/grp.log"
grep_ok vip-grp-held '^macro \{milterd_conditions\}=vip lan_or_vip$' \
    "$TMP/grp.log"
line_ok vip-line '203\.0\.113\.5' \
    "child\.grp=accept:$N child\.nest=stopped@outer:$N"

# 3. A remote client in the cidr table: grp out (neither lan nor vip),
# nest applies through known (all of !lan and listed).
mtasim_run cidr -s "$S" -a 192.0.2.9 -N other.example.org \
    -f a@example.org -r c@example.com "$MSG"
rc_is cidr 0
no_grep cidr-grp-no-rcpt '^rcpt <c@example\.com>' "$TMP/grp.log"
grep_ok cidr-nest-rcpt '^rcpt <c@example\.com>' "$TMP/nest.log"
line_ok cidr-line '192\.0\.2\.9' \
    "child\.grp=stopped@lan_or_vip:$N child\.nest=accept:$N"

# 4. A client whose name the pcre table lists: nest applies.
mtasim_run pcre -s "$S" -a 203.0.113.6 -N mx12.example.net \
    -f a@example.org -r d@example.com "$MSG"
rc_is pcre 0
grep_ok pcre-nest-rcpt '^rcpt <d@example\.com>' "$TMP/nest.log"
line_ok pcre-line '203\.0\.113\.6' "child\.grp=stopped@lan_or_vip:$N child\.nest=accept:$N"

# 5. The boss sender (texthash): nest applies; another sender of the
# same domain gets DUNNO, not a value: nest out.
mtasim_run boss -s "$S" -a 203.0.113.7 -N other.example.org \
    -f boss@corp.example -r e@example.com "$MSG"
rc_is boss 0
grep_ok boss-nest-mail '^mail <boss@corp\.example>' "$TMP/nest.log"
line_ok boss-line '203\.0\.113\.7' "child\.grp=stopped@lan_or_vip:$N child\.nest=accept:$N"
mtasim_run dunno -s "$S" -a 203.0.113.8 -N other.example.org \
    -f clerk@corp.example -r f@example.com "$MSG"
rc_is dunno 0
no_grep dunno-nest-no-mail '^mail <clerk@corp\.example>' "$TMP/nest.log"
line_ok dunno-line '203\.0\.113\.8' "child\.grp=stopped@lan_or_vip:$N child\.nest=stopped@outer:$N"

# 6. A lua member of a group: asked of the lookup threads at its stage
# (MAIL), the group decided once the answer is in.  lucky holds for a
# sender with "luck" in it; lg applies to lucky OR lan.
cat >"$TMP/lucky.lua" <<'LUA'
function mail(s) return s.sender:find("luck", 1, true) ~= nil end
LUA
chmod 644 "$TMP/lucky.lua"
tmilter lg
tmilter gb
milterd_start lg \
    'condition "lan" { type = "network" networks = { "local" } }' \
    "condition \"lucky\" { type = \"lua\" script = \"$TMP/lucky.lua\" }" \
    'condition "lucky_or_lan" { type = "any" of = { "lucky", "lan" } }' \
    'condition "big" { type = "size" over = 1000 }' \
    'condition "big_or_lan" { type = "any" of = { "big", "lan" } }' \
    "$(child lg 'conditions = { "lucky_or_lan" }')" \
    "$(child gb 'conditions = { "big_or_lan" }')"
LG="unix:$TMP/md-lg.sock"
mtasim_run lucky -s "$LG" -a 203.0.113.9 -N other.example.org \
    -f luck@example.org -r g@example.com "$MSG"
rc_is lucky 0
grep_ok lucky-applies '^mail <luck@example\.org>' "$TMP/lg.log"
mtasim_run unlucky -s "$LG" -a 203.0.113.10 -N other.example.org \
    -f plain@example.org -r h@example.com "$MSG"
rc_is unlucky 0
no_grep unlucky-out '^mail <plain@example\.org>' "$TMP/lg.log"
wait_for 10 grep -q 'client=[^ ]*\[203\.0\.113\.10\]' "$TMP/md-lg.err"
grep_ok unlucky-line "client=[^ ]*\\[203\\.0\\.113\\.10\\] children=lg,gb child\\.lg=stopped@lucky_or_lan:$N child\\.gb=stopped@big_or_lan:$N" "$TMP/md-lg.err"
# 7. A group with a condition on the message: decided at end of
# message, before gb's replay.  A remote client's big message: gb gets
# it; its small one (unlucky, above) kept gb out.
BIG=$TMP/big.eml
{ cat "$MSG"; i=0; while [ $i -lt 40 ]; do
	echo "a line of the body to make the message over a thousand bytes"
	i=$((i + 1)); done; } >"$BIG"
mtasim_run bigmsg -s "$LG" -a 203.0.113.11 -N other.example.org \
    -f plain@example.org -r i@example.com "$BIG"
rc_is bigmsg 0
wait_for 10 grep -q 'client=[^ ]*\[203\.0\.113\.11\]' "$TMP/md-lg.err"
grep_ok bigmsg-line "client=[^ ]*\\[203\\.0\\.113\\.11\\] children=lg,gb child\\.lg=stopped@lucky_or_lan:$N child\\.gb=accept:$N" "$TMP/md-lg.err"
check bigmsg-gb-eom test "$(grep -c '^eom' "$TMP/gb.log")" -eq 1
no_grep lucky-no-error 'condition "lucky".*(error|condition_error)' "$TMP/md-lg.err"

# 8. {milterd_stress}: yes when a stress condition holds at connect,
# whether a child uses it or not.  One session held open after DATA
# (mtasim -w, until its input ends), then a second: more than 1 open.
tmilter st -M '{milterd_stress}'
milterd_start st \
    'condition "busy" { type = "stress" threshold = 1 }' \
    "$(child st 'macros_add = { "{milterd_stress}" }')"
mtasim_run calm -s "unix:$TMP/md-st.sock" -f a@example.org \
    -r j@example.com "$MSG"
rc_is calm 0
grep_ok stress-no '^macro \{milterd_stress\}=no$' "$TMP/st.log"
mkfifo "$TMP/hold.in"
"$BUILD/mtasim" -w -n 1 -s "unix:$TMP/md-st.sock" "$MSG" \
    <"$TMP/hold.in" >"$TMP/hold.out" 2>&1 &
HOLD_PID=$!
exec 9>"$TMP/hold.in"
wait_for 10 grep -q '^held: 1 of 1' "$TMP/hold.out"
mtasim_run busy -s "unix:$TMP/md-st.sock" -f a@example.org \
    -r k@example.com "$MSG"
rc_is busy 0
grep_ok stress-yes '^macro \{milterd_stress\}=yes$' "$TMP/st.log"
exec 9>&-
wait "$HOLD_PID"

finish
