#!/bin/sh
# dnsbl conditions against a DNS server the test starts (dnsmasq, a
# private zone bl.test on a free port): a listed client (IPv4 and
# IPv6) gets the child for listed clients, a clean one the other; a
# zone's answer pattern; the worker's cache (one query per name, seen
# in dnsmasq's query log); a server that never answers (a timeout:
# not listed, logged); configuration errors.
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"

MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\n\nbody\n' >"$MSG"
set -- $(pf_free_port 2)
DNS_PORT=$1
DEAF_PORT=$2
V6NAME=5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2

bg dnsmasq /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null \
    --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces \
    --no-resolv --no-hosts --pid-file= --user=root --local=/bl.test/ \
    --host-record=9.2.0.192.bl.test,127.0.0.2 \
    --host-record=10.2.0.192.bl.test,127.0.0.10 \
    --host-record="$V6NAME.bl.test,127.0.0.4" \
    --local-ttl=300 --log-queries --log-facility="$TMP/dnsmasq.log"
wait_for 10 grep -q 'started' "$TMP/dnsmasq.log" ||
    bail dnsmasq-start "dnsmasq did not start: $(cat "$TMP/dnsmasq.err")"

# A server that takes queries and never answers.
bg deaf /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
while True:
    s.recvfrom(512)
    print("query", flush=True)
' "$DEAF_PORT"
wait_for 10 grep -q ready "$TMP/deaf.err" || bail deaf-start "no deaf server"

# spam: for listed clients; clean: for the others; strict: listed with
# 127.0.0.[2..4] only (192.0.2.10 answers 127.0.0.10).
tmilter spam
tmilter clean
tmilter strict
milterd_start bl "dns_servers = { \"127.0.0.1:$DNS_PORT\" }" \
    'condition "listed" { type = "dnsbl" zones = { "bl.test" } }' \
    'condition "listed2" { type = "dnsbl" zones = { "bl.test=127.0.0.[2..4]" } timeout = 3 }' \
    "$(child spam 'conditions = { "listed" }')" \
    "$(child clean 'conditions = { "!listed" }')" \
    "$(child strict 'conditions = { "listed2" }')"
S="unix:$TMP/md-bl.sock"

connects() {
	grep -c '^connect' "$TMP/$1.log" 2>/dev/null
	true
}

# A listed IPv4 client: spam and strict, not clean.
mtasim_run listed -s "$S" -a 192.0.2.9 -N a.example "$MSG"
rc_is listed 0
check listed-spam test "$(connects spam)" -eq 1
check listed-strict test "$(connects strict)" -eq 1
check listed-not-clean test "$(connects clean)" -eq 0
wait_for 10 grep -q 'session=.*192\.0\.2\.9' "$TMP/md-bl.err"
grep_ok listed-line 'client=a\.example\[192\.0\.2\.9\] children=spam,clean,strict child\.spam=accept:[0-9.]+ child\.clean=stopped@!listed:[0-9.]+ child\.strict=accept' "$TMP/md-bl.err"

# Listed with 127.0.0.10: spam, not strict (its pattern), not clean.
mtasim_run pattern -s "$S" -a 192.0.2.10 -N b.example "$MSG"
rc_is pattern 0
check pattern-spam test "$(connects spam)" -eq 2
check pattern-not-strict test "$(connects strict)" -eq 1
check pattern-not-clean test "$(connects clean)" -eq 0

# Not listed (NXDOMAIN): clean only.
mtasim_run clean -s "$S" -a 192.0.2.11 -N c.example "$MSG"
rc_is clean 0
check clean-clean test "$(connects clean)" -eq 1
check clean-not-spam test "$(connects spam)" -eq 2

# IPv6, nibbles reversed.
mtasim_run v6 -s "$S" -a 2001:db8::25 -N d.example "$MSG"
rc_is v6 0
check v6-spam test "$(connects spam)" -eq 3
check v6-strict test "$(connects strict)" -eq 2

# The cache: the same clients again, and no new query for them.
mtasim_run again -s "$S" -a 192.0.2.9 -N a.example "$MSG"
rc_is again 0
mtasim_run again2 -s "$S" -a 192.0.2.11 -N c.example "$MSG"
rc_is again2 0
check again-spam test "$(connects spam)" -eq 4
check again-clean test "$(connects clean)" -eq 2
check cached-listed test "$(grep -ci 'query\[A\] 9\.2\.0\.192\.bl\.test' "$TMP/dnsmasq.log")" -eq 1
check cached-nxdomain test "$(grep -ci 'query\[A\] 11\.2\.0\.192\.bl\.test' "$TMP/dnsmasq.log")" -eq 1
for pair in spam:2 clean:4 strict:3; do
	check "stopped-${pair%%:*}" test "$(child_stat bl "${pair%%:*}" stopped)" = "${pair#*:}"
done

# No answer in time: not listed, said so; the session goes on.
tmilter spam2
tmilter clean2
milterd_start deaf "dns_servers = { \"127.0.0.1:$DEAF_PORT\" }" \
    'condition "listed" { type = "dnsbl" zones = { "bl.test" } timeout = 1 }' \
    "$(child spam2 'conditions = { "listed" }')" \
    "$(child clean2 'conditions = { "!listed" }')"
mtasim_run deaf -s "unix:$TMP/md-deaf.sock" -a 192.0.2.9 -N a.example "$MSG"
rc_is deaf 0
check deaf-clean test "$(connects clean2)" -eq 1
check deaf-not-spam test "$(connects spam2)" -eq 0
grep_ok deaf-logged 'dnsbl: 9\.2\.0\.192\.bl\.test: no answer in time, taken as not listed' "$TMP/md-deaf.err"

# A child that dies while the lookups are under way gives its fallback
# (reject) at connect.
tmilter dies
DIES_PID=$BG_PID
milterd_start dies "dns_servers = { \"127.0.0.1:$DEAF_PORT\" }" \
    'condition "listed" { type = "dnsbl" zones = { "bl.test" } timeout = 2 }' \
    "$(child dies 'fallback = "reject"')" \
    "$(child clean2 'conditions = { "!listed" }')"
QUERIES=$(grep -c query "$TMP/deaf.err")
"$BUILD/mtasim" -s "unix:$TMP/md-dies.sock" -a 192.0.2.30 "$MSG" \
    >"$TMP/dies.out" 2>&1 &
MTASIM=$!
wait_for 10 sh -c "test \$(grep -c query '$TMP/deaf.err') -gt $QUERIES" ||
    fail dies-query "no query reached the server"
kill -9 "$DIES_PID"
wait "$MTASIM"
RC=$?
rc_is dies 1
grep_ok dies-rejected 'connect: reject' "$TMP/dies.out"

# Configuration errors, with their lines.
printf 'condition "a" { type = "dnsbl" }\ncondition "b" { type = "dnsbl" zones = { "bl.test=127.0.0.[2..300]" } }\ncondition "c" { type = "dnsbl" zones = { "x" } timeout = 0 }\n' >"$TMP/bad.conf"
conf_bad bad "$TMP/bad.conf"
grep_ok bad-nozones 'bad.conf:1: condition "a": no zones' "$TMP/bad.out"
grep_ok bad-zone 'bad.conf:2: condition "b": zone "bl.test=127.0.0.\[2..300\]": expected a domain' "$TMP/bad.out"
grep_ok bad-timeout 'bad.conf:3: condition "c": timeout 0: expected 1 to 60 seconds' "$TMP/bad.out"

finish
