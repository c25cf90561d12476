#!/bin/sh
# faults.sh: proof under faults.  Every fault t/milters/badmilter.py
# can commit (close, garbage, biglen, illegal, silent, partial) at every
# stage it knows, mtasim as the MTA:
#
#  - the faulty child first (its fallback accept, tempfail or reject in
#    turn), a good tmilter second that adds X-Good at eom: the session
#    gets exactly the faulty child's fallback, at the stage of the fault
#    (header, eoh and body are replayed at eom, so the MTA hears it
#    there); on accept the good child's header is added; the worker
#    survives (both sessions served by the worker milterctl shows);
#    one log line per session names the child, the stage and the fault;
#  - the faulty child alone (its fallback accept, to pass it over): the
#    global fallback answers.
#
# Then faults on the MTA side: a connection closed at every stage,
# garbage, oversized, malformed and truncated packets after a valid
# negotiation (written with python3), a second message after abort
# (-M 2) and a second connection after quit-new-connection (-K 2).
# One line per case ("ok - ..." or "FAIL - ...").
. "$(dirname "$0")/lib/test.sh"

STAGES=${FAULT_STAGES:-"optneg connect helo mail rcpt data header eoh body eom"}
KINDS=${FAULT_KINDS:-"close garbage biglen illegal silent partial"}
TIMEOUTS="command_timeout=1 connect_timeout=1 eom_timeout=1"
# Debian's python3: a version manager's shim in PATH can take 0.3 s a
# start.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

tmilter good -h 'X-Good: yes'

# nth N WORDS...: the Nth word (from 0, modulo their number).
nth() {
	_i=$1
	shift
	shift $((_i % $#))
	echo "$1"
}

# What mtasim prints for the command at which the MTA hears about a
# fault at the child's stage $1.
mta_stage() {
	case $1 in
	optneg) echo connect ;;
	mail) echo 'mail <sender@example.com>' ;;
	rcpt) echo 'rcpt <recipient@example.com>' ;;
	header | eoh | body | eom) echo eom ;;
	*) echo "$1" ;;
	esac
}

# The fault's wording in milterd's line (an ERE), for kind $1, stage $2.
fault_re() {
	case $1:$2 in
	close:* | partial:*) echo 'connection closed by the milter' ;;
	garbage:optneg) echo 'unknown reply' ;;
	garbage:*) echo "bad reply 'Z': unknown reply" ;;
	biglen:*) echo 'packet length over the limit' ;;
	illegal:optneg) echo 'addheader instead of options' ;;
	illegal:eom) echo '(unsolicited|unexpected) continue' ;;
	illegal:*) echo 'addheader is legal only at end of message' ;;
	silent:*) echo 'timeout' ;;
	esac
}

rc_of() {
	case $1 in accept) echo 0 ;; reject) echo 1 ;; tempfail) echo 2 ;; esac
}

# The first line of mtasim's output $1 that is not negotiation, a
# continue or a modification.
first_verdict() {
	grep -v -e '^negotiate:' -e '^  ' -e ': continue$' \
	    -e '^body: [0-9]* bytes sent$' "$1" | head -n 1
}

# ctl_worker NAME: W gets "PID SERVED OPEN" of milterd NAME's one worker.
ctl_worker() {
	W=$("$BUILD/milterctl" -s "$TMP/md-$1.ctl" -j status 2>/dev/null |
	    sed -n 's/.*"workers":\[{"num":1,"pid":\([0-9]*\),"generation":[0-9]*,"uptime":[0-9]*,"served":\([0-9]*\),"open":\([0-9]*\)}.*/\1 \2 \3/p')
	W_PID=${W%% *}
}

# worker_done NAME SERVED: the worker served SERVED sessions, all ended.
worker_done() {
	ctl_worker "$1"
	set -- $W "$2"
	[ $# -eq 4 ] && [ "$2" -eq "$4" ] && [ "$3" -eq 0 ]
}

# ERR collects what is wrong with the case at hand.
err() {
	ERR="$ERR; $*"
}

# verdict_check OUT FALLBACK MTASTAGE: mtasim's output OUT shows the
# session got exactly FALLBACK at MTASTAGE (accept: the message went
# through with the good child's header).
verdict_check() {
	_first=$(first_verdict "$1")
	[ "$RC" -eq "$(rc_of "$2")" ] || err "mtasim exit $RC"
	if [ "$2" = accept ]; then
		[ "$_first" = "result: accept" ] ||
		    err "first verdict '$_first', not 'result: accept'"
		grep -q '^  add header: X-Good: yes$' "$1" ||
		    err "no X-Good header from the good child"
	else
		[ "$_first" = "$3: $2" ] ||
		    err "first verdict '$_first', not '$3: $2'"
		grep -qx "result: $2" "$1" || err "no 'result: $2'"
	fi
}

# log_check LOG CHILD STAGE-RE FAULT-RE FALLBACK NSESS: one line per
# session names CHILD, the stage, the fault and the fallback, in NSESS
# sessions; SIDS gets their session ids.
log_check() {
	grep -E "session [0-9]+\.[0-9]+: child $2: " "$1" |
	    grep -Ev ": child $2: version [0-9]+ actions " >"$1.lines"
	SIDS=$(sed -E 's/.*session ([0-9]+\.[0-9]+): .*/\1/' "$1.lines" |
	    sort -u)
	_n=$(wc -l <"$1.lines")
	[ "$_n" -eq "$6" ] || err "$_n lines name child $2, not $6"
	[ "$(echo "$SIDS" | grep -c .)" -eq "$6" ] ||
	    err "not one line in each of $6 sessions"
	grep -Evq "child $2: $3: $4; fallback $5\$" "$1.lines" &&
	    err "log: $(grep -Ev "child $2: $3: $4; fallback $5\$" "$1.lines" | head -n 1 | sed 's/.*session //')"
	[ "$_n" -gt 0 ] || err "no log line"
}

# survive_check NAME NSESS: milterd NAME's worker, the one milterctl
# shows, served the NSESS sessions in SIDS and is still there.
survive_check() {
	# Every session's line logged first (cheaper to poll than milterctl).
	wait_for 5 sessions_logged "$1" "$2"
	wait_for 5 worker_done "$1" "$2" ||
	    err "worker: '$W', not $2 sessions served, none open"
	for _sid in $SIDS; do
		[ "${_sid%.*}" = "$W_PID" ] ||
		    err "session $_sid not served by worker $W_PID"
	done
	[ -n "$W_PID" ] && kill -0 "$W_PID" 2>/dev/null ||
	    err "worker '$W_PID' gone"
}

sessions_logged() {
	[ "$(grep -c ' session=[0-9]*\.[0-9]* ' "$TMP/md-$1.err")" -ge "$2" ]
}

report() {
	if [ -z "$ERR" ]; then
		ok "$1"
	else
		fail "$1" "${ERR#; }"
		sed 's/^/    | /' "$2" | grep -v 'macros 0:' | tail -n 14
	fi
}

stop_md() {
	kill "$(cat "$TMP/md-$1.pid")" 2>/dev/null
}

# --- Faults on the child side ---------------------------------------

k=0
for kind in $KINDS; do
	# This kind's milters, one per stage, and the milterds, one with
	# the good child and one without per stage, started together.
	pids=
	for stage in $STAGES; do
		bg "b-$kind-$stage" "$PY" "$T/milters/badmilter.py" \
		    "$TMP/b-$kind-$stage.sock" "$kind" "$stage"
		pids="$pids $BG_PID"
	done
	for stage in $STAGES; do
		wait_for 10 test -S "$TMP/b-$kind-$stage.sock" ||
		    fail "badmilter b-$kind-$stage did not start"
	done
	s=0
	for stage in $STAGES; do
		n=$kind-$stage
		milterd_bg "$n" "$(child "b-$n" \
		    fallback=\"$(nth $((k + s)) accept tempfail reject)\" \
		    $TIMEOUTS)" "$(child good)"
		# The faulty child alone, a third of the cases.
		[ $(((k + s) % 3)) -eq 0 ] && milterd_bg "g-$n" \
		    "fallback = \"$(nth $(((k + s) / 3)) tempfail reject accept)\"" \
		    "$(child "b-$n" fallback=\"accept\" $TIMEOUTS)"
		s=$((s + 1))
	done
	for stage in $STAGES; do
		for n in $kind-$stage g-$kind-$stage; do
			[ -f "$TMP/md-$n.conf" ] || continue
			wait_for 10 test -s "$TMP/md-$n.pid" ||
			    fail "milterd $n did not start"
		done
	done
	s=0
	for stage in $STAGES; do
		n=$kind-$stage
		fb=$(nth $((k + s)) accept tempfail reject)
		gfb=$(nth $(((k + s) / 3)) tempfail reject accept)
		alone=
		[ -f "$TMP/md-g-$n.conf" ] && alone=1
		lstage=$stage
		[ "$stage" = optneg ] && lstage=negotiation
		mstage=$(mta_stage "$stage")
		re=$(fault_re "$kind" "$stage")
		# After an answer, a second one at eom: the answer stands
		# for this message (as for a child that fails after its
		# answer, t/milterd.sh), the fallback answers the next one:
		# two messages.
		more=
		[ "$n" = illegal-eom ] && more="-M 2"

		# The faulty child alone (global fallback) meanwhile.
		if [ -n "$alone" ]; then
			( "$BUILD/mtasim" -t 10 $more \
			    -s "unix:$TMP/md-g-$n.sock" >"$TMP/g-$n.out" 2>&1
			echo $? >"$TMP/g-$n.rc" ) &
			gpid=$!
		fi

		# The faulty child first, the good one second.
		ERR=
		mtasim_run "$n" -t 10 $more -s "unix:$TMP/md-$n.sock"
		if [ -n "$more" ]; then
			[ "$(grep -c '^  add header: X-Good: yes$' "$TMP/$n.out")" -ge 1 ] ||
			    err "first message without X-Good"
			sed '1,/^result: /d' "$TMP/$n.out" >"$TMP/$n.out2"
			verdict_check "$TMP/$n.out2" "$fb" \
			    'mail <sender@example.com>'
		else
			verdict_check "$TMP/$n.out" "$fb" "$mstage"
		fi
		# A following session, served by the same worker.
		mtasim_run "$n-2" -t 10 $more -s "unix:$TMP/md-$n.sock"
		log_check "$TMP/md-$n.err" "b-$n" "$lstage" "$re" "$fb" 2
		survive_check "$n" 2
		stop_md "$n"
		report "child $kind@$stage, fallback $fb: ${mstage%% *}" \
		    "$TMP/$n.out"

		if [ -z "$alone" ]; then
			s=$((s + 1))
			continue
		fi
		ERR=
		wait "$gpid"
		RC=$(cat "$TMP/g-$n.rc")
		gout=$TMP/g-$n.out
		if [ -n "$more" ]; then
			sed '1,/^result: /d' "$gout" >"$gout.2"
			gout=$gout.2
			mstage='mail <sender@example.com>'
		fi
		_first=$(first_verdict "$gout")
		[ "$RC" -eq "$(rc_of "$gfb")" ] || err "mtasim exit $RC"
		case $gfb:$stage in
		accept:header | accept:eoh | accept:body | accept:eom)
			want="result: accept" ;;
		*)	want="$mstage: $gfb" ;;
		esac
		[ "$_first" = "$want" ] ||
		    err "first verdict '$_first', not '$want'"
		log_check "$TMP/md-g-$n.err" "b-$n" "$lstage" "$re" accept 1
		survive_check "g-$n" 1
		stop_md "g-$n"
		report "alone $kind@$stage, global fallback $gfb: ${mstage%% *}" \
		    "$TMP/g-$n.out"
		s=$((s + 1))
	done
	kill -9 $pids 2>/dev/null
	k=$((k + 1))
done

# --- Faults on the MTA side -----------------------------------------

cat >"$TMP/mta.py" <<'EOF'
# mta.py SOCKET MODE STAGE: a raw MTA.  Negotiates as Postfix does and
# sends a session up to STAGE, then: close (sends STAGE's command and
# closes without waiting), garbage (a packet with an unknown code
# instead of STAGE's command), biglen (a 2 GiB length), badcmd (STAGE's
# packet cut short of its NUL), truncated (half of STAGE's packet, then
# close).  Prints "sent" once all is written.
import socket, struct, sys

def pkt(code, payload=b""):
    return struct.pack(">I", len(payload) + 1) + code + payload

ORDER = ["optneg", "connect", "helo", "mail", "rcpt", "data", "header",
         "eoh", "body", "eom"]
CMDS = {
    "optneg": pkt(b"O", struct.pack(">III", 6, 0x1ff, 0x1fffff)),
    "connect": pkt(b"C", b"client.example\0" + b"4" +
                   struct.pack(">H", 40000) + b"192.0.2.1\0"),
    "helo": pkt(b"H", b"client.example\0"),
    "mail": pkt(b"M", b"<sender@example.com>\0"),
    "rcpt": pkt(b"R", b"<recipient@example.com>\0"),
    "data": pkt(b"T"),
    "header": pkt(b"L", b"Subject\0hi\0"),
    "eoh": pkt(b"N"),
    "body": pkt(b"B", b"hello\r\n"),
    "eom": pkt(b"E"),
}
NR = {"connect": 0x1000, "helo": 0x2000, "mail": 0x4000, "rcpt": 0x8000,
      "data": 0x10000, "header": 0x80, "eoh": 0x40000, "body": 0x80000}
NO = {"connect": 0x1, "helo": 0x2, "mail": 0x4, "rcpt": 0x8, "body": 0x10,
      "header": 0x20, "eoh": 0x40, "data": 0x200}

def read(s):
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                sys.exit("mta.py: connection closed")
            b += c
        return b
    (n,) = struct.unpack(">I", exact(4))
    d = exact(n)
    return d[:1], d[1:]

def reply(s, name):
    while True:
        code, data = read(s)
        if code in b"+-2ehimbqp":   # modifications, progress
            continue
        if code not in b"c":
            sys.exit("mta.py: %s: reply %r" % (name, code))
        return

sock, mode, stage = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sock)
proto = 0
for name in ORDER:
    p = CMDS[name]
    if name == stage:
        if mode == "garbage":
            p = pkt(b"Z", b"junk")
        elif mode == "biglen":
            p = struct.pack(">I", 0x80000000) + b"H"
        elif mode == "badcmd":
            p = p[:-1]
            p = struct.pack(">I", len(p) - 4) + p[4:]
        elif mode == "truncated":
            p = p[:len(p) // 2 + 1]
        s.sendall(p)
        if mode == "garbage":
            # milterd may answer nothing, or close: wait for the close.
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        print("sent")
        s.close()
        sys.exit(0)
    if name != "optneg" and proto & NO.get(name, 0):
        continue
    s.sendall(p)
    if name == "optneg":
        code, data = read(s)
        if code != b"O":
            sys.exit("mta.py: negotiation: %r" % code)
        proto = struct.unpack(">III", data[:12])[2]
    elif not proto & NR.get(name, 0):
        reply(s, name)
sys.exit("mta.py: stage %s unknown" % stage)
EOF

milterd_start mta "$(child good)"
nsess=0
SIDS=
# mta_case MODE STAGE END-RE [LINE-RE]: a raw MTA session, then one
# mtasim session; the raw one's end is logged once with END-RE (and
# once LINE-RE, if given); the worker is the same.
mta_case() {
	ERR=
	"$PY" "$TMP/mta.py" "$TMP/md-mta.sock" "$1" "$2" \
	    >"$TMP/mta-$1-$2.out" 2>&1 || err "mta.py: $(cat "$TMP/mta-$1-$2.out")"
	nsess=$((nsess + 1))
	wait_for 5 worker_done mta "$nsess" || err "session not ended"
	_sid=$W_PID.$nsess
	_end=$(grep -Ec "session=$_sid .* end=\"($3)\"" "$TMP/md-mta.err")
	[ "$_end" -eq 1 ] || err "$_end lines 'session=$_sid ... end=\"$3\"'"
	if [ -n "$4" ]; then
		_l=$(grep -Ec "session $_sid: $4" "$TMP/md-mta.err")
		[ "$_l" -eq 1 ] || err "$_l lines 'session $_sid: $4'"
	fi
	mtasim_run "mta-$1-$2" -t 10 -s "unix:$TMP/md-mta.sock"
	nsess=$((nsess + 1))
	[ "$RC" -eq 0 ] && grep -q '^  add header: X-Good: yes$' \
	    "$TMP/mta-$1-$2.out" || err "next session: exit $RC"
	SIDS="$_sid $W_PID.$nsess"
	survive_check mta "$nsess"
	report "MTA $1@$2: ${3%%\\*}" "$TMP/md-mta.err"
}

# An MTA that closes with milterd's reply unread in its socket resets
# the connection, and one that closed before milterd wrote its reply
# makes the write fail (EPIPE): each end is the MTA gone.
GONE='MTA closed the connection|Connection reset by peer|Broken pipe'
for stage in $STAGES; do
	mta_case close "$stage" "$GONE"
done
for stage in connect rcpt body; do
	mta_case garbage "$stage" 'protocol error' 'MTA sent a bad [?] packet'
	mta_case biglen "$stage" 'packet length over the limit'
	mta_case truncated "$stage" "$GONE"
done
for stage in connect helo mail rcpt; do
	mta_case badcmd "$stage" 'protocol error' \
	    "MTA sent a bad $stage packet"
done
stop_md mta

# A second message after abort: a child that failed in the first one
# stays dropped, the good child sees both.
badmilter m2 close mail
ERR=
milterd_start m2 "$(child m2 fallback=\"reject\" $TIMEOUTS)" "$(child good)"
mtasim_run m2 -t 10 -M 2 -s "unix:$TMP/md-m2.sock"
[ "$(first_verdict "$TMP/m2.out")" = 'mail <sender@example.com>: reject' ] ||
    err "first message: $(first_verdict "$TMP/m2.out")"
sed '1,/^result: /d' "$TMP/m2.out" >"$TMP/m2.out2"
verdict_check "$TMP/m2.out2" accept ""
RC=0
log_check "$TMP/md-m2.err" m2 mail 'connection closed by the milter' reject 1
survive_check m2 1
report "MTA -M 2: child m2 close@mail rejects message 1, dropped for message 2" "$TMP/m2.out"
stop_md m2

# A second connection over the same milter connection (K): the faulty
# child is asked again, fails again, its fallback answers again.
badmilter k2 garbage helo
ERR=
milterd_start k2 "$(child k2 fallback=\"tempfail\" $TIMEOUTS)" "$(child good)"
mtasim_run k2 -t 10 -K 2 -s "unix:$TMP/md-k2.sock"
[ "$(grep -c '^helo: tempfail$' "$TMP/k2.out")" -eq 2 ] ||
    err "not 'helo: tempfail' twice"
[ "$RC" -eq 2 ] || err "mtasim exit $RC"
grep -E "child k2: " "$TMP/md-k2.err" | grep -Ev ': version [0-9]+ actions ' \
    >"$TMP/k2.lines"
[ "$(grep -c "child k2: helo: bad reply 'Z': unknown reply; fallback tempfail\$" "$TMP/k2.lines")" -eq 2 ] &&
    [ "$(wc -l <"$TMP/k2.lines")" -eq 2 ] ||
    err "log: $(cat "$TMP/k2.lines")"
SIDS=$(sed -E 's/.*session ([0-9]+\.[0-9]+): .*/\1/' "$TMP/k2.lines" | sort -u)
survive_check k2 1
report "MTA -K 2: child k2 garbage@helo tempfails each connection" "$TMP/k2.out"
stop_md k2

finish
