#!/bin/sh
# Bounds on what a peer can make a worker hold (issue 17): an MTA that
# writes ahead while a child is silent, a million headers, a child
# replacing the body with 50 MB, too many recipients, a small
# descriptor limit with idle connections, an MTA that goes quiet.
# Memory is measured from /proc for the worker of the optimised build
# that `make' builds (as t/leaks.sh: ASan's bookkeeping grows);
# LEAK_BUILD names another.  The bounds asserted are README's
# "Limits and failure behaviour".
. "$(dirname "$0")/lib/test.sh"

REL=${LEAK_BUILD:-$T/../build}
if [ ! -x "$REL/milterd" ]; then
	fail release-milterd "no $REL/milterd: run make first"
	finish
fi
ASAN=$BUILD

# rel_start NAME LINES...: milterd_start with the optimised build.
rel_start() {
	BUILD=$REL
	milterd_start "$@"
	BUILD=$ASAN
}

# --- 1. The MTA writes ahead while the child does not negotiate.
badmilter silent silent optneg
rel_start flood "$(child silent 'connect_timeout = 60')"
wait_for 10 has_worker flood
W=$(worker_pid flood)
check flood-worker test -n "$W"
R0=$(rss "$W")
set -- $(python3 "$T/tools/mtaflood.py" flood "$TMP/md-flood.sock" 256 "$W")
echo "# flood: $2 bytes taken while the child was silent, worker RSS $R0 -> $4 KiB"
# The sockets' buffers and one packet: far below the 256 MiB offered.
check flood-stopped test "${2:-0}" -lt $((32 * 1024 * 1024))
check flood-rss test "${4:-999999}" -le $((R0 + 8192))

finish
