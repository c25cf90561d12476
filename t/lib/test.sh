# test.sh: what every shell test in t/ sources.
#
#   . "$T/lib/test.sh"       (T is the t/ directory, BUILD the build dir)
#   ok NAME / fail NAME WHY  record one result
#   check NAME CMD...        ok if CMD succeeds, fail otherwise
#   grep_ok NAME PATTERN FILE  ok if PATTERN (ERE) is in FILE
#   wait_for SECS CMD...     poll CMD every 0.1 s until it succeeds
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

wait_for() {
	_secs=$1
	shift
	_n=$((_secs * 10))
	while [ "$_n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_n=$((_n - 1))
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
# milters and Postfix run as; removed at exit.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/milterd-test.XXXXXX")
chmod 755 "$TMP"
on_exit "rm -rf '$TMP'"

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}
