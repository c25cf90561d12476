#!/bin/sh
# The service scripts in rc/: the three rc.d scripts parse and run
# "milterd -n" before start, restart and reload; their configtest and
# reload, run against a stub rc.subr, pass a good configuration and
# stop at a bad one; the systemd units pass systemd-analyze verify, the
# service is Type=notify with milterd -F, and its systemd-analyze
# security score is the one rc/README gives.
. "$(dirname "$0")/lib/test.sh"

RCDIR=$T/../rc
printf 'milter "x" { socket = "unix:/x" }\n' >"$TMP/good.conf"
printf 'milter "x" { socket = "tcp:1" }\n' >"$TMP/bad.conf"

# OpenBSD's script is ksh; plain sh parses it too.
if command -v ksh >/dev/null 2>&1; then KSH=ksh; else KSH=sh; fi
check freebsd-syntax sh -n "$RCDIR/freebsd/milterd"
check netbsd-syntax sh -n "$RCDIR/netbsd/milterd"
check openbsd-syntax $KSH -n "$RCDIR/openbsd/milterd"

for os in freebsd netbsd; do
	f=$RCDIR/$os/milterd
	grep_ok $os-configtest-n 'command\} \$\{milterd_flags\} -n -f' "$f"
	grep_ok $os-configtest-cmd '^configtest_cmd="milterd_configtest"$' "$f"
	grep_ok $os-start-precmd '^start_precmd="milterd_prestart"$' "$f"
	grep_ok $os-prestart-checks '^	milterd_configtest$' "$f"
	grep_ok $os-reload-precmd '^reload_precmd="milterd_configtest"$' "$f"
	grep_ok $os-restart-precmd '^restart_precmd="milterd_configtest"$' "$f"
	grep_ok $os-rundir 'install -d -o root -g wheel -m 0755 /var/run/milterd' "$f"
done
grep_ok openbsd-configtest-n '^	rc_exec "\$\{daemon\} -n \$\{daemon_flags\}"$' \
    "$RCDIR/openbsd/milterd"
grep_ok openbsd-rundir 'install -d -o root -g wheel -m 0755 /var/run/milterd' \
    "$RCDIR/openbsd/milterd"

# The stubbed scripts run milterd through a guard that refuses to run it
# without -n, so a broken script cannot start a daemon here.
cat >"$TMP/milterd" <<GUARD
#!/bin/sh
for a; do [ "\$a" = -n ] && exec "$BUILD/milterd" "\$@"; done
echo "guard: milterd run without -n: \$*"
exit 3
GUARD
chmod 755 "$TMP/milterd"

# A stub rc.subr: run_rc_command runs the command's precmd, stopping if
# it fails, then its _cmd; rc_cmd (OpenBSD) runs rc_configtest first.
cat >"$TMP/rc.subr" <<'STUB'
load_rc_config() { :; }
run_rc_command() {
	eval "_pre=\$${1}_precmd _cmd=\$${1}_cmd"
	if [ -n "$_pre" ]; then eval "$_pre" || return 1; fi
	if [ -n "$_cmd" ]; then eval "$_cmd"; else echo "stub: $1"; fi
}
rc_exec() { sh -c "$*"; }
rc_cmd() { rc_configtest && echo "stub: $1"; }
STUB
for os in freebsd netbsd openbsd; do
	sed -e "s|^\. /etc/rc\.subr\$|. $TMP/rc.subr|" \
	    -e "s|^\$_rc_subr_loaded \. /etc/rc\.subr\$|. $TMP/rc.subr|" \
	    -e "s|^\. /etc/rc\.d/rc\.subr\$|. $TMP/rc.subr|" \
	    -e "s|/usr/local/sbin/milterd|$TMP/milterd|" \
	    "$RCDIR/$os/milterd" >"$TMP/$os.rc"
	check $os-stubbed grep -q "^\. $TMP/rc.subr\$" "$TMP/$os.rc"
	check $os-stubbed-daemon grep -q "=\"$TMP/milterd\"\$" "$TMP/$os.rc"
done

# rcrun NAME OS CMD CONF: the stubbed script OS run with CMD on CONF;
# output in $TMP/NAME.out, exit status in $RC.
rcrun() {
	if [ "$2" = openbsd ]; then
		daemon_flags="-f $4" $KSH "$TMP/$2.rc" "$3" >"$TMP/$1.out" 2>&1
	else
		milterd_config=$4 sh "$TMP/$2.rc" "$3" >"$TMP/$1.out" 2>&1
	fi
	RC=$?
}
for os in freebsd netbsd openbsd; do
	for cmd in configtest reload; do
		rcrun $os-$cmd-good $os $cmd "$TMP/good.conf"
		rc_is $os-$cmd-good 0
		grep_ok $os-$cmd-good-checked 'configuration OK' "$TMP/$os-$cmd-good.out"
		rcrun $os-$cmd-bad $os $cmd "$TMP/bad.conf"
		[ "$RC" -ne 0 ] && RC=1
		rc_is $os-$cmd-bad 1
		grep_ok $os-$cmd-bad-says-why 'unknown socket type' "$TMP/$os-$cmd-bad.out"
	done
	check $os-reload-bad-stops sh -c "! grep -q 'stub: reload' '$TMP/$os-reload-bad.out'"
	check $os-reload-good-goes-on grep -q 'stub: reload' "$TMP/$os-reload-good.out"
done

U=$RCDIR/milterd.service
grep_ok unit-notify '^Type=notify$' "$U"
grep_ok unit-nofile '^LimitNOFILE=65536$' "$U"
grep_ok freebsd-nofile 'milterd_limits:="-n 65536"' "$RCDIR/freebsd/milterd"
grep_ok netbsd-nofile 'ulimit -n "\$\{milterd_nofile:-65536\}"' "$RCDIR/netbsd/milterd"
grep_ok openbsd-nofile 'milterd:openfiles=65536:tc=daemon:' "$RCDIR/openbsd/milterd"
grep_ok unit-foreground '^ExecStart=/usr/local/sbin/milterd -F$' "$U"
grep_ok unit-startpre-n '^ExecStartPre=/usr/local/sbin/milterd -n$' "$U"
check unit-reload-n-then-hup sh -c "grep '^ExecReload=' '$U' |
    tr '\n' '|' | grep -qx 'ExecReload=/usr/local/sbin/milterd -n|ExecReload=/bin/kill -HUP \\\$MAINPID|'"
for m in $(sed -n 's/^Documentation=//p' "$U"); do
	p=$(echo "$m" | sed 's/^man:\(.*\)(\(.\))$/\1.\2/')
	check unit-doc-$p test -f "$T/../man/$p"
done

# The unit with its paths pointing at the built binary.  verify exits 0
# on settings it ignores, so any line about the unit is a failure too.
# --man=no: the man pages are not installed here (checked just above).
if command -v systemd-analyze >/dev/null 2>&1; then
	# (systemd warns about a world-writable unit: test.sh sets umask 0.)
	mkdir -m 755 "$TMP/unit"
	sed "s|/usr/local/sbin/milterd|$BUILD/milterd|g" "$U" \
	    >"$TMP/unit/milterd.service"
	cp "$RCDIR/milterd.socket" "$TMP/unit/milterd.socket"
	chmod 644 "$TMP/unit/milterd.service" "$TMP/unit/milterd.socket"
	check unit-rewritten grep -q "^ExecStart=$BUILD/milterd -F\$" \
	    "$TMP/unit/milterd.service"
	systemd-analyze verify --man=no "$TMP/unit/milterd.service" \
	    "$TMP/unit/milterd.socket" >"$TMP/verify.out" 2>&1
	RC=$?
	rc_is verify 0
	check verify-silent sh -c "! grep -q milterd '$TMP/verify.out'"
	grep milterd "$TMP/verify.out" | sed 's/^/    | /'
	# The exposure level rc/README states is the unit's.
	systemd-analyze security --offline=yes --no-pager \
	    "$TMP/unit/milterd.service" >"$TMP/security.out" 2>&1
	score=$(sed -n 's/^.*Overall exposure level for milterd.service: \([0-9.]*\) .*/\1/p' \
	    "$TMP/security.out")
	check security-scored test -n "$score"
	grep_ok security-in-readme "^  systemd-analyze security: $score " \
	    "$RCDIR/README"
else
	echo "skip - systemd unit: no systemd-analyze"
fi
finish
