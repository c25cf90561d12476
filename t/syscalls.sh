#!/bin/sh
# syscalls.sh -- what a session costs milterd's workers in system calls
# (issue 19: on this path the kernel, not milterd's own code, is most of
# the cost), counted with strace -c (installed by bin/setup) on the two
# workers of one milterd over N sessions that mtasim runs one after
# another, one child (tmilter) that adds a header at end of message.
# (Both workers are woken by each connection; one of them finds
# nothing to accept: see HACKING on EPOLLEXCLUSIVE.)
#
#   netlink:  the disconnect check's first look at connect (mtasim
#             gives a client address and the MTA's end of it): its
#             answer is read, and no recvfrom() more to hear EAGAIN.
#   writes:   a session writes at most WRITES times (the log line
#             included; a few more lines the worker logs besides are
#             allowed for): one write per packet burst.
. "$(dirname "$0")/lib/test.sh"

command -v strace >/dev/null 2>&1 ||
    bail strace "strace is missing: run bin/setup"
N=20
# Per session: a write per packet to the child and per reply to the
# MTA (mtasim asks a reply for each command; the child's header and the
# reply at end of message are two), the log line.
WRITES=23
MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\n\nbody\n' \
    >"$MSG"

tmilter t -O -h 'X-Test: 1'
cat >"$TMP/md.conf" <<EOF
listen = "unix:$TMP/md.sock"
pidfile = "$TMP/md.pid"
control = "$TMP/md.ctl"
state_file = ""
workers = 2
spool_dir = "$TMP/spool"
$(child t)
EOF
bg md "$BUILD/milterd" -d -f "$TMP/md.conf"
wait_for 10 test -S "$TMP/md.sock" || bail start "milterd did not start"

# workers: the pids of milterd's workers, once both serve.
workers() {
	"$BUILD/milterctl" -s "$TMP/md.ctl" -j status 2>/dev/null |
	    /usr/bin/python3 -c 'import json, sys
w = [str(x["pid"]) for x in json.load(sys.stdin)["workers"] if x["pid"]]
print(" ".join(w) if len(w) == 2 else "")' 2>/dev/null
}
two_workers() {
	test -n "$(workers)"
}
wait_for 10 two_workers || bail workers "milterd has not two workers"
set --
for p in $(workers); do
	set -- "$@" -p "$p"
done
strace -c -f -o "$TMP/strace.out" "$@" 2>"$TMP/strace.err" &
st=$!
on_exit "kill $st 2>/dev/null"
attached() {
	test "$(grep -c attached "$TMP/strace.err")" -ge 2
}
wait_for 10 attached ||
    bail strace "strace did not attach: $(cat "$TMP/strace.err")"
# ended N: milterd has logged N sessions.
ended() {
	test "$(grep -c '^worker .*session=' "$TMP/md.err")" -ge "$1"
}
# One session at a time, each once the one before has ended: both
# workers wait when the next connects.
i=0
while [ "$i" -lt "$N" ]; do
	mtasim_run run -s "unix:$TMP/md.sock" -a 127.0.0.1 \
	    -m 'connect:{daemon_addr}=127.0.0.1' \
	    -m 'connect:{daemon_port}=25' -r b@example.com "$MSG"
	[ "$RC" -eq 0 ] || break
	i=$((i + 1))
	wait_for 10 ended "$i" || break
done
check "$N sessions, one at a time" test "$i" -eq "$N"
rc_is run 0
kill -INT "$st"
wait "$st"

# calls NAME [errors]: how many NAME calls strace counted (or of those,
# how many failed).
calls() {
	awk -v c="$1" -v e="${2:-}" '$NF == c {
		n = e == "" ? $4 : ($5 ~ /^[0-9]+$/ ? $5 : 0)
	} END { print n + 0 }' "$TMP/strace.out"
}
# is_at_most NAME GOT MAX
is_at_most() {
	echo "# $1: $2"
	if [ "${2:-0}" -le "$3" ]; then
		ok "$1"
	else
		fail "$1" "$2, more than $3"
		sed 's/^/    | /' "$TMP/strace.out"
	fi
}
is_at_most "netlink: one look per session" "$(calls recvfrom)" "$N"
is_at_most "netlink: no recvfrom() that finds nothing" \
    "$(calls recvfrom errors)" 0
w=$(($(calls sendto) + $(calls writev) + $(calls write)))
is_at_most "writes: at most $WRITES a session" "$w" $((N * WRITES + N / 2))
finish
