#!/bin/sh
# make run: CONF= and PORT= move it (here to a free port, beside any
# other milterd); the commands it prints to try it (mtasim, milterctl)
# work as printed, and show the job: the sample milter, started by
# milterd's launcher, adds its header to one message and refuses the
# other; the milters installed here are in the chain, evaluated only;
# README's "Try it" commands are exactly those it prints for plain
# `make run'; the sample's socket is in no directory others can write; a
# bad PORT or CONF is refused, said.
. "$(dirname "$0")/lib/test.sh"

ROOT=$(cd "$T/.." && pwd)
PY=/usr/bin/python3
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PIDFILE=$BUILD/run-$port/milterd.pid
on_exit "rm -rf '$BUILD/run-$port.conf' '$BUILD/run-$port'"
# The sample milter outlives milterd (the launcher's children do): its
# pid, by its socket, is killed at the end.
SAMPLE=/run/milterd-sample-$port/sample.sock
on_exit "kill \$(ps -eo pid=,args= | awk -v s='$SAMPLE' '\$0 ~ s && /sample-milter/ && !/awk/ { print \$1 }') 2>/dev/null; rm -rf '${SAMPLE%/*}'"
on_exit "[ -s '$PIDFILE' ] && kill \$(cat '$PIDFILE') 2>/dev/null"

# README's commands are those of plain `make run' (built paths, its
# default port and file).
awk '/^## Try it/ { on = 1; next } /^## / { on = 0 }
    on && /^    build\// { sub(/^    /, ""); print }' "$ROOT/README.md" \
    >"$TMP/readme.cmds"
(cd "$ROOT" && sh bin/run -n build) | sed -n 's/^    //p' >"$TMP/default.cmds"
check readme-has-commands test -s "$TMP/readme.cmds"
if cmp -s "$TMP/readme.cmds" "$TMP/default.cmds"; then
	ok readme-commands-are-make-runs
else
	fail readme-commands-are-make-runs "README's Try it differs from bin/run -n build"
	diff -u "$TMP/default.cmds" "$TMP/readme.cmds" | sed 's/^/    | /'
fi

# make run PORT=N: milterd on 127.0.0.1 port N, in the foreground.
bg makerun make -s -C "$ROOT" run B="$BUILD" PORT="$port"
wait_for 60 grep -q 'started' "$TMP/makerun.err" ||
    bail makerun-started "no 'started' from make run PORT=$port"
ok makerun-started
grep_ok makerun-listens "listening on inet:$port@127.0.0.1" "$TMP/makerun.err"
# Root's files in the build tree, never in a directory others can write.
for f in "pidfile = \"$BUILD/run-$port/milterd.pid\"" \
    "control = \"$BUILD/run-$port/control.sock\"" \
    "state_file = \"$BUILD/run-$port/history\""; do
	grep_ok "makerun-${f%% *}-in-build" "^$f\$" "$BUILD/run-$port.conf"
done
sed -n 's/^    //p' "$TMP/makerun.err" >"$TMP/printed.cmds"
check makerun-prints-four test "$(wc -l <"$TMP/printed.cmds")" -eq 4
grep_ok makerun-mtasim-port "^$BUILD/mtasim -s inet:$port@127.0.0.1 " "$TMP/printed.cmds"

# Each printed command, run as printed (from the source directory, as
# make run's paths are relative to it when B is).
n=0
while IFS= read -r cmd; do
	n=$((n + 1))
	(cd "$ROOT" && sh -c "$cmd") >"$TMP/cmd-$n.out" 2>&1
	RC=$?
	# mtasim's exit status is the verdict: 1 for the refused message.
	case $cmd in
	*reject-me.eml) want=1 ;;
	*) want=0 ;;
	esac
	if [ "$RC" -eq "$want" ]; then
		ok "printed-$n-works"
	else
		fail "printed-$n-works" "'$cmd' exited $RC, not $want"
		sed 's/^/    | /' "$TMP/cmd-$n.out" | tail -n 10
	fi
done <"$TMP/printed.cmds"
grep_ok mtasim-accepted '^result: accept$' "$TMP/cmd-1.out"
grep_ok mtasim-sample-header \
    "^  add header: X-Milterd-Sample: passed milterd's sample milter\$" \
    "$TMP/cmd-1.out"
grep_ok mtasim-rejected '^result: reject$' "$TMP/cmd-2.out"
grep_ok mtasim-sample-reply '^eom: replycode 550 5.7.1 the Subject says "reject me"' \
    "$TMP/cmd-2.out"
grep_ok status-this-milterd "^milterd pid $(cat "$PIDFILE"), .*run-$port\\.conf" "$TMP/cmd-3.out"
grep_ok status-sample-reachable '^sample  *yes  *no  *yes  *2 ' "$TMP/cmd-3.out"
grep_ok stats-two-sessions '^sessions 2, ' "$TMP/cmd-4.out"
grep_ok makerun-launched-sample "milter sample: started .*sample-milter" \
    "$TMP/makerun.err"
wait_for 10 grep -q 'session=.*verdict=reject' "$TMP/makerun.err"
grep_ok makerun-session-line 'session=.*child.sample=accept.*verdict=accept' "$TMP/makerun.err"
grep_ok makerun-session-reject 'session=.*verdict=reject' "$TMP/makerun.err"
# What milterd -D finds here is in the chain, evaluated only.
"$BUILD/milterd" -D -f "$BUILD/run-$port.conf" 2>/dev/null |
    sed -n 's/^milter "\([^"]*\)" {.*/\1/p' >"$TMP/detected"
check detected-none-left test ! -s "$TMP/detected"
grep -q '^# Installed on this host' "$BUILD/run-$port.conf" &&
    grep_ok detected-evaluated '^milter "[^"]*" { evaluation = true fallback = "accept"$' \
    "$BUILD/run-$port.conf"

# Stopped by its pid file, as any milterd.
MPID=$(cat "$PIDFILE")
kill "$MPID"
wait_for 30 sh -c "! kill -0 $MPID 2>/dev/null"
check makerun-stopped sh -c "! kill -0 $MPID 2>/dev/null"

# A build tree the workers' user cannot reach (a clone in a home
# directory of mode 0700): the sample runs as root, and the copy allows
# it; a reachable one runs it as _milterd.  (bin/run with a milterd
# that only exits, to see the copy it writes.)
on_exit "rm -rf /run/milterd-sample-40999"
mkdir -m 0700 "$TMP/closed"
mkdir "$TMP/closed/b" "$TMP/open"
chmod 0755 "$TMP/open"
for d in "$TMP/closed/b" "$TMP/open"; do
	printf '#!/bin/sh\nexit 0\n' >"$d/milterd"
	cp "$BUILD/sample-milter" "$d/sample-milter"
	chmod 0755 "$d/milterd" "$d/sample-milter"
	(cd "$ROOT" && sh bin/run "$d" etc/milterd.conf 40999) >/dev/null 2>&1
done
grep_ok closed-sample-root '^	user = "root"$' "$TMP/closed/b/run-40999.conf"
grep_ok closed-root-allowed '^allow_root_command = true$' \
    "$TMP/closed/b/run-40999.conf"
check closed-conf-valid "$BUILD/milterd" -n -f "$TMP/closed/b/run-40999.conf"
grep_ok open-sample-milterd '^	user = "_milterd"$' "$TMP/open/run-40999.conf"
# The sample's socket in a directory only root makes entries in (/run),
# owned by the sample's user, not in /tmp.
grep_ok sample-socket-private \
    '^	socket = "unix:/run/milterd-sample-40999/sample\.sock"$' \
    "$TMP/open/run-40999.conf"
check sample-dir-owner test "$(stat -c %U /run/milterd-sample-40999)" = _milterd
no_grep open-no-root '^allow_root_command' "$TMP/open/run-40999.conf"

# A bad PORT or CONF: refused before anything starts, said.
make -s -C "$ROOT" run B="$BUILD" PORT=10x >"$TMP/badport.out" 2>&1
RC=$?
check badport-refused test "$RC" -ne 0
grep_ok badport-said 'PORT=10x: not a port number' "$TMP/badport.out"
make -s -C "$ROOT" run B="$BUILD" CONF="$TMP/none.conf" >"$TMP/badconf.out" 2>&1
RC=$?
check badconf-refused test "$RC" -ne 0
grep_ok badconf-said "CONF=$TMP/none.conf: no such readable file" "$TMP/badconf.out"

finish
