#!/bin/sh
# The test milter itself (t/milters/tmilter.c), checked with Debian's
# miltertest running t/milters/tmilter-selftest.lua, so that the other
# tests rest on a milter known to do what its options say.
. "$(dirname "$0")/lib/test.sh"

miltertest -D tmilter="$BUILD/tmilter" -D dir="$TMP" \
    -s "$T/milters/tmilter-selftest.lua" >"$TMP/selftest.out" 2>&1
rc=$?
PASSED=$((PASSED + $(grep -c '^ok - ' "$TMP/selftest.out")))
FAILED=$((FAILED + $(grep -c '^not ok - ' "$TMP/selftest.out")))
grep '^not ok - ' "$TMP/selftest.out"
if [ "$rc" -ne 0 ] && ! grep -q '^not ok - ' "$TMP/selftest.out"; then
	fail "miltertest exited $rc"
	tail -n 20 "$TMP/selftest.out"
fi
finish
