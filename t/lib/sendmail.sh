# sendmail.sh: a private Sendmail for tests, chrooted in a Debian tree;
# sourced after test.sh and postfix.sh (for its smtp-sink helpers).
#
#   sm_init DIR        make the instance in DIR: the cached tree
#                      (t/lib/sendmail-tree) under an overlay, mounts,
#                      a syslog socket, an smtp-sink (pf_sink DIR/sink)
#   sm_mc FILE         sendmail.mc for the instance on stdout, with the
#                      INPUT_MAIL_FILTER/MAIL_FILTER and DAEMON_OPTIONS
#                      lines of FILE (text, m4) spliced in
#   sm_start MCFILE    make sendmail.cf from MCFILE with m4 in the tree,
#                      (re)start Sendmail on it, wait until PORTS listen
#   sm_stop            stop Sendmail (sm_init arranges it and the
#                      unmounting at exit)
#   sm_recipe          the README's Sendmail recipe: SM_RECIPE_MC (the
#                      INPUT_MAIL_FILTER line), SM_RECIPE_FLAGS (its
#                      F= and T= part), SM_RECIPE_SOCK (the socket path
#                      Sendmail connects to), SM_RECIPE_CONF (the
#                      milterd.conf lines)
#
# Sendmail runs as `chroot ROOT sendmail-mta -bD' in the host's network
# namespace, so it reaches smtp-sink, milterd and the tests' clients
# over 127.0.0.1.  Milter sockets are unix sockets: $TMP is bind-mounted
# into the tree as $SM_TMP (/run/t: Sendmail refuses a socket under a
# world-writable directory such as /tmp, sticky or not), so a socket
# $TMP/X is $SM_TMP/X to Sendmail (sm_path), and milterd's socket directory
# (SM_MDRUN) is bind-mounted where the README's recipe says Sendmail
# finds it (/var/run/milterd), so the recipe is tested as written,
# socket permissions included.
#
# The tree is shared by every run and stays read-only: each instance
# mounts it as the lower layer of an overlay (upper layer in DIR), so
# Sendmail's queue, pid file and configuration are the instance's own,
# and two tests may run at once.  /dev is a tmpfs with the few device
# nodes Sendmail opens and a syslog socket (dev/log) whose datagrams a
# small reader writes to DIR/maillog, one a line: nothing of the host's
# /dev or syslog is touched.  No DNS: the tree's nsswitch.conf and
# Sendmail's service switch say "hosts files", its hosts file names the
# instance, and Sendmail relays everything to [127.0.0.1]:PF_SINK_PORT.
#
# State: SM_DIR, SM_ROOT (the chroot), SM_MDRUN (host directory seen as
# /var/run/milterd in the tree), SM_PID, SM_LOG (DIR/maillog), SM_QUEUE
# (the queue directory, host path), PF_SINK_PORT, PF_SINK_DIR.

SM_HOST=smtest.localdomain

# sm_init DIR
sm_init() {
	SM_TREE=$(sh "$T/lib/sendmail-tree") || return 1
	mkdir -p "$1" || return 1
	SM_DIR=$(cd "$1" && pwd -P) || return 1
	# smtp-sink (user postfix) writes in DIR/sink.
	chmod 755 "$SM_DIR" || return 1
	SM_ROOT=$SM_DIR/root
	SM_LOG=$SM_DIR/maillog
	SM_MDRUN=$SM_DIR/mdrun
	SM_PID=
	SM_TMP=/run/t
	# Sendmail refuses files and sockets that others may write; test.sh
	# sets umask 0.
	_sm_umask=$(umask)
	umask 022
	_sm_init || { umask "$_sm_umask"; return 1; }
	umask "$_sm_umask"
}

_sm_init() {
	mkdir -p "$SM_DIR/upper" "$SM_DIR/work" "$SM_ROOT" "$SM_MDRUN" ||
	    return 1
	chmod 755 "$SM_MDRUN"
	: >"$SM_LOG"
	on_exit sm_cleanup
	mount -t overlay overlay -o "lowerdir=$SM_TREE,upperdir=$SM_DIR/upper,workdir=$SM_DIR/work" \
	    "$SM_ROOT" || return 1
	SM_MOUNTS=$SM_ROOT
	mount -t proc proc "$SM_ROOT/proc" || return 1
	SM_MOUNTS="$SM_ROOT/proc $SM_MOUNTS"
	mount -t tmpfs -o mode=755,size=1m smdev "$SM_ROOT/dev" || return 1
	SM_MOUNTS="$SM_ROOT/dev $SM_MOUNTS"
	mknod -m 666 "$SM_ROOT/dev/null" c 1 3 &&
	    mknod -m 666 "$SM_ROOT/dev/zero" c 1 5 &&
	    mknod -m 666 "$SM_ROOT/dev/random" c 1 8 &&
	    mknod -m 666 "$SM_ROOT/dev/urandom" c 1 9 || return 1
	mkdir -p "$SM_ROOT$SM_TMP" "$SM_ROOT/run/milterd" || return 1
	mount --bind "$TMP" "$SM_ROOT$SM_TMP" || return 1
	SM_MOUNTS="$SM_ROOT$SM_TMP $SM_MOUNTS"
	mount --bind "$SM_MDRUN" "$SM_ROOT/run/milterd" || return 1
	SM_MOUNTS="$SM_ROOT/run/milterd $SM_MOUNTS"
	# No DNS anywhere.
	printf 'hosts: files\n' >"$SM_ROOT/etc/nsswitch.conf"
	printf '127.0.0.1\tlocalhost %s %s\n' "$SM_HOST" "$(hostname)" \
	    >"$SM_ROOT/etc/hosts"
	: >"$SM_ROOT/etc/resolv.conf"
	mkdir -p "$SM_ROOT/etc/mail/smtest" || return 1
	printf 'hosts\tfiles\naliases\tfiles\n' \
	    >"$SM_ROOT/etc/mail/smtest/service.switch"
	: >"$SM_ROOT/etc/mail/smtest/aliases"
	SM_QUEUE=$SM_ROOT/var/spool/smtest
	mkdir -p -m 700 "$SM_QUEUE" || return 1
	# Sendmail's syslog.
	bg sm-syslog "$PF_PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "ab", buffering=0)
while True:
    d = s.recv(65536).rstrip(b"\0\n")
    out.write(d.replace(b"\n", b" ") + b"\n")
' "$SM_ROOT/dev/log" "$SM_LOG"
	wait_for 10 test -S "$SM_ROOT/dev/log" || return 1
	pf_sink "$SM_DIR/sink"
}

# sm_path PATH: PATH (under $TMP) as Sendmail sees it.
sm_path() {
	printf '%s\n' "$SM_TMP${1#"$TMP"}"
}

# sm_cleanup: stop Sendmail and the sink, undo the mounts (lazily, so
# that a process still in the tree cannot keep them), remove the overlay.
sm_cleanup() {
	sm_stop
	pf_stop
	for _m in $SM_MOUNTS; do
		umount -l "$_m" 2>/dev/null
	done
	grep -q " $SM_DIR/" /proc/self/mountinfo ||
	    rm -rf --one-file-system "$SM_DIR"
}

# sm_recipe: the Sendmail recipe from README.md (section "Hook it into
# Sendmail"): its INPUT_MAIL_FILTER line and its milterd.conf lines.
sm_recipe() {
	_readme=$T/../README.md
	SM_RECIPE_MC=$(sed -n '/^## Hook it into Sendmail/,/^## /{
	    /^    INPUT_MAIL_FILTER(`milterd'"'"'/s/^    //p; }' "$_readme")
	SM_RECIPE_CONF=$(sed -n '/^## Hook it into Sendmail/,/^## /{
	    /^    \(listen\|socket_mode\|socket_group\) *=/s/^    //p; }' \
	    "$_readme")
	SM_RECIPE_FLAGS=$(printf '%s\n' "$SM_RECIPE_MC" |
	    sed -n 's/^[^,]*, `S=[^,]*, \(.*\)'"'"')dnl$/\1/p; s/^[^,]*, `S=[^,]*, \(.*\)'"'"')$/\1/p')
	SM_RECIPE_SOCK=$(printf '%s\n' "$SM_RECIPE_MC" |
	    sed -n 's/.*S=\(unix\|local\):\([^,]*\),.*/\2/p')
	[ -n "$SM_RECIPE_MC" ] && [ -n "$SM_RECIPE_FLAGS" ] &&
	    [ -n "$SM_RECIPE_CONF" ] && [ -n "$SM_RECIPE_SOCK" ]
}

# sm_mc FILTERS...: a sendmail.mc for the instance on stdout; each
# argument is a line of m4 (DAEMON_OPTIONS, MAIL_FILTER, ...) put before
# the mailers.
sm_mc() {
	cat <<EOF
divert(-1)
# A private Sendmail for milterd's tests (t/lib/sendmail.sh).
divert(0)dnl
VERSIONID(\`milterd test')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$SM_HOST')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confSERVICE_SWITCH_FILE', \`/etc/mail/smtest/service.switch')dnl
define(\`ALIAS_FILE', \`/etc/mail/smtest/aliases')dnl
define(\`QUEUE_DIR', \`/var/spool/smtest')dnl
define(\`STATUS_FILE', \`/var/spool/smtest/statistics')dnl
define(\`confPID_FILE', \`/run/smtest.pid')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confLOG_LEVEL', \`${SM_LOGLEVEL:-9}')dnl
define(\`confPRIVACY_FLAGS', \`authwarnings')dnl
define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $PF_SINK_PORT')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $PF_SINK_PORT')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`accept_unqualified_senders')dnl
EOF
	printf '%s\n' "$@"
	cat <<'EOF'
MAILER(`local')dnl
MAILER(`smtp')dnl
EOF
}

# sm_start MCFILE PORT...: sendmail.cf from MCFILE (m4 in the tree),
# Sendmail (re)started on it; returns once every PORT listens.
sm_start() {
	_mc=$1
	shift
	sm_stop
	_sm_umask=$(umask)
	umask 022
	cp "$_mc" "$SM_ROOT/etc/mail/smtest/sendmail.mc" &&
	    chroot "$SM_ROOT" m4 -D_CF_DIR_=/usr/share/sendmail/cf/ \
	    /usr/share/sendmail/cf/m4/cf.m4 /etc/mail/smtest/sendmail.mc \
	    >"$SM_ROOT/etc/mail/smtest/sendmail.cf" 2>"$SM_DIR/m4.err"
	_sm_rc=$?
	umask "$_sm_umask"
	[ "$_sm_rc" -eq 0 ] || {
		cat "$SM_DIR/m4.err"
		return 1
	}
	bg sendmail chroot "$SM_ROOT" /usr/sbin/sendmail-mta -bD \
	    -C/etc/mail/smtest/sendmail.cf
	SM_PID=$BG_PID
	for _p; do
		_pf_poll 20 _sm_listening "$_p" || {
			cat "$TMP/sendmail.err"
			tail -n 20 "$SM_LOG"
			return 1
		}
	done
}

_sm_listening() {
	_pf_alive "$SM_PID" || return 3
	_pf_listening "$1"
}

# sm_stop: stop Sendmail, if it runs, and wait until it is gone.
sm_stop() {
	[ -n "${SM_PID:-}" ] || return 0
	kill "$SM_PID" 2>/dev/null
	_pf_poll 10 _pf_dead "$SM_PID" || kill -9 "$SM_PID" 2>/dev/null
	wait "$SM_PID" 2>/dev/null
	SM_PID=
}
