#!/bin/sh
# conditions-eom.sh -- conditions on the message (milterd.conf(5),
# CONDITIONS: size, header, verdict, a lua eom()), decided at end of
# message just before each child's replay, end to end with a real
# Postfix (t/lib/postfix.sh) in front of milterd and six tmilter
# children, in this order:
#
#   spam   adds "X-Spam-Flag: YES"; conditions { "trap" } (a recipient
#          at trap.example): it flags only those messages
#   trial  evaluation = true, rejects at eom (would have: nothing is
#          rejected); conditions { "audited" } (a recipient at
#          audit.example)
#   grey   adds "X-Grey: yes"; conditions { "flagged" }: header
#          X-Spam-Flag matches ^YES in the copy (spam's header)
#   virus  adds "X-Virus-Scanned: yes"; conditions { "!big" }: size
#          over 20000 bytes
#   clean  adds "X-Clean: yes"; conditions { "!spam-modified" }: spam's
#          verdict in this message is not "modified"
#   audit  adds "X-Audit: yes"; conditions { "trial-rejects" }: trial's
#          verdict (in evaluation: its would-be one) is reject
#   luakid adds "X-Lua: yes"; conditions { "luaflag" }: a lua eom()
#          that holds when the copy has X-Spam-Flag and spam modified
#          the message
#
#   1. flagged: small, to bob@trap.example: spam, grey, virus, luakid
#      apply; trial, clean, audit do not
#   2. big:     30000 bytes, to bob@example.org: clean only (virus kept
#      out by its size)
#   3. audited: small, to carol@audit.example: trial (evaluated), virus,
#      clean, audit
#
# A child kept out at end of message is told abort, never gets the
# message (no eom in its log) and shows as stopped@COND in the session's
# log line; milterctl counts it as stopped.
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
on_exit pf_stop

T0=$(date +%s%3N)
MDLOG=$TMP/md-pf.err

# --- milterd and its children ---------------------------------------------
cat >"$TMP/flag.lua" <<'EOF'
function eom(s, m)
	for _, h in ipairs(m.headers) do
		if h.name == "X-Spam-Flag" then
			return m.verdicts.spam == "modified" and m.size > 0
		end
	end
	return false
end
EOF
tmilter spam -h 'X-Spam-Flag: YES'
tmilter trial -J eom
tmilter grey -h 'X-Grey: yes'
tmilter virus -h 'X-Virus-Scanned: yes'
tmilter clean -h 'X-Clean: yes'
tmilter audit -h 'X-Audit: yes'
tmilter luakid -h 'X-Lua: yes'
milterd_start pf 'socket_mode = "0666"' \
    'condition "trap" { type = "recipient" list = { "@trap.example" } }' \
    'condition "audited" { type = "recipient" list = { "@audit.example" } }' \
    'condition "flagged" { type = "header" name = "X-Spam-Flag" match = "^YES" }' \
    'condition "big" { type = "size" over = 20000 }' \
    'condition "spam-modified" { type = "verdict" child = "spam" is = { "modified" } }' \
    'condition "trial-rejects" { type = "verdict" child = "trial" is = { "reject" } }' \
    "condition \"luaflag\" { type = \"lua\" script = \"$TMP/flag.lua\" }" \
    "$(child spam 'conditions = { "trap" }')" \
    "$(child trial 'evaluation = true conditions = { "audited" }')" \
    "$(child grey 'conditions = { "flagged" }')" \
    "$(child virus 'conditions = { "!big" }')" \
    "$(child clean 'conditions = { "!spam-modified" }')" \
    "$(child audit 'conditions = { "trial-rejects" }')" \
    "$(child luakid 'conditions = { "luaflag" }')"
MD_PID=$BG_PID
wait_for 10 test -S "$TMP/md-pf.sock" || bail milterd-socket "no $TMP/md-pf.sock"

# A configuration whose verdict condition looks at a later child is
# refused, on the line of the milter that uses it.
printf '%s\n' \
    'condition "v" { type = "verdict" child = "b" is = { "reject" } }' \
    'milter "a" { socket = "unix:/a" conditions = { "v" } }' \
    'milter "b" { socket = "unix:/b" }' >"$TMP/later.conf"
conf_bad verdict-later "$TMP/later.conf"
grep_ok verdict-later-line \
    'later\.conf:2: milter "a": condition "v" looks at child "b", which does not come before it' \
    "$TMP/verdict-later.out"

# --- Postfix ----------------------------------------------------------------
pf_init "$TMP/pf" || bail postfix-init "pf_init failed"
pf_milters "unix:$TMP/md-pf.sock" || bail postfix-conf "pf_milters failed"
pf_start || bail postfix-start "pf_start failed"

# --- Helpers ----------------------------------------------------------------

# line_ok NAME RE: the last session line (the case's XCLIENT client)
# has RE.
line_ok() {
	grep ' session=' "$MDLOG" | tail -n 1 >"$TMP/last.line"
	grep_ok "$1" "$2" "$TMP/last.line"
}

# has NAME HEADER... / hasnt NAME HEADER...: the case's delivered
# headers have (not) each.
has() {
	_c=$1
	shift
	for _h; do
		grep_ok "$_c-has-$_h" "^$_h: " "$TMP/$_c.hdrs"
	done
}
hasnt() {
	_c=$1
	shift
	for _h; do
		no_grep "$_c-hasnt-$_h" "^$_h:" "$TMP/$_c.hdrs"
	done
}

N='[0-9.]+'
XC='--xclient-name mail.example.net --xclient-addr 192.0.2.20'

# --- 1. Flagged by spam: grey, virus and luakid follow ---------------------
# shellcheck disable=SC2086
pf_send_case flagged bob@trap.example $XC
has flagged X-Spam-Flag X-Grey X-Virus-Scanned X-Lua
hasnt flagged X-Clean X-Audit
line_ok flagged-grey "child\.grey=accept:$N "
line_ok flagged-clean "child\.clean=stopped@!spam-modified:$N "
line_ok flagged-audit "child\.audit=stopped@trial-rejects:$N "
line_ok flagged-trial "child\.trial=stopped@audited:$N "
line_ok flagged-verdict "verdict=accept@eom "

# --- 2. Big: virus kept out by its size, grey and luakid unflagged -------
head -c 30000 /dev/zero | tr '\0' 'x' | fold -w 76 >"$TMP/big.txt"
# shellcheck disable=SC2086
pf_send_case big bob@example.org --body "$TMP/big.txt" $XC
has big X-Clean
hasnt big X-Spam-Flag X-Grey X-Virus-Scanned X-Audit X-Lua
line_ok big-virus "child\.virus=stopped@!big:$N "
line_ok big-grey "child\.grey=stopped@flagged:$N "
line_ok big-lua "child\.luakid=stopped@luaflag:$N "
line_ok big-clean "child\.clean=accept:$N "

# --- 3. Audited: trial would reject, so audit applies ----------------------
# shellcheck disable=SC2086
pf_send_case audited carol@audit.example $XC
has audited X-Virus-Scanned X-Clean X-Audit
hasnt audited X-Spam-Flag X-Grey X-Lua
line_ok audited-trial "child\.trial=eval-reject:$N "
line_ok audited-audit "child\.audit=accept:$N "
grep_ok audited-trial-logged 'child trial \(evaluation\): eom replycode 550 5\.7\.1 rejected at eom' \
    "$MDLOG"

# --- Across the cases --------------------------------------------------------
# A child kept out at end of message never got it, and was told abort.
for pair in grey:1 virus:2 clean:2 audit:1 luakid:1; do
	n=${pair%%:*}
	count_is "$n-eoms-${pair#*:}" "${pair#*:}" '^eom$' "$TMP/$n.log"
done
count_is grey-aborts 2 '^abort$' "$TMP/grey.log"
count_is virus-aborts 1 '^abort$' "$TMP/virus.log"
# Each saw the copy as the children before it left it: grey got spam's
# header.
grep_ok grey-saw-flag '^header X-Spam-Flag: YES$' "$TMP/grey.log"
# milterctl: kept out at end of message counts as stopped (the
# localhost sessions before XCLIENT have no message: nothing there).
stat_is pf stopped grey:2 virus:1 clean:1 audit:2 luakid:2

kill "$MD_PID" 2>/dev/null
_pf_poll 20 _pf_dead "$MD_PID" ||
    fail milterd-stop "milterd $MD_PID does not exit on SIGTERM"

echo "# $(($(date +%s%3N) - T0)) ms"
finish
