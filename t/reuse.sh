#!/bin/sh
# reuse_connections (milterd.conf(5)): a child's connection kept across
# sessions (K instead of Q, the worker's pool), taken by the next
# session without negotiating again; off by default; a kept connection
# the milter closed meanwhile is retried once on a fresh one before the
# fallback applies; a fresh one that negotiates otherwise fails; a
# reload starts workers with no kept connection.  Kept: libmilter
# children without a negotiate callback (tmilter -O, the sample milter:
# NOOP before K where libmilter needs it); not kept, and said once why:
# children that negotiate with a callback (OpenDKIM, pymilter: libmilter
# ends at K the context where they keep what they negotiated), or that
# skip connect.
. "$(dirname "$0")/lib/test.sh"
. "$T/lib/opendkim.sh"

PY=/usr/bin/python3
MSG=$TMP/msg.eml
printf 'From: <a@example.com>\nTo: <b@example.com>\nSubject: hi\n\nbody\n' >"$MSG"

# is NAME GOT WANT
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

# sessions NAME MD N: N sessions one after another through md-MD.
sessions() {
	mtasim_run "$1" -s "unix:$TMP/md-$2.sock" -n "$3" -c 1 \
	    -r b@example.com "$MSG"
	rc_is "$1" 0
}

# lines PATTERN FILE: how many lines of FILE match PATTERN (ERE).
lines() {
	grep -Ec -- "$1" "$2"
}

# --- tmilter (libmilter) without a negotiate callback: kept -------------
# (-O: libmilter negotiates from the callbacks, as for a milter written
# before 8.14; with a negotiate callback a milter may keep what it
# learnt there in the context K ends, see below.)
tmilter on -O -h 'X-On: yes'
tmilter off -h 'X-Off: yes'
milterd_start t "$(child on reuse_connections = true)" "$(child off)"
sessions t-ten t 10
is "reuse: nine sessions of ten on a kept connection" \
    "$(child_stat t on reused)" 9
is "reuse: ten connects" "$(lines '^connect' "$TMP/on.log")" 10
is "default off: ten negotiations" "$(lines '^negotiate' "$TMP/off.log")" 10
is "default off: reused 0" "$(child_stat t off reused)" 0
is "reuse: no fallback" "$(child_stat t on fallbacks)" 0
# One session's verdict and edits, with a kept connection.
mtasim_run t-one -s "unix:$TMP/md-t.sock" -r b@example.com "$MSG"
rc_is t-one 0
grep_ok "reuse: the child's header added" 'X-On: yes' "$TMP/t-one.out"
grep_ok "the other child's too" 'X-Off: yes' "$TMP/t-one.out"
is "reuse: reused again" "$(child_stat t on reused)" 10
"$BUILD/milterctl" -s "$TMP/md-t.ctl" show config >"$TMP/t-show.out" 2>&1
grep_ok "milterctl show config shows the key" 'reuse_connections = true' \
    "$TMP/t-show.out"

# The MTA's own K (three connections in one session): kept across it.
mtasim_run t-k -s "unix:$TMP/md-t.sock" -K 3 -r b@example.com "$MSG"
rc_is t-k 0
is "the MTA's K: each of its connections on a kept one" \
    "$(child_stat t on reused)" 13

# Per session, no getpid() (session ids), no getsockopt() (a unix
# child connects at once), no getpeername() (accept4() says): counted
# with strace -c on the worker over 20 sessions.
if command -v strace >/dev/null 2>&1; then
	strace -c -f -o "$TMP/strace.out" -p "$(worker_pid t)" \
	    2>"$TMP/strace.err" &
	st=$!
	wait_for 10 grep -q attached "$TMP/strace.err"
	sessions t-strace t 20
	kill -INT "$st"
	wait "$st"
	for call in getpid getsockopt getpeername getsockname socket; do
		n=$(awk -v c="$call" '$NF == c { print $4 }' "$TMP/strace.out")
		case $call in
		socket)	# only for the child without reuse_connections
			is "per session: one socket() (the child not kept)" \
			    "${n:-0}" 20 ;;
		getpid)	# live.c's tick calls it once a second
			check "per session: no getpid() (${n:-0} in all)" \
			    test "${n:-0}" -lt 10 ;;
		*)	is "per session: no $call()" "${n:-0}" 0 ;;
		esac
	done
fi

# A child whose part ends before the end of message (it accepts at
# connect) is not where libmilter takes K, and the NOOP that would make
# it so is for children that asked not to see unknown commands: tmilter
# handles them, so it is closed with Q as without reuse.
tmilter acc -O -A connect
milterd_start a "$(child acc reuse_connections = true)"
sessions a-three a 3
is "accepted at connect, handles unknown: not kept" \
    "$(child_stat a acc reused)" 0
no_grep "accepted at connect, handles unknown: no NOOP" '^unknown' \
    "$TMP/acc.log"

# One that does not handle them (the sample milter) is told NOOP first:
# kept after a message it refused at its end.
bg sample "$BUILD/sample-milter" -p "unix:$TMP/sample.sock"
wait_for 10 test -S "$TMP/sample.sock" || fail "sample-milter did not start"
printf 'From: <a@example.com>\nSubject: please reject me\n\nbody\n' \
    >"$TMP/rej.eml"
milterd_start r "$(child sample reuse_connections = true)"
mtasim_run r-rej -s "unix:$TMP/md-r.sock" -r b@example.com "$TMP/rej.eml"
rc_is r-rej 1
mtasim_run r-ok -s "unix:$TMP/md-r.sock" -r b@example.com "$MSG"
rc_is r-ok 0
grep_ok "NOOP then K: the next session's header" 'X-Milterd-Sample' \
    "$TMP/r-ok.out"
is "NOOP then K: reused" "$(child_stat r sample reused)" 1
is "NOOP then K: no fallback" "$(child_stat r sample fallbacks)" 0

# A reload: new workers, the old one's kept connections closed.
old=$(worker_pid t)
kill -HUP "$(cat "$TMP/md-t.pid")"
old_gone() {
	_p=$(worker_pid t)
	[ -n "$_p" ] && [ "$_p" != "$old" ] && ! kill -0 "$old" 2>/dev/null
}
wait_for 30 old_gone || fail "reload: the old worker did not go"
was=$(child_stat t on reused)
mtasim_run t-reload -s "unix:$TMP/md-t.sock" -r b@example.com "$MSG"
rc_is t-reload 0
is "after a reload: a new connection" "$(child_stat t on reused)" "$was"
mtasim_run t-reload2 -s "unix:$TMP/md-t.sock" -r b@example.com "$MSG"
is "after a reload: then kept again" "$(child_stat t on reused)" $((was + 1))

# --- a kept connection the milter dropped: retried once, fresh ----------
badmilter stale stale quitnc
milterd_start s "$(child stale reuse_connections = true)"
sessions s-four s 4
is "stale kept connection: no fallback" "$(child_stat s stale fallbacks)" 0
grep_ok "stale kept connection: retried on a fresh one" \
    'kept connection: .*; trying a fresh one' \
    "$TMP/md-s.err"

# ... and only once: a fresh connection that fails too is the fallback.
badmilter stale2 stale quitnc close
milterd_start s2 "$(child stale2 reuse_connections = true fallback = reject)"
sessions s2-one s2 1
mtasim_run s2-two -s "unix:$TMP/md-s2.sock" -r b@example.com "$MSG"
rc_is s2-two 1
is "retried once, then its fallback" "$(child_stat s2 stale2 fallbacks)" 1
is "one retry" "$(lines 'trying a fresh one' "$TMP/md-s2.err")" 1

# ... and a fresh connection must negotiate as the kept one did.
badmilter stale3 stale quitnc other
milterd_start s3 "$(child stale3 reuse_connections = true)"
sessions s3-one s3 1
mtasim_run s3-two -s "unix:$TMP/md-s3.sock" -r b@example.com "$MSG"
rc_is s3-two 2
grep_ok "negotiated otherwise: failed, said why" \
    'a fresh connection negotiated otherwise than the kept one' \
    "$TMP/md-s3.err"

# --- OpenDKIM ----------------------------------------------------------
if dkim_start dkim; then
	milterd_start d "milter \"dkim\" { socket = \"unix:$DKIM_DIR/dkim.sock\" reuse_connections = true }"
	# As a local client: OpenDKIM signs for internal hosts only.
	mtasim_run d-five -s "unix:$TMP/md-d.sock" -n 5 -c 1 -a 127.0.0.1 \
	    -r b@example.com "$MSG"
	rc_is d-five 0
	mtasim_run d-one -s "unix:$TMP/md-d.sock" -a 127.0.0.1 \
	    -r b@example.com "$MSG"
	rc_is d-one 0
	is "OpenDKIM: not kept (a negotiate callback)" \
	    "$(child_stat d dkim reused)" 0
	grep_ok "OpenDKIM: said why, once" \
	    'child dkim: reuse_connections: its connections are not kept: its negotiation shows a negotiate callback' \
	    "$TMP/md-d.err"
	is "OpenDKIM: said once" "$(lines 'child dkim: reuse_connections' \
	    "$TMP/md-d.err")" 1
	is "OpenDKIM: no fallback" "$(child_stat d dkim fallbacks)" 0
	grep_ok "OpenDKIM: its signature as without the key" \
	    '^  (add|insert) header.*DKIM-Signature:  ?v=1' "$TMP/d-one.out"
fi

# --- pymilter (libmilter underneath, as dkimpy-milter and pyspf-milter)
# It negotiates with a callback (its Python object keeps the result) and
# makes the object at negotiation or connect, dropped at K: never kept.
cat >"$TMP/pym.py" <<'EOF'
import sys
import Milter

class M(Milter.Base):
    def connect(self, host, family, addr):
        return Milter.CONTINUE
    def envfrom(self, f, *a):
        return Milter.CONTINUE
    def eom(self):
        self.addheader("X-Pymilter", "yes")
        return Milter.ACCEPT

class M2(Milter.Base):
    def envfrom(self, f, *a):
        return Milter.CONTINUE
    def eom(self):
        self.addheader("X-Pymilter", "yes")
        return Milter.ACCEPT

if sys.argv[2] == "2":
    M = M2
Milter.factory = M
Milter.set_flags(Milter.ADDHDRS)
Milter.runmilter("pym", "unix:" + sys.argv[1], 60)
EOF
bg pym $PY "$TMP/pym.py" "$TMP/pym.sock" 1
bg pym2 $PY "$TMP/pym.py" "$TMP/pym2.sock" 2
if wait_for 10 test -S "$TMP/pym.sock" && wait_for 10 test -S "$TMP/pym2.sock"
then
	milterd_start p "$(child pym reuse_connections = true)" \
	    "$(child pym2 reuse_connections = true)"
	sessions p-five p 5
	mtasim_run p-one -s "unix:$TMP/md-p.sock" -r b@example.com "$MSG"
	rc_is p-one 0
	grep_ok "pymilter adds its header" \
	    'X-Pymilter: yes' "$TMP/p-one.out"
	is "pymilter: not kept (a negotiate callback)" \
	    "$(child_stat p pym reused)" 0
	is "pymilter: no fallback" "$(child_stat p pym fallbacks)" 0
	is "pymilter without connect: not kept" "$(child_stat p pym2 reused)" 0
	grep_ok "pymilter without connect: said why" \
	    'child pym2: reuse_connections: its connections are not kept: it asked not to see connect' \
	    "$TMP/md-p.err"
	is "pymilter without connect: no fallback" \
	    "$(child_stat p pym2 fallbacks)" 0
else
	fail "pymilter child did not start" "$(cat "$TMP/pym.err")"
fi

finish
