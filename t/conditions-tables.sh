#!/bin/sh
# conditions-tables.sh -- issue 21's groups, Postfix tables and macros
# for children, end to end with a real Postfix (t/lib/postfix.sh) in
# front of milterd:
#
#   cdbrcpt   table, cdb:  a recipient under cdb.example (a domain
#             entry; its subdomains match, access(5))
#   lmdbrcpt  table, lmdb: ann@lmdb.example (a whole address)
#   either    any of { cdbrcpt, lmdbrcpt }: an OR of two recipient
#             conditions, decided at RCPT
#   calm      a stress condition that never holds
#
# Both tables are made by postmap (postfix-cdb, postfix-lmdb).  One
# tmilter child, spam, adds X-Spam-Checked with conditions { "either" }
# and logs the macros it gets: macros_add global { "{site}=one",
# "{region}=eu", "{milterd_stress}" } and its own { "{site}=two",
# "{milterd_conditions}" }.
#
#   1. to bob@mx.cdb.example: spam applies (cdb, parent domain); it
#      sees {site}=two (its own over the global), {region}=eu,
#      {milterd_stress}=no, {milterd_conditions}="cdbrcpt either"
#   2. to ann@lmdb.example: spam applies (lmdb)
#   3. to joe@other.example: spam is kept out (neither)
#   4. the lmdb table made again without ann, milterd sent SIGHUP: to
#      ann@lmdb.example, spam is kept out (maps are read at each load)
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
on_exit pf_stop

T0=$(date +%s%3N)
MDLOG=$TMP/md-tb.err
N='[0-9.]+'

# --- Postfix (its configuration directory, for postmap) -------------------
pf_init "$TMP/pf" || bail postfix-init "pf_init failed"

# --- The tables, made by postmap --------------------------------------------
MAPS=$TMP/maps
mkdir -p "$MAPS" && chmod 755 "$MAPS"
printf 'cdb.example OK\n' >"$MAPS/cdbrcpt"
printf 'ann@lmdb.example OK\nlmdb.example REJECT\n' >"$MAPS/lmdbrcpt"
postmap -c "$PF_ETC" "cdb:$MAPS/cdbrcpt" || bail postmap-cdb "postmap cdb failed"
postmap -c "$PF_ETC" "lmdb:$MAPS/lmdbrcpt" || bail postmap-lmdb "postmap lmdb failed"
check cdb-made test -s "$MAPS/cdbrcpt.cdb"
check lmdb-made test -s "$MAPS/lmdbrcpt.lmdb"

# --- milterd and its child ------------------------------------------------
tmilter spam -h 'X-Spam-Checked: yes' -M '{site}' -M '{region}' \
    -M '{milterd_stress}' -M '{milterd_conditions}'
milterd_start tb 'socket_mode = "0666"' \
    'macros_add = { "{site}=one", "{region}=eu", "{milterd_stress}" }' \
    "condition \"cdbrcpt\" { type = \"table\" map = \"cdb:$MAPS/cdbrcpt\" key = \"recipient\" }" \
    "condition \"lmdbrcpt\" { type = \"table\" map = \"lmdb:$MAPS/lmdbrcpt\" key = \"recipient\" }" \
    'condition "either" { type = "any" of = { "cdbrcpt", "lmdbrcpt" } }' \
    'condition "calm" { type = "stress" threshold = 100000 }' \
    "$(child spam 'conditions = { "either" }' \
	'macros_add = { "{site}=two", "{milterd_conditions}" }')"
MD_PID=$BG_PID
wait_for 10 test -S "$TMP/md-tb.sock" || bail milterd-socket "no $TMP/md-tb.sock"

pf_milters "unix:$TMP/md-tb.sock" || bail postfix-conf "pf_milters failed"
pf_start || bail postfix-start "pf_start failed"

# --- 1. cdb, a parent domain: spam applies, and sees the macros --------------
pf_send_case cdb bob@mx.cdb.example --xclient-addr 192.0.2.20 \
    --xclient-name mail.example.net
grep_ok cdb-spam-header '^X-Spam-Checked: yes' "$TMP/cdb.hdrs"
grep_ok cdb-spam-rcpt '^rcpt <bob@mx\.cdb\.example>' "$TMP/spam.log"
grep_ok cdb-line "client=mail\.example\.net\[192\.0\.2\.20\] children=spam child\.spam=accept:$N verdict=accept@eom" "$MDLOG"
# The macros after the RCPT callback (libmilter keeps connect's).
awk 'prev ~ /^rcpt <bob@/ { on = 1 } on && /^macro / { print }
    on && !/^macro / && !/^rcpt / { on = 0 } { prev = $0 }' \
    "$TMP/spam.log" >"$TMP/cdb.macros"
grep_ok macro-own-over-global '^macro \{site\}=two$' "$TMP/cdb.macros"
grep_ok macro-global '^macro \{region\}=eu$' "$TMP/cdb.macros"
grep_ok macro-stress '^macro \{milterd_stress\}=no$' "$TMP/cdb.macros"
grep_ok macro-conditions '^macro \{milterd_conditions\}=cdbrcpt either$' \
    "$TMP/cdb.macros"
no_grep macro-global-site-hidden '^macro \{site\}=one$' "$TMP/spam.log"

# --- 2. lmdb, a whole address: spam applies --------------------------------
pf_send_case lmdb ann@lmdb.example --xclient-addr 192.0.2.21 \
    --xclient-name mail.example.net
grep_ok lmdb-spam-header '^X-Spam-Checked: yes' "$TMP/lmdb.hdrs"
grep_ok lmdb-spam-rcpt '^rcpt <ann@lmdb\.example>' "$TMP/spam.log"
grep_ok lmdb-conditions '^macro \{milterd_conditions\}=lmdbrcpt either$' \
    "$TMP/spam.log"

# --- 3. neither: spam kept out ---------------------------------------------
pf_send_case none joe@other.example --xclient-addr 192.0.2.22 \
    --xclient-name mail.example.net
no_grep none-no-spam '^X-Spam-Checked:' "$TMP/none.hdrs"
no_grep none-spam-no-rcpt '^rcpt <joe@' "$TMP/spam.log"
grep_ok none-line "client=mail\.example\.net\[192\.0\.2\.22\] children=spam child\.spam=stopped@either:$N" "$MDLOG"

# --- 4. The lmdb table made again; read again at SIGHUP ----------------------
OLD=$(sed -n 's/.*worker 1: pid \([0-9]*\), generation 0$/\1/p' "$MDLOG" |
    head -n 1)
check old-worker-known test -n "$OLD"
printf 'lmdb.example REJECT\n' >"$MAPS/lmdbrcpt"
postmap -c "$PF_ETC" "lmdb:$MAPS/lmdbrcpt" || fail postmap-again "postmap failed"
kill -HUP "$MD_PID"
if wait_for 10 grep -q 'reloaded: generation 1,' "$MDLOG"; then
	ok reloaded
else
	fail reloaded "no 'reloaded: generation 1' in $MDLOG"
fi
# The old worker gone: the next session is the new generation's.
if wait_for 20 sh -c "! kill -0 ${OLD:-999999999} 2>/dev/null"; then
	ok old-worker-gone
else
	fail old-worker-gone "worker $OLD of generation 0 still runs"
fi
pf_send_case reread ann@lmdb.example --xclient-addr 192.0.2.23 \
    --xclient-name mail.example.net
no_grep reread-no-spam '^X-Spam-Checked:' "$TMP/reread.hdrs"
grep_ok reread-line "client=mail\.example\.net\[192\.0\.2\.23\] children=spam child\.spam=stopped@either:$N" "$MDLOG"

# --- Across the cases --------------------------------------------------------
# Two messages of four: the tables' two.
check spam-rcpts test "$(grep -c '^rcpt ' "$TMP/spam.log")" -eq 2
check spam-eoms test "$(grep -c '^eom$' "$TMP/spam.log")" -eq 2

kill "$MD_PID" 2>/dev/null
_pf_poll 20 _pf_dead "$MD_PID" ||
    fail milterd-stop "milterd $MD_PID does not exit on SIGTERM"

echo "# $(($(date +%s%3N) - T0)) ms"
finish
