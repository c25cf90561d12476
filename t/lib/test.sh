# test.sh: what every shell test in t/ sources.
#
#   . "$T/lib/test.sh"       (T is the t/ directory, BUILD the build dir)
#   ok NAME / fail NAME WHY  record one result
#   check NAME CMD...        ok if CMD succeeds, fail otherwise
#   grep_ok NAME PATTERN FILE  ok if PATTERN (ERE) is in FILE
#   count_is NAME N PATTERN FILE  ok if PATTERN is on N lines of FILE
#   wait_for SECS CMD...     poll CMD every 0.1 s until it succeeds
#   trial_is NAME CHILD TRIAL ACTUAL N  a shadow trial count (wait_for)
#   http_get URL OUT         GET URL, the body into OUT, the status printed
#   free_port                a TCP port free on 127.0.0.1 now
#   worker_pid NAME / rss PID  md-NAME's first worker; VmRSS of PID, KiB
#   $TMP                     a private temp dir, removed at exit
#   finish                   print "N passed, N failed", exit 0 or 1
#
# Cleanup: on_exit CMD runs CMD at exit (last added, first run).

T=${T:-$(cd "$(dirname "$0")" && pwd)}
BUILD=${BUILD:-build/asan}
case $BUILD in /*) ;; *) BUILD=$(cd "$T/.." && pwd)/$BUILD ;; esac
PASSED=0
FAILED=0

ok() {
	PASSED=$((PASSED + 1))
	echo "ok - $1"
}

fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL - $1${2:+: $2}"
}

check() {
	_name=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$_name"; else fail "$_name" "$*"; fi
}

grep_ok() {
	if grep -Eq -- "$2" "$3"; then
		ok "$1"
	else
		fail "$1" "no /$2/ in $3"
		sed 's/^/    | /' "$3" | tail -n 20
	fi
}

http_get() {
	/usr/bin/python3 -c '
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=10)
    code, body = r.status, r.read()
except urllib.error.HTTPError as e:
    code, body = e.code, e.read()
open(sys.argv[2], "wb").write(body)
print(code)' "$1" "$2" 2>>"$TMP/http.err"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {
	_secs=$1
	shift
	_wn=$((_secs * 10))
	while [ "$_wn" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_wn=$((_wn - 1))
	done
	return 1
}

CLEANUP_CMDS=""
on_exit() {
	CLEANUP_CMDS="$1; $CLEANUP_CMDS"
}
trap 'eval "$CLEANUP_CMDS"' EXIT
trap 'exit 130' INT TERM

# A private directory for the test, readable by the users that child
# milters and Postfix run as; removed at exit.  milterd's workers run as
# _milterd: the child milters' sockets must let them in (umask 0), and
# large bodies go to a spool directory they can write.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/milterd-test.XXXXXX")
chmod 755 "$TMP"
on_exit "rm -rf '$TMP'"
umask 0
mkdir -m 1777 "$TMP/spool"

finish() {
	# A sanitizer report from any program the test ran is a failure.
	for _f in "$TMP"/*.err; do
		[ -f "$_f" ] || continue
		if grep -Eq 'runtime error|ERROR: AddressSanitizer|ERROR: LeakSanitizer' "$_f"; then
			fail "sanitizer report in $(basename "$_f")"
			grep -E -A5 'runtime error|ERROR: ' "$_f" | head -n 20
		fi
	done
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

# bg NAME CMD...: run CMD in the background (output in $TMP/NAME.err),
# killed at exit; its pid is left in $BG_PID.
bg() {
	_n=$1
	shift
	"$@" >>"$TMP/$_n.err" 2>&1 &
	BG_PID=$!
	# SIGKILL: libmilter notices SIGTERM only every 5 s.
	on_exit "kill -9 $BG_PID 2>/dev/null; wait $BG_PID 2>/dev/null"
}

# tmilter NAME ARGS...: a test milter on unix:$TMP/NAME.sock, logging
# what it sees to $TMP/NAME.log; returns once it listens.
tmilter() {
	_n=$1
	shift
	bg "$_n" "$BUILD/tmilter" -p "unix:$TMP/$_n.sock" -l "$TMP/$_n.log" "$@"
	wait_for 10 test -S "$TMP/$_n.sock" || {
		fail "tmilter $_n did not start"
		cat "$TMP/$_n.err"
	}
}

# badmilter NAME FAULT STAGE: a misbehaving milter on
# unix:$TMP/NAME.sock (see t/milters/badmilter.py).
badmilter() {
	_n=$1
	shift
	bg "$_n" python3 "$T/milters/badmilter.py" "$TMP/$_n.sock" "$@"
	wait_for 10 test -S "$TMP/$_n.sock" || fail "badmilter $_n did not start"
}

# mtasim_run NAME ARGS...: mtasim's output in $TMP/NAME.out, its exit
# status in $RC.
mtasim_run() {
	_n=$1
	shift
	"$BUILD/mtasim" "$@" >"$TMP/$_n.out" 2>&1
	RC=$?
}

# rc_is NAME WANT: ok if the last mtasim_run exited with WANT.
rc_is() {
	if [ "$RC" -eq "$2" ]; then
		ok "$1"
	else
		fail "$1" "exit status $RC, not $2"
		sed 's/^/    | /' "$TMP/$1.out" 2>/dev/null | tail -n 20
	fi
}

# milterd_bg NAME [CONFIG-LINES]: milterd in the foreground on
# unix:$TMP/md-NAME.sock (unless a line starts with "listen") with one
# worker, its control socket $TMP/md-NAME.ctl and the given
# configuration lines; log in $TMP/md-NAME.err; returns at once.
# MILTERD_PREFIX, if set, is a command to run it under (prlimit ...).
milterd_bg() {
	_n=md-$1
	shift
	_listen="listen = \"unix:$TMP/$_n.sock\""
	for _l; do
		case $_l in listen*) _listen= ;; esac
	done
	{
		[ -z "$_listen" ] || echo "$_listen"
		echo "pidfile = \"$TMP/$_n.pid\""
		echo "control = \"$TMP/$_n.ctl\""
		echo "state_file = \"$TMP/$_n.state\""
		echo "workers = 1"
		echo "spool_dir = \"$TMP/spool\""
		printf '%s\n' "$@"
	} >"$TMP/$_n.conf"
	bg "$_n" ${MILTERD_PREFIX:-} "$BUILD/milterd" -d -v -f "$TMP/$_n.conf"
}

# milterd_start NAME [CONFIG-LINES]: milterd_bg, then returns once it
# listens (its pid is in the pid file once the listening sockets are
# open).
milterd_start() {
	milterd_bg "$@"
	wait_for 10 test -s "$TMP/md-$1.pid" || {
		fail "milterd md-$1 did not start"
		cat "$TMP/md-$1.err"
	}
}

# conf_bad NAME FILE: milterd -n finds errors in FILE (exit 1); what it
# said is in TMP/NAME.out.
conf_bad() {
	"$BUILD/milterd" -n -f "$2" >"$TMP/$1.out" 2>&1
	RC=$?
	rc_is "$1" 1
}

# bail NAME WHY: a failure the rest of the test cannot go on after.
bail() {
	fail "$1" "$2"
	finish
}

# count_is NAME WANT PATTERN FILE: PATTERN (ERE) is on WANT lines of
# FILE (its last lines shown when not).
count_is() {
	_got=$(grep -Ec -- "$3" "$4")
	if [ "$_got" -eq "$2" ]; then
		ok "$1"
	else
		fail "$1" "/$3/ on $_got lines of $4, not $2"
		sed 's/^/    | /' "$4" | tail -n 20
	fi
}

# no_grep NAME PATTERN FILE: ok if PATTERN (ERE) is not in FILE, which
# must exist (a file never written proves nothing; where an empty file
# would, check its content first with grep_ok).
no_grep() {
	if [ ! -f "$3" ]; then
		fail "$1" "no file $3"
	elif grep -Eq -- "$2" "$3"; then
		fail "$1" "unexpected /$2/ in $3"
		grep -E -- "$2" "$3" | sed 's/^/    | /'
	else
		ok "$1"
	fi
}

# child_stat NAME CHILD KEY: counter KEY of CHILD from milterd md-NAME
# (milterctl -j stats).
child_stat() {
	"$BUILD/milterctl" -s "$TMP/md-$1.ctl" -j stats 2>&1 |
	    /usr/bin/python3 -c 'import json, sys
j = json.load(sys.stdin)
print([c[sys.argv[2]] for c in j["children"] if c["name"] == sys.argv[1]][0])' \
	    "$2" "$3" 2>&1
}

# stat_is MD KEY CHILD:WANT...: milterctl's counter KEY of each CHILD
# of milterd md-MD is WANT (checks named stats-KEY-CHILD-WANT).
stat_is() {
	_md=$1
	_key=$2
	shift 2
	for _pair; do
		_sn=${_pair%%:*}
		_want=${_pair#*:}
		_got=$(child_stat "$_md" "$_sn" "$_key")
		check "stats-$_key-$_sn-$_want" test "$_got" = "$_want"
		[ "$_got" = "$_want" ] || echo "    | $_sn: $_key is '$_got'"
	done
}

# trial_is NAME CHILD TRIAL ACTUAL N: shadow trial child CHILD of
# milterd md-NAME judged N messages TRIAL that really got ACTUAL
# (milterctl -j stats; for wait_for).
trial_is() {
	test "$("$BUILD/milterctl" -s "$TMP/md-$1.ctl" -j stats 2>&1 |
	    /usr/bin/python3 -c 'import json, sys
j = json.load(sys.stdin)
c = [c for c in j["children"] if c["name"] == sys.argv[1]][0]
print(c["trial"]["verdicts"][sys.argv[2]][sys.argv[3]])' \
	    "$2" "$3" "$4" 2>&1)" = "$5"
}

# worker_pid NAME: the pid of milterd md-NAME's first worker.
worker_pid() {
	"$BUILD/milterctl" -s "$TMP/md-$1.ctl" -j status 2>/dev/null |
	    /usr/bin/python3 -c 'import json, sys
print(json.load(sys.stdin)["workers"][0]["pid"])' 2>/dev/null
}

# has_worker NAME: md-NAME has a worker (for wait_for).
has_worker() {
	test -n "$(worker_pid "$1")"
}

# rss PID [FIELD]: its resident set size (VmRSS, or FIELD: VmHWM for
# the peak), KiB.
rss() {
	sed -n "s/^${2:-VmRSS}:[[:space:]]*\\([0-9]*\\).*/\\1/p" "/proc/$1/status"
}

# child NAME [KEY=VALUE...]: a milter section for tmilter NAME.
child() {
	_n=$1
	shift
	printf 'milter "%s" { socket = "unix:%s/%s.sock" %s }\n' "$_n" "$TMP" \
	    "$_n" "$*"
}
