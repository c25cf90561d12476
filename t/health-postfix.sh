#!/bin/sh
# Child health with Postfix end to end: one child's host drops packets
# (t/milters/blackhole.py).  A private Postfix (t/lib/postfix.sh) with
# max_use = 1, so that an smtpd exits after its one session, and two
# smtpd listeners, each pointed at its own milterd:
#   on:  the default health check: two sessions wait connect_timeout
#        and the child is down; then N clients at once are all served
#        without waiting for it (its fallback, accept, at once), and
#        their smtpd processes are gone once they are: none piles up.
#   off: failures_to_down = 0, as before: N clients at once, and N smtpd
#        processes held while milterd waits on the dead child for each.
# Counts of processes and log lines, polled; no time is asserted.
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
on_exit pf_stop

N=6
bg hole /usr/bin/python3 "$T/milters/blackhole.py" "$TMP/hole.port"
wait_for 20 test -s "$TMP/hole.port" || bail hole-start "blackhole.py did not start"
H="inet:$(cat "$TMP/hole.port")@127.0.0.1"
tmilter good
milterd_start on 'socket_mode = "0666"' "workers = 2" "$(child good)" \
    "milter \"hole\" { socket = \"$H\" connect_timeout = 3 failures_to_down = 2 down_time = 300 fallback = \"accept\" }"
milterd_start off 'socket_mode = "0666"' "workers = 2" "$(child good)" \
    "milter \"hole\" { socket = \"$H\" connect_timeout = 300 failures_to_down = 0 fallback = \"accept\" }"

pf_init "$TMP/pf" || bail postfix-init "pf_init failed"
# shellcheck disable=SC2046
set -- $(pf_free_port 2)
PORT_on=$1
PORT_off=$2
for _c in on off; do
	echo "127.0.0.1:$(eval echo "\$PORT_$_c") inet n - n - - smtpd -o smtpd_milters=unix:$TMP/md-$_c.sock" \
	    >>"$PF_ETC/master.cf"
done
pf_conf "max_use = 1" "milter_connect_timeout = 600s" \
    "milter_command_timeout = 600s" || bail postfix-conf "pf_conf failed"
_pf_cool "$PF_ETC/master.cf"
pf_start || bail postfix-start "pf_start failed"
wait_for 10 _pf_listening "$PORT_on" || bail postfix-start "port $PORT_on"
wait_for 10 _pf_listening "$PORT_off" || bail postfix-start "port $PORT_off"

# send NAME PORT: one message with swaks, in the background.
send() {
	bg "swaks-$1" swaks --server 127.0.0.1 --port "$2" \
	    --from alice@example.com --to bob@example.org \
	    --h-Subject "health $1" </dev/null
}

# smtpds PORT: how many smtpd processes serve that listener.
smtpds() {
	pgrep -f "smtpd -n 127.0.0.1:$1( |\$)" | wc -l
}

# queued PREFIX: how many of the swaks runs PREFIX* got their message
# queued.
queued() {
	cat "$TMP"/swaks-"$1"*.err 2>/dev/null | grep -c ' Ok: queued'
}

# has WANT CMD...: does CMD print WANT (polled by wait_for)?
has() {
	_want=$1
	shift
	[ "$("$@")" -eq "$_want" ]
}

is() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

# on: two sessions find the child dead, one after the other.
for i in 1 2; do
	send "warm$i" "$PORT_on"
	wait_for 60 has 1 queued "warm$i" || fail "warm$i" "not queued"
done
grep_ok on-down "child hole: address $H: down for 300s after 2 failures in a row" "$TMP/md-on.err"
i=0
while [ $i -lt $N ]; do
	i=$((i + 1))
	send "on$i" "$PORT_on"
done
if wait_for 60 has $N queued on; then
	ok on-queued
else
	fail on-queued "$(queued on) of $N queued"
fi
is on-no-more-waits "$(grep -c 'child hole: connect: timeout' "$TMP/md-on.err")" 2
is on-skipped "$(grep -c 'child hole: skipped as down' "$TMP/md-on.err")" $N
if wait_for 30 has 0 smtpds "$PORT_on"; then
	ok on-no-pile-up
else
	fail on-no-pile-up "$(smtpds "$PORT_on") smtpd left"
fi
pf_wait_sink $((N + 2)) 60 || fail on-delivered "not all delivered"

# off: the same clients pile up, each smtpd held by milterd's wait.
i=0
while [ $i -lt $N ]; do
	i=$((i + 1))
	send "off$i" "$PORT_off"
done
if wait_for 60 has $N smtpds "$PORT_off"; then
	ok off-piled
else
	fail off-piled "$(smtpds "$PORT_off") smtpd, not $N"
fi
is off-none-queued "$(queued off)" 0
# The list of open sessions is published every second: polled.
waiting_on_hole() {
	"$BUILD/milterctl" -s "$TMP/md-off.ctl" sessions 2>&1 |
	    grep -c ' start  *hole '
}
if wait_for 10 has $N waiting_on_hole; then
	ok off-all-wait-hole
else
	fail off-all-wait-hole "$(waiting_on_hole) sessions wait on hole, not $N"
fi

finish
