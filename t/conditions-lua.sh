#!/bin/sh
# lua conditions (milterd.conf(5), CONDITIONS).  With mtasim: functions
# at HELO (the child is kept out of the connection) and DATA (it is told
# abort), the session table (recipients so far, earlier children's
# verdicts), condition_error = apply|skip after a runtime error and
# after a script whose top level fails, configuration errors with
# their lines.  With a real Postfix and XCLIENT: the shipped examples,
# etc/lua/sqlite-users.lua (per recipient, from an SQLite table) and
# etc/lua/ldap-users.lua (per sender, against a slapd this test
# starts).
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
on_exit pf_stop
ETC=$T/../etc/lua

MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\n\nbody\n' >"$MSG"

# has NAME PATTERN: how many lines of child NAME's log match.
has() {
	grep -Ec -- "$2" "$TMP/$1.log" 2>/dev/null
	true
}

# --- HELO and DATA ----------------------------------------------------------
cat >"$TMP/stages.lua" <<'EOS'
local blocked = ...
function helo(s)
	return s.helo ~= blocked
end
function data(s)
	return #s.recipients < 3
end
EOS
tmilter st
milterd_start st \
    "condition \"stages\" { type = \"lua\" script = \"$TMP/stages.lua\" args = { \"bad.example\" } }" \
    "$(child st 'conditions = { "stages" }')"
S="unix:$TMP/md-st.sock"
mtasim_run helo -s "$S" -H bad.example "$MSG"
rc_is helo 0
check helo-connect test "$(has st '^connect ')" -eq 1
check helo-kept-out test "$(has st '^helo ')" -eq 0
wait_for 10 grep -q 'session=.*child\.st=stopped@stages' "$TMP/md-st.err"
grep_ok helo-line 'child\.st=stopped@stages:[0-9.]+ verdict=accept@helo ' "$TMP/md-st.err"
mtasim_run three -s "$S" -H good.example -r a@x.test -r b@x.test \
    -r c@x.test "$MSG"
rc_is three 0
check three-helo test "$(has st '^helo good\.example')" -eq 1
check three-rcpts test "$(has st '^rcpt ')" -eq 3
check three-abort test "$(has st '^abort')" -eq 1
check three-no-eom test "$(has st '^eom')" -eq 0
mtasim_run two -s "$S" -H good.example -r a@x.test -r b@x.test "$MSG"
rc_is two 0
check two-eom test "$(has st '^eom')" -eq 1
check st-stopped test "$(child_stat st st stopped)" = 2
# A script's macros are asked for at the stages it has functions for
# (helo: 1, data: 4), not at the others.
milterd_start mac \
    "condition \"stages\" { type = \"lua\" script = \"$TMP/stages.lua\" macros = { \"{client_ptr}\", \"j\" } }" \
    "$(child st 'conditions = { "stages" }')"
mtasim_run neg -v -s "unix:$TMP/md-mac.sock" "$MSG"
grep_ok neg-helo-macros '^  macros 1: .*\{client_ptr\} j' "$TMP/neg.out"
grep_ok neg-data-macros '^  macros 4: .*\{client_ptr\} j' "$TMP/neg.out"
no_grep neg-not-mail '^  macros 2: .*client_ptr' "$TMP/neg.out"

# --- Earlier children's verdicts ---------------------------------------------
cat >"$TMP/verdicts.lua" <<'EOS'
function data(s)
	return s.verdicts.first ~= "reject"
end
EOS
# The recipients a child refused are not the message's.
cat >"$TMP/count.lua" <<'EOS'
function data(s)
	return #s.recipients == 1
end
EOS
tmilter first -R bob@x.test
tmilter second
tmilter third
milterd_start vd \
    "condition \"firstok\" { type = \"lua\" script = \"$TMP/verdicts.lua\" }" \
    "condition \"one\" { type = \"lua\" script = \"$TMP/count.lua\" }" \
    "$(child first)" "$(child second 'conditions = { "firstok" }')" \
    "$(child third 'conditions = { "one" }')"
mtasim_run vd1 -s "unix:$TMP/md-vd.sock" -r ann@x.test -r bob@x.test "$MSG"
rc_is vd1 0
grep_ok vd1-bob-refused 'rcpt <bob@x.test>: replycode 550' "$TMP/vd1.out"
check vd1-second-out test "$(has second '^eom')" -eq 0
check vd1-third-in test "$(has third '^eom')" -eq 1
mtasim_run vd2 -s "unix:$TMP/md-vd.sock" -r ann@x.test "$MSG"
rc_is vd2 0
check vd2-second-in test "$(has second '^eom')" -eq 1
# The same list under parallel dispatch, where every child sees the
# refused recipient before the chain's answer drops it.
: >"$TMP/third.log"
milterd_start vdp 'dispatch = "parallel"' \
    "condition \"one\" { type = \"lua\" script = \"$TMP/count.lua\" }" \
    "$(child first)" "$(child third 'conditions = { "one" }')"
mtasim_run vdp -s "unix:$TMP/md-vdp.sock" -r ann@x.test -r bob@x.test "$MSG"
rc_is vdp 0
grep_ok vdp-bob-refused 'rcpt <bob@x.test>: replycode 550' "$TMP/vdp.out"
grep_ok vdp-third-saw-bob '^rcpt <bob@x.test>' "$TMP/third.log"
check vdp-third-in test "$(has third '^eom')" -eq 1

# --- condition_error --------------------------------------------------------
cat >"$TMP/broken.lua" <<'EOS'
function mail(s)
	error("the database is down")
end
EOS
cat >"$TMP/noload.lua" <<'EOS'
local db = require("no_such_module_for_milterd")
function mail(s)
	return true
end
EOS
tmilter ap
tmilter sk
tmilter nl
milterd_start ce \
    "condition \"broken\" { type = \"lua\" script = \"$TMP/broken.lua\" }" \
    "condition \"noload\" { type = \"lua\" script = \"$TMP/noload.lua\" }" \
    "$(child ap 'conditions = { "broken" }')" \
    "$(child sk 'conditions = { "broken" } condition_error = "skip"')" \
    "$(child nl 'conditions = { "noload" } condition_error = "skip"')"
wait_for 10 grep -q 'condition "noload":' "$TMP/md-ce.err"
grep_ok noload-logged 'condition "noload": .*noload.lua:1: module .no_such_module_for_milterd. not found' "$TMP/md-ce.err"
mtasim_run ce -s "unix:$TMP/md-ce.sock" "$MSG"
rc_is ce 0
check ce-apply-runs test "$(has ap '^eom')" -eq 1
check ce-skip-out test "$(has sk '^mail ')" -eq 0
check ce-noload-out test "$(has nl '^mail ')" -eq 0
grep_ok ce-error-logged 'condition "broken": .*broken.lua:2: the database is down' "$TMP/md-ce.err"
grep_ok ce-line 'child\.ap=accept:[0-9.]+ child\.sk=stopped@broken:[0-9.]+ child\.nl=stopped@noload:' "$TMP/md-ce.err"

# --- Configuration errors ---------------------------------------------------
printf 'function mail(s)\n  return s.sender ==\nend\n' >"$TMP/syntax.lua"
{
	printf 'condition "a" { type = "lua" script = "%s/syntax.lua" }\n' "$TMP"
	printf 'condition "b" { type = "lua" script = "%s/none.lua" }\n' "$TMP"
	printf 'condition "c" { type = "lua" }\n'
	printf 'condition "d" { type = "lua" script = "%s/broken.lua" time_limit = 0 }\n' "$TMP"
	printf 'milter "m" { socket = "unix:/m" condition_error = "maybe" }\n'
	printf 'condition "e" { type = "lua" script = "%s/broken.lua" macros = { "a b" } }\n' "$TMP"
	printf 'lua_threads = 0\nlua_queue = 0\n'
} >"$TMP/bad.conf"
conf_bad bad "$TMP/bad.conf"
grep_ok bad-syntax "bad.conf:1: condition \"a\": .*syntax.lua:3: unexpected symbol near 'end'" "$TMP/bad.out"
grep_ok bad-missing 'bad.conf:2: condition "b": .*none.lua: No such file or directory' "$TMP/bad.out"
grep_ok bad-noscript 'bad.conf:3: condition "c": no script' "$TMP/bad.out"
grep_ok bad-limit 'bad.conf:4: condition "d": time_limit 0: expected 1 to 60000' "$TMP/bad.out"
grep_ok bad-choice 'bad.conf:5: condition_error "maybe": expected apply or skip' "$TMP/bad.out"
grep_ok bad-macro 'bad.conf:6: condition "e": macros "a b": expected a macro name' "$TMP/bad.out"
grep_ok bad-threads 'bad.conf:7: lua_threads 0: expected 1 to 64 threads' "$TMP/bad.out"
grep_ok bad-queue 'bad.conf:8: lua_queue 0: expected at least 1' "$TMP/bad.out"

# --- Postfix: the shipped examples, SQLite and LDAP ---------------------------
# users.sqlite: ann off, bob on, example.org on as a domain, carol@
# example.org off (her row wins over the domain's); no row: off.
DB=$TMP/users.sqlite
sqlite3 "$DB" "CREATE TABLE users (address TEXT PRIMARY KEY, spamcheck INTEGER);
INSERT INTO users VALUES ('ann@example.com', 0), ('bob@example.com', 1),
('@example.org', 1), ('carol@example.org', 0);" || bail sqlite "sqlite3 failed"
chmod 644 "$DB"

# slapd: dc=example,dc=org, ann may sign (employeeType: sign), bob not.
set -- $(pf_free_port 1)
LDAP_PORT=$1
LDAP_URI=ldap://127.0.0.1:$1/
mkdir -p "$TMP/ldap"
cat >"$TMP/slapd.conf" <<EOS
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $TMP/slapd.pid
database mdb
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw secret
directory $TMP/ldap
maxsize 10485760
access to * by * read
EOS
bg slapd /usr/sbin/slapd -f "$TMP/slapd.conf" -h "$LDAP_URI" -d 0
wait_for 10 ldapsearch -x -H "$LDAP_URI" -b '' -s base ||
    bail slapd-start "slapd did not start: $(cat "$TMP/slapd.err")"
ldapadd -x -H "$LDAP_URI" -D cn=admin,dc=example,dc=org -w secret \
    >"$TMP/ldapadd.out" 2>&1 <<'EOS' || bail ldapadd "$(cat "$TMP/ldapadd.out")"
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: uid=ann,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: ann
cn: Ann
sn: A
mail: ann@example.com
employeeType: sign

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: B
mail: bob@example.com
employeeType: staff
EOS

tmilter spam -h 'X-Spam-Checked: yes'
tmilter sign -h 'X-Signed: yes'
milterd_start pf 'socket_mode = "0666"' \
    "condition \"spam_wanted\" { type = \"lua\" script = \"$ETC/sqlite-users.lua\" args = { \"$DB\", \"spamcheck\", \"off\" } }" \
    "condition \"may_sign\" { type = \"lua\" script = \"$ETC/ldap-users.lua\" args = { \"$LDAP_URI\", \"ou=people,dc=example,dc=org\", \"employeeType\", \"sign\" } }" \
    "$(child spam 'conditions = { "spam_wanted" }')" \
    "$(child sign 'conditions = { "may_sign" }')"
MD_PID=$BG_PID
MDLOG=$TMP/md-pf.err
pf_init "$TMP/pf" || bail postfix-init "pf_init failed"
pf_milters "unix:$TMP/md-pf.sock" || bail postfix-conf "pf_milters failed"
pf_start || bail postfix-start "pf_start failed"

# 1. To ann (off) and bob (on): spam takes the message, shown bob only.
pf_send_case two ann@example.com,bob@example.com --xclient-addr 192.0.2.1 \
    --xclient-name a.example
grep_ok two-spam '^X-Spam-Checked: yes' "$TMP/two.hdrs"
grep_ok two-spam-bob '^rcpt <bob@example\.com>' "$TMP/spam.log"
check two-spam-not-ann test "$(has spam '^rcpt <ann@')" -eq 0
# 2. To ann only, and to carol (her row over her domain's): no spam.
pf_send_case ann ann@example.com,carol@example.org --xclient-addr 192.0.2.2 \
    --xclient-name b.example
no_grep ann-no-spam '^X-Spam-Checked:' "$TMP/ann.hdrs"
# 3. To dave@example.org (the domain's row) and to nobody@else.test
# (no row: off): spam, shown dave only.
pf_send_case dom dave@example.org,nobody@else.test --xclient-addr 192.0.2.3 \
    --xclient-name c.example
grep_ok dom-spam '^X-Spam-Checked: yes' "$TMP/dom.hdrs"
check dom-spam-dave test "$(has spam '^rcpt <dave@example\.org>')" -eq 1
check dom-spam-not-nobody test "$(has spam '^rcpt <nobody@')" -eq 0
# 4. LDAP: ann logged in (XCLIENT LOGIN) may sign; bob may not; no
# login: the envelope sender, alice, has no entry.
pf_send_case ldap-ann bob@example.com --xclient-addr 192.0.2.4 \
    --xclient-name d.example --xclient-login ann
grep_ok ldap-ann-signed '^X-Signed: yes' "$TMP/ldap-ann.hdrs"
pf_send_case ldap-bob bob@example.com --xclient-addr 192.0.2.5 \
    --xclient-name e.example --xclient-login bob
no_grep ldap-bob-not-signed '^X-Signed:' "$TMP/ldap-bob.hdrs"
pf_send_case ldap-none bob@example.com --xclient-addr 192.0.2.6 \
    --xclient-name f.example
no_grep ldap-none-not-signed '^X-Signed:' "$TMP/ldap-none.hdrs"
check sign-one-eom test "$(has sign '^eom')" -eq 1
no_grep pf-no-lua-errors 'condition "(spam_wanted|may_sign)":' "$MDLOG"

kill "$MD_PID" 2>/dev/null
_pf_poll 20 _pf_dead "$MD_PID" ||
    fail milterd-stop "milterd $MD_PID does not exit on SIGTERM"

# --- A slow LDAP server: the worker goes on ----------------------------------
# slapd behind a relay that holds every query until $TMP/release exists
# (t/tools/holdrelay.py).  One worker.  While a session waits on LDAP,
# sessions that do not ask it are served: counted, not timed; with
# mtasim, then end to end with Postfix.  A
# second milterd (one lookup thread, a queue of one, time_limit 200):
# a query that hangs in a C function ends the wait after time_limit
# and a second (condition_error), a lookup past the queue is refused,
# both counted; the late answers, once released, find nothing.
# global_stat NAME KEY: milterd NAME's session-wide counter KEY.
global_stat() {
	"$BUILD/milterctl" -s "$TMP/md-$1.ctl" -j stats 2>&1 |
	    /usr/bin/python3 -c 'import json, sys
print(json.load(sys.stdin)[sys.argv[1]])' "$2" 2>&1
}
# lines_over FILE N: FILE has more than N lines (for wait_for).
lines_over() {
	test "$(wc -l <"$1")" -gt "$2"
}
set -- $(pf_free_port 1)
RELAY_URI=ldap://127.0.0.1:$1/
bg relay /usr/bin/python3 "$T/tools/holdrelay.py" "$1" "$LDAP_PORT" \
    "$TMP/held" "$TMP/release"
tmilter slowsign
tmilter quick
LDAP_ARGS="args = { \"$RELAY_URI\", \"ou=people,dc=example,dc=org\", \"employeeType\", \"sign\" }"
milterd_start slow 'socket_mode = "0666"' \
    "condition \"ours\" { type = \"sender\" list = { \"@example.com\" } }" \
    "condition \"may_sign\" { type = \"lua\" script = \"$ETC/ldap-users.lua\" $LDAP_ARGS time_limit = 60000 }" \
    "$(child slowsign 'conditions = { "ours", "may_sign" }')"
milterd_start late 'lua_threads = 1' 'lua_queue = 1' \
    "condition \"quick\" { type = \"lua\" script = \"$ETC/ldap-users.lua\" $LDAP_ARGS time_limit = 200 }" \
    "$(child quick 'conditions = { "quick" } condition_error = "skip"')"
( mtasim_run held -t 300 -s "unix:$TMP/md-slow.sock" -f ann@example.com \
    -r bob@x.test "$MSG"; echo "$RC" >"$TMP/held.rc" ) &
HELD_PID=$!
wait_for 20 test -s "$TMP/held" || fail held "the LDAP query was not held"
# Five sessions from another domain: "ours" does not hold, no LDAP.
( for i in 1 2 3 4 5; do
	mtasim_run "flow$i" -s "unix:$TMP/md-slow.sock" \
	    -f "u$i@other.test" -r bob@x.test "$MSG"
	[ "$RC" -ne 0 ] || echo "$i" >>"$TMP/flowed"
done ) &
FLOW_PID=$!
touch "$TMP/flowed"
wait_for 30 lines_over "$TMP/flowed" 4
check flowed-while-held test "$(wc -l <"$TMP/flowed")" = 5
check held-still-waiting test ! -e "$TMP/held.rc" ||
    cat "$TMP/held.out" "$TMP/held.rc"
check flowed-eoms test "$(has slowsign '^eom')" -eq 0
# The same end to end with Postfix, its smtpd's milter now md-slow: one
# session held on LDAP, five others delivered meanwhile.
pf_milters "unix:$TMP/md-slow.sock" && pf_conf "milter_command_timeout = 300s" &&
    pf_reload || fail pf-slow-conf "pf_milters or pf_reload failed"
NHELD=$(wc -l <"$TMP/held")
( pf_send --helo client.example --from ann@example.com --to bob@x.test \
    --header "X-Case: pfheld"; echo "$?" >"$TMP/pfheld.rc" ) &
PFHELD_PID=$!
wait_for 20 lines_over "$TMP/held" "$NHELD" ||
    fail pf-held "the Postfix session's LDAP query was not held"
PF_BEFORE=$(pf_sink_files | wc -l)
for i in 1 2 3 4 5; do
	pf_send --helo client.example --from "u$i@other.test" --to bob@x.test \
	    --header "X-Case: pfflow$i" || fail "pf-flow$i" "swaks: $?"
done
check pf-flowed-while-held pf_wait_sink $((PF_BEFORE + 5)) 30
check pf-held-still-waiting test ! -e "$TMP/pfheld.rc"
check pf-held-not-delivered test "$(pf_sink_files | tr '\n' '\0' |
    xargs -0 grep -l '^X-Case: pfheld' | wc -l)" -eq 0
# The second milterd: its one thread hangs in the held bind.
mtasim_run late1 -s "unix:$TMP/md-late.sock" -f ann@example.com "$MSG"
rc_is late1 0
grep_ok late1-logged 'condition "quick": no answer within its time_limit of 200 ms and 1000 ms: condition_error decides' "$TMP/md-late.err"
check late1-skipped test "$(has quick '^mail ')" -eq 0
check late1-counted test "$(global_stat late lookups_late)" = 1
# The thread is still held: one more waits in the queue (and is late),
# the other finds it full.
( mtasim_run late2 -s "unix:$TMP/md-late.sock" -f ann@example.com "$MSG"
    echo "$RC" >"$TMP/late2.rc" ) &
( mtasim_run late3 -s "unix:$TMP/md-late.sock" -f ann@example.com "$MSG"
    echo "$RC" >"$TMP/late3.rc" ) &
wait_for 30 test -s "$TMP/late2.rc" -a -s "$TMP/late3.rc"
check late23-rc test "$(cat "$TMP/late2.rc" "$TMP/late3.rc")" = "0
0"
check late-refused test "$(global_stat late lookups_refused)" = 1
check late-late test "$(global_stat late lookups_late)" = 2
grep_ok late-refused-logged 'condition "quick": 1 lookups wait already \(lua_queue\): condition_error decides' "$TMP/md-late.err"
check late23-skipped test "$(has quick '^mail ')" -eq 0
# Released: the held session gets its answer, the late answers nobody.
touch "$TMP/release"
wait_for 30 test -s "$TMP/held.rc"
check held-rc test "$(cat "$TMP/held.rc" 2>/dev/null)" = 0
wait_for 60 test -s "$TMP/pfheld.rc"
check pf-held-rc test "$(cat "$TMP/pfheld.rc" 2>/dev/null)" = 0
check pf-held-delivered pf_wait_sink $((PF_BEFORE + 6)) 30
# Both held sessions, mtasim's and Postfix's: ann may sign.
check held-signed test "$(has slowsign '^eom')" -eq 2
wait "$HELD_PID" "$FLOW_PID" "$PFHELD_PID"
mtasim_run late4 -s "unix:$TMP/md-late.sock" -f ann@example.com "$MSG"
rc_is late4 0
check late4-applied test "$(has quick '^eom')" -eq 1
# A reload while a lookup hangs: the old worker ends once its session
# has (the wait bound), leaving its busy thread to exit(); the new
# worker serves.
rm -f "$TMP/release"
NHELD=$(wc -l <"$TMP/held")
OLD_WORKER=$(worker_pid late)
( mtasim_run late5 -s "unix:$TMP/md-late.sock" -f ann@example.com "$MSG"
    echo "$RC" >"$TMP/late5.rc" ) &
wait_for 20 lines_over "$TMP/held" "$NHELD" ||
    fail late5-held "the second query was not held"
kill -HUP "$(cat "$TMP/md-late.pid")"
wait_for 20 grep -q 'reloaded: generation' "$TMP/md-late.err"
wait_for 30 test -s "$TMP/late5.rc"
check late5-rc test "$(cat "$TMP/late5.rc")" = 0
wait_for 30 grep -q 'a lookup thread is still busy: left to exit' \
    "$TMP/md-late.err"
grep_ok reload-busy-thread 'a lookup thread is still busy: left to exit' \
    "$TMP/md-late.err"
wait_for 30 sh -c "! kill -0 $OLD_WORKER"
check old-worker-gone sh -c "! kill -0 $OLD_WORKER"
touch "$TMP/release"
mtasim_run late6 -s "unix:$TMP/md-late.sock" -f ann@example.com "$MSG"
rc_is late6 0
check late6-applied test "$(has quick '^eom')" -eq 2
finish
