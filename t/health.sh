#!/bin/sh
# Child health (milterd.conf(5): failures_to_down, down_time, balance):
# a child whose host drops packets (a listener with a full accept queue,
# t/milters/blackhole.py) and one that refuses cost failures_to_down
# sessions their failure, then sessions skip them (their fallback at
# once), shared by the two workers; they come back through one probe
# once they answer; a failed probe doubles down_time; one log line per
# change of health; failover and round-robin between two addresses;
# milterctl status, /metrics and /health agree; host names resolved
# when connecting (dnsmasq), a warning when they do not at load.
. "$(dirname "$0")/lib/test.sh"

PY=/usr/bin/python3
MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\n\nbody\n' >"$MSG"

# JSON of $1, expression $2 (as j) printed.
jget() {
	$PY -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) else v)' "$1" "$2"
}

# is NAME GOT WANT
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

# status NAME: milterctl -j status of md-h into $TMP/NAME.json.
status() {
	"$BUILD/milterctl" -s "$TMP/md-h.ctl" -j status >"$TMP/$1.json" \
	    2>>"$TMP/milterctl.err"
}

# child_state FILE CHILD [ADDRESS-INDEX]
child_state() {
	if [ $# -eq 2 ]; then
		jget "$1" "[c['state'] for c in j['children'] if c['name'] == '$2'][0]"
	else
		jget "$1" "[c['addresses'][$3]['state'] for c in j['children'] if c['name'] == '$2'][0]"
	fi
}

# count PATTERN FILE: lines of FILE matching PATTERN (ERE).
count() {
	grep -Ec -- "$1" "$2"
}

# session N: one session through md-h; its exit status must be 0.
SESSIONS=0
session() {
	SESSIONS=$((SESSIONS + 1))
	"$BUILD/mtasim" -s "unix:$TMP/md-$1.sock" -r b@example.com "$MSG" \
	    >"$TMP/session-$SESSIONS.out" 2>&1
}

# came_up NAME CHILD: a session, then is CHILD up in status?
came_up() {
	session "$1"
	"$BUILD/milterctl" -s "$TMP/md-$1.ctl" -j status >"$TMP/up.json" &&
	    [ "$(child_state "$TMP/up.json" "$2")" = up ]
}

# probed NAME PATTERN: a session, then has the log PATTERN?
probed() {
	session "$1"
	grep -Eq -- "$2" "$TMP/md-$1.err"
}

bg hole $PY "$T/milters/blackhole.py" "$TMP/hole.port"
HOLE_PID=$BG_PID
wait_for 20 test -s "$TMP/hole.port" || bail hole-start "blackhole.py did not start"
HOLE=$(cat "$TMP/hole.port")
REFUSE=$(free_port)
MPORT=$(free_port)
tmilter good -h 'X-Good: yes'
H="inet:$HOLE@127.0.0.1"
R="inet:$REFUSE@127.0.0.1"

# The configuration takes the new keys; bad values are refused clearly.
printf 'milter "x" { socket = { "unix:/a", "unix:/b" } balance = "random" failures_to_down = -1 down_time = 0 }\n' >"$TMP/bad.conf"
conf_bad conf-bad "$TMP/bad.conf"
grep_ok conf-bad-balance 'balance "random": expected failover or round-robin' "$TMP/conf-bad.out"
grep_ok conf-bad-failures 'failures_to_down -1: out of range' "$TMP/conf-bad.out"
grep_ok conf-bad-down-time 'down_time 0: expected 1 to 86400 seconds' "$TMP/conf-bad.out"
printf 'milter "x" { socket = { "unix:/1", "unix:/2", "unix:/3", "unix:/4", "unix:/5", "unix:/6", "unix:/7", "unix:/8", "unix:/9" } }\n' >"$TMP/many.conf"
conf_bad conf-many "$TMP/many.conf"
grep_ok conf-many-why 'socket: at most 8 sockets' "$TMP/conf-many.out"

milterd_start h "workers = 2" "metrics_listen = \"127.0.0.1:$MPORT\"" \
    "$(child good)" \
    "milter \"hole\" { socket = \"$H\" connect_timeout = 1 failures_to_down = 2 down_time = 5 fallback = \"accept\" }" \
    "milter \"refuse\" { socket = \"$R\" failures_to_down = 2 down_time = 5 fallback = \"accept\" }"

# Five sessions: the first two try both dead children, the next three
# skip them.
for i in 1 2 3 4 5; do
	session h || fail "session-$i" "exit status $?"
done
LOG=$TMP/md-h.err
is hole-tried-twice "$(count "child hole: connect: timeout" "$LOG")" 2
is refuse-tried-twice "$(count "child refuse: connect: Connection refused; fallback accept" "$LOG")" 2
is hole-down-once "$(count "child hole: address $H: down for 5s after 2 failures in a row" "$LOG")" 1
is refuse-down-once "$(count "child refuse: address $R: down for 5s after 2 failures in a row" "$LOG")" 1
is hole-skipped "$(count "child hole: skipped as down \(2 failures in a row, the last: connect: timeout\); fallback accept" "$LOG")" 3
is refuse-skipped "$(count "child refuse: skipped as down .*; fallback accept" "$LOG")" 3
# The session's log line says which children were skipped as down.
is session-line-down "$(count " child\.hole=down:0\.000 child\.refuse=down:0\.000 " "$LOG")" 3
is good-all "$(count '^connect ' "$TMP/good.log")" 5
is hole-skipped-counted "$(child_stat h hole skipped)" 3
is hole-fallbacks-counted "$(child_stat h hole fallbacks)" 5

# status, /metrics and /health agree.
status down
is status-hole-down "$(child_state "$TMP/down.json" hole)" down
is status-refuse-down "$(child_state "$TMP/down.json" refuse)" down
is status-good-up "$(child_state "$TMP/down.json" good)" up
is status-hole-addr-down "$(child_state "$TMP/down.json" hole 0)" down
is status-hole-why "$(jget "$TMP/down.json" "[c['addresses'][0]['why'] for c in j['children'] if c['name'] == 'hole'][0]")" \
    "2 failures in a row, the last: connect: timeout"
"$BUILD/milterctl" -s "$TMP/md-h.ctl" status >"$TMP/down.txt" 2>&1
grep_ok status-text-child "^hole +\* +down +20[0-9-]+T" "$TMP/down.txt"
grep_ok status-text-address "^hole +$H +down +20[0-9-]+T[0-9:]+Z +2 failures in a row" "$TMP/down.txt"
is health-503 "$(http_get "http://127.0.0.1:$MPORT/health" "$TMP/health-down.txt")" 503
grep_ok health-names "^milterd: not up: hole \(down\), refuse \(down\); 1 up\$" "$TMP/health-down.txt"
is metrics-200 "$(http_get "http://127.0.0.1:$MPORT/metrics" "$TMP/m-down.txt")" 200
grep_ok metrics-hole-0 '^milterd_child_up\{child="hole"\} 0$' "$TMP/m-down.txt"
grep_ok metrics-good-1 '^milterd_child_up\{child="good"\} 1$' "$TMP/m-down.txt"
grep_ok metrics-hole-addr-0 "^milterd_child_address_up\{child=\"hole\",address=\"$H\"\} 0\$" "$TMP/m-down.txt"
grep_ok metrics-hole-changes '^milterd_child_state_changes_total\{child="hole"\} 1$' "$TMP/m-down.txt"
grep_ok metrics-hole-skipped '^milterd_child_skipped_total\{child="hole"\} 3$' "$TMP/m-down.txt"

# After down_time one session probes refuse; it still refuses: down
# again, for twice as long.
wait_for 20 probed h "child refuse: address $R: probing" || fail refuse-probed "no probe"
is refuse-probe-failed "$(count "child refuse: address $R: down for 10s after 3 failures in a row" "$LOG")" 1
status doubled
is refuse-doubled "$(jget "$TMP/doubled.json" "[c['addresses'][0]['down_time'] for c in j['children'] if c['name'] == 'refuse'][0]")" 10

# Both answer again: each comes back through one probe.
kill -9 "$HOLE_PID"
bg rmilter "$BUILD/tmilter" -p "$R" -l "$TMP/rmilter.log"
bg hmilter "$BUILD/tmilter" -p "$H" -l "$TMP/hmilter.log"
wait_for 40 came_up h refuse || fail refuse-came-up "still not up"
wait_for 40 came_up h hole || fail hole-came-up "still not up"
is hole-up-once "$(count "child hole: address $H: up again \(was probing\)" "$LOG")" 1
is refuse-up-once "$(count "child refuse: address $R: up again \(was probing\)" "$LOG")" 1
# One line per change, as many as counted.
is hole-lines-changes "$(count "child hole: address $H: (down for|probing|up again)" "$LOG")" \
    "$(child_stat h hole state_changes)"
is refuse-lines-changes "$(count "child refuse: address $R: (down for|probing|up again)" "$LOG")" \
    "$(child_stat h refuse state_changes)"
session h || fail session-after "exit status $?"
grep_ok hole-serves '^connect ' "$TMP/hmilter.log"
status up
is status-hole-up "$(child_state "$TMP/up.json" hole)" up
is health-200 "$(http_get "http://127.0.0.1:$MPORT/health" "$TMP/health-up.txt")" 200
grep_ok health-ok '^milterd: ok, 3 enabled children up$' "$TMP/health-up.txt"
http_get "http://127.0.0.1:$MPORT/metrics" "$TMP/m-up.txt" >/dev/null
is metrics-all-up "$(count '^milterd_child_up\{child="[a-z]+"\} 1$' "$TMP/m-up.txt")" 3

# Failover: the first address refuses; two sessions find it down, then
# every session goes to the second at once.  No fallback ever.
DEAD=$(free_port)
D="inet:$DEAD@127.0.0.1"
tmilter fo
tmilter rr1
tmilter rr2
milterd_start b "workers = 2" \
    "milter \"fo\" { socket = { \"$D\", \"unix:$TMP/fo.sock\" } failures_to_down = 2 down_time = 300 }" \
    "milter \"rr\" { socket = { \"unix:$TMP/rr1.sock\", \"unix:$TMP/rr2.sock\" } balance = \"round-robin\" }"
for i in 1 2 3 4 5 6; do
	session b || fail "b-session-$i" "exit status $?"
done
is fo-all "$(count '^connect ' "$TMP/fo.log")" 6
is fo-moved-on "$(count "child fo: connect: Connection refused; trying unix:$TMP/fo.sock" "$TMP/md-b.err")" 2
is fo-no-fallback "$(child_stat b fo fallbacks)" 0
"$BUILD/milterctl" -s "$TMP/md-b.ctl" -j status >"$TMP/b.json" 2>&1
is fo-child-up "$(child_state "$TMP/b.json" fo)" up
is fo-first-down "$(child_state "$TMP/b.json" fo 0)" down
is fo-second-up "$(child_state "$TMP/b.json" fo 1)" up
# Round-robin: six sessions, three each, whichever worker took them.
is rr-first "$(count '^connect ' "$TMP/rr1.log")" 3
is rr-second "$(count '^connect ' "$TMP/rr2.log")" 3

# Host names: a name that does not resolve at load is a warning; it is
# resolved when connecting (here with dns_servers, which know it while
# the system's resolver does not), and cached for its TTL: one query
# for three sessions.
printf 'milter "n" { socket = "inet:1@nowhere.invalid" }\n' >"$TMP/name.conf"
check name-load-ok "$BUILD/milterd" -n -f "$TMP/name.conf"
"$BUILD/milterd" -n -f "$TMP/name.conf" >"$TMP/name.out" 2>&1
grep_ok name-load-warning 'warning: milter "n": socket 1@nowhere.invalid: .*; resolved again when connecting' "$TMP/name.out"
DNS_PORT=$(free_port)
KPORT=$(free_port)
bg dnsmasq /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null \
    --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces \
    --no-resolv --no-hosts --pid-file= --user=root --local=/milter.test/ \
    --host-record=kid.milter.test,127.0.0.1 \
    --local-ttl=300 --log-queries --log-facility="$TMP/dnsmasq.log"
wait_for 10 grep -q 'started' "$TMP/dnsmasq.log" ||
    bail dnsmasq-start "dnsmasq did not start: $(cat "$TMP/dnsmasq.err")"
bg kid "$BUILD/tmilter" -p "inet:$KPORT@127.0.0.1" -l "$TMP/kid.log"
wait_for 10 ss -ltn "sport = :$KPORT" | grep -q LISTEN
milterd_start dns "dns_servers = { \"127.0.0.1:$DNS_PORT\" }" \
    "milter \"kid\" { socket = \"inet:$KPORT@kid.milter.test\" fallback = \"reject\" }"
grep_ok name-warned-at-start "warning: milter \"kid\": socket $KPORT@kid.milter.test" "$TMP/md-dns.err"
for i in 1 2 3; do
	session dns || fail "dns-session-$i" "exit status $?"
done
is name-connected "$(count '^connect ' "$TMP/kid.log")" 3
is name-asked-once "$(grep -ci 'query\[A\] kid\.milter\.test' "$TMP/dnsmasq.log")" 1

# failures_to_down = 0: health off, every session tries the child.
milterd_start off \
    "milter \"refuse\" { socket = \"$D\" failures_to_down = 0 fallback = \"accept\" }"
for i in 1 2 3 4; do
	session off || fail "off-session-$i" "exit status $?"
done
is off-tried-each "$(count "child refuse: connect: Connection refused; fallback accept" "$TMP/md-off.err")" 4
no_grep off-never-skipped "skipped as down" "$TMP/md-off.err"

finish
