#!/bin/sh
# logging.sh: log_level, log_format and the disconnect check's note
# behind XCLIENT or a proxy (issue 22).  milterd -d logs to stderr,
# which the tests read (syslog is not there to read).
. "$(dirname "$0")/lib/test.sh"

# md NAME LINES...: milterd -d without -v (log_level decides) on
# unix:$TMP/NAME.sock, its log in $TMP/NAME.err; returns once it serves.
md() {
	_n=$1
	shift
	{
		echo "listen = \"unix:$TMP/$_n.sock\""
		echo "pidfile = \"$TMP/$_n.pid\""
		echo "control = \"$TMP/$_n.ctl\""
		echo "state_file = \"$TMP/$_n.state\""
		echo "workers = 2"
		printf '%s\n' "$@"
	} >"$TMP/$_n.conf"
	bg "$_n" "$BUILD/milterd" -d -f "$TMP/$_n.conf"
	wait_for 10 test -s "$TMP/$_n.pid" ||
	    fail "$_n started" "$(tail -n 5 "$TMP/$_n.err")"
}

# Bad names: said with what to write.
printf 'log_level = "loud"\nlog_facility = "mial"\nlog_format = "xml"\n' \
    >"$TMP/bad.conf"
conf_bad bad "$TMP/bad.conf"
grep_ok bad-level "bad.conf:1: log_level \"loud\": expected crit, error, warning, notice, info or debug" "$TMP/bad.out"
grep_ok bad-facility "bad.conf:2: log_facility \"mial\": expected mail, daemon, user or local0 to local7" "$TMP/bad.out"
grep_ok bad-format "bad.conf:3: log_format \"xml\": expected text or json" "$TMP/bad.out"

tmilter hdr -h 'X-Log: yes'

# The text session line as milterd(8) documents it.
md text "$(child hdr)"
mtasim_run text-run -s "unix:$TMP/text.sock" -r ok@example.com
rc_is text-run 0
wait_for 5 grep -q 'session=' "$TMP/text.err"
grep_ok text-line '^worker [0-9]+: session=[0-9.]+ client=[^ ]+ children=hdr child\.hdr=accept:[0-9.]+ verdict=accept@eom end="quit" time=[0-9.]+ queue_id=' "$TMP/text.err"

# json: every line one object; the session line's keys.
md json 'log_format = "json"' "$(child hdr)"
mtasim_run json-run -s "unix:$TMP/json.sock" -r ok@example.com
rc_is json-run 0
wait_for 5 grep -q '"session"' "$TMP/json.err"
if python3 - "$TMP/json.err" >"$TMP/json.check" 2>&1 <<'EOP'
import json, sys
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    if "session" in o:
        n += 1
        keys = [k for k in o if k not in ("process", "level")]
        assert keys == ["session", "client", "children", "child.hdr",
            "verdict", "end", "time", "queue_id"], keys
        assert o["children"] == "hdr" and o["verdict"] == "accept@eom", o
        assert o["child.hdr"].startswith("accept:"), o
        assert isinstance(o["time"], float) and o["end"] == "quit", o
        assert o["process"].startswith("worker "), o
    else:
        assert "message" in o and "process" in o and "level" in o, o
assert n == 1, n
EOP
then
	ok json-objects
else
	fail json-objects "$(cat "$TMP/json.check")"
fi

# log_level = warning: no session line, no "started".
md quiet 'log_level = "warning"' "$(child hdr)"
mtasim_run quiet-run -s "unix:$TMP/quiet.sock" -r ok@example.com
rc_is quiet-run 0
ok_quiet() {
	"$BUILD/milterctl" -s "$TMP/quiet.ctl" -j stats 2>/dev/null |
	    grep -q '"sessions":1'
}
wait_for 10 ok_quiet || fail quiet-counted "session not counted"
no_grep quiet-no-session 'session=' "$TMP/quiet.err"

# Behind XCLIENT or a proxy the client is not the MTA's TCP peer: said
# once for the listener, then counted (milterctl stats: unverifiable).
md proxy "$(child hdr)"
i=0
while [ $i -lt 4 ]; do
	i=$((i + 1))
	mtasim_run proxy-$i -s "unix:$TMP/proxy.sock" -a 192.0.2.9 \
	    -m connect:daemon_addr=127.0.0.1 -m connect:daemon_port=25 \
	    -r ok@example.com
	rc_is proxy-$i 0
done
unverifiable() {
	"$BUILD/milterctl" -s "$TMP/proxy.ctl" -j stats 2>/dev/null |
	    grep -q '"unverifiable":4'
}
if wait_for 10 unverifiable; then
	ok proxy-counted
else
	fail proxy-counted "$("$BUILD/milterctl" -s "$TMP/proxy.ctl" stats)"
fi
check proxy-said-once test "$(grep -c 'no such connection to the MTA' \
    "$TMP/proxy.err")" -eq 1
grep_ok proxy-says-where "said once for unix:$TMP/proxy.sock, the others are counted as unverifiable" "$TMP/proxy.err"

finish
