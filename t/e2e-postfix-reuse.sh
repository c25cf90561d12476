#!/bin/sh
# e2e-postfix-reuse.sh -- t/e2e-postfix.sh's shared battery with
# reuse_connections on for every child behind milterd
# (MILTERD_TEST_REUSE=1, see t/lib/e2e.sh): mode m's client runs once
# unrecorded first, so that the recorded run takes the connections it
# left in milterd's pool; direct and milterd must still agree, and some
# sessions must have taken a kept connection.
MILTERD_TEST_REUSE=1 exec sh "$(dirname "$0")/e2e-postfix.sh"
