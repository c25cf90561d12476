# t/lib/postfix.sh -- run a private Postfix instance for integration tests.
#
# Source it from a POSIX sh (dash) test script:
#
#	. "$(dirname "$0")/lib/postfix.sh"
#	dir=$(mktemp -d) && chmod 755 "$dir"	# postfix user must get in
#	trap 'pf_stop; rm -rf "$dir"' EXIT
#	trap 'exit 1' HUP INT TERM
#	pf_init "$dir/pf" && pf_milters "unix:$dir/m.sock" && pf_start
#	pf_send --from a@example.com --to b@example.org && pf_wait_sink 1
#
# The instance lives entirely in one directory DIR, listens on 127.0.0.1
# only, on ports picked free at run time, and relays every message to an
# smtp-sink that writes each message to a file in DIR/sink/.  Several
# instances (in different shells) may run at once: each has its own
# config, queue and data directories and its own ports.
#
# Requirements: root (Postfix daemons and smtp-sink switch to the
# "postfix" user), Postfix >= 3.4 (maillog_file), smtp-sink, swaks,
# python3 (port helper), and Debian's GNU userland: coreutils (date
# +%s%3N, sleep 0.05, touch -d @N), util-linux (setpriv, flock), procps
# (ps, pgrep), iproute2 (ss).
#
# State, global shell variables set by pf_init (one instance per shell;
# the functions act on the instance these variables name, so call pf_init
# in the main shell, not in $(...) or a pipeline):
#	PF_DIR        instance directory (absolute)
#	PF_ETC        $PF_DIR/etc, the config directory (postconf -c $PF_ETC)
#	PF_SMTP_PORT  port of the smtpd listener on 127.0.0.1
#	PF_SINK_PORT  port of smtp-sink on 127.0.0.1
#	PF_SINK_DIR   $PF_DIR/sink, one file per delivered message
#	PF_SEND_OUT   output file of the last pf_send (swaks transcript)
# Files: DIR/maillog (Postfix log), DIR/sink.log (smtp-sink stderr),
# DIR/start.log (output of postfix check/start), DIR/swaks/*.out.
#
# Settings (environment, optional):
#	PF_PYTHON     python3 to use (default /usr/bin/python3, else python3)
#	PF_VERBOSE=1  echo what the library does to stderr
#	PF_ALTDIR=1   list DIR/etc in /etc/postfix/main.cf while running (see
#	              alternate_config_directories below; default: do not)
#
# Quirks handled here (Debian 12, Postfix 3.7.11):
# - alternate_config_directories: Postfix checks that a non-default
#   config directory is listed there in the DEFAULT /etc/postfix/main.cf
#   only when the effective uid is not 0 (global/mail_conf.c).  Run as
#   root, "postfix -c DIR/etc start|reload", "postqueue -c", "postconf -c"
#   and "sendmail -C" all work without it, even when /etc/postfix/main.cf
#   does not exist (verified).  It is needed only when a NON-root user
#   runs a set-gid command on the instance, e.g.
#   setpriv --reuid=nobody sendmail -C DIR/etc ... ("unauthorized
#   configuration directory name").  For such tests set PF_ALTDIR=1:
#   pf_start then adds DIR/etc to that parameter (creating
#   /etc/postfix/main.cf if missing, under a lock so that parallel
#   instances do not lose each other's entries) and pf_stop removes it.
#   That edits a system file: the tests are meant to run as root on a
#   throwaway machine where no system Postfix instance runs.
# - Postfix prints fatal start-up errors only to a terminal or to
#   maillog_file, so a failed pf_start prints DIR/start.log and DIR/maillog.
# - The Postfix daemons run as "postfix": DIR is made mode 0755 and must
#   be reachable (every parent searchable) by that user.
# - Postfix refuses to read a main.cf/master.cf modified within the last
#   second or so: every postconf/postfix command then "pauses to let the
#   file cool down" (300ms steps, ~2s in all).  After each change the
#   library backdates the files' mtime by 10s (_pf_cool), which removes
#   that delay from every later command.
# - "postfix stop" polls with "sleep 1"; pf_stop signals the master itself
#   and polls every 50ms, then waits for the master's whole process group.

PF_PYTHON=${PF_PYTHON:-}
if [ -z "$PF_PYTHON" ]; then
	if [ -x /usr/bin/python3 ]; then PF_PYTHON=/usr/bin/python3
	else PF_PYTHON=python3; fi
fi
PF_DIR=${PF_DIR:-}
PF_ETC=${PF_ETC:-}
PF_SMTP_PORT=${PF_SMTP_PORT:-}
PF_SINK_PORT=${PF_SINK_PORT:-}
PF_SINK_DIR=${PF_SINK_DIR:-}
PF_SEND_OUT=${PF_SEND_OUT:-}
_PF_DEFAULT_ETC=/etc/postfix
_PF_MARK="# created by milterd t/lib/postfix.sh (PF_ALTDIR=1)"
_PF_LOCK=${TMPDIR:-/tmp}/.pftest-alternate-config-directories.lock

_pf_log() {
	[ "${PF_VERBOSE:-0}" = 1 ] && echo "postfix.sh: $*" >&2
	return 0
}

_pf_err() {
	echo "postfix.sh: $*" >&2
}

_pf_need_init() {
	if [ -z "$PF_DIR" ] || [ ! -f "$PF_ETC/main.cf" ]; then
		_pf_err "no instance: call pf_init DIR first"
		return 1
	fi
}

_pf_need_sink() {
	if [ -z "$PF_SINK_DIR" ]; then
		_pf_err "no sink: call pf_init DIR or pf_sink DIR first"
		return 1
	fi
}

# pf_free_port [N]: print N (default 1) distinct TCP ports, one a line,
# that are free on 127.0.0.1 right now (the kernel picks them: bind to
# port 0).  All N sockets are held open together so the ports differ.
pf_free_port() {
	"$PF_PYTHON" -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
' "${1:-1}"
}

# _pf_listening PORT: true if something listens on 127.0.0.1:PORT (or on
# the wildcard address).  Uses ss, so it does not open a connection (a
# probe connection to smtpd would start a milter session).
_pf_listening() {
	ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# _pf_poll SECS CMD...: run CMD every 50ms until it succeeds (return 0),
# returns 3 (give up at once: return 1), or SECS seconds (may be
# fractional) have passed (return 1).
_pf_poll() {
	_pf_poll_end=$(( $(date +%s%3N) + $(_pf_ms "$1") ))
	shift
	while :; do
		_pf_rc=0
		"$@" || _pf_rc=$?
		case $_pf_rc in 0) return 0 ;; 3) return 1 ;; esac
		[ "$(date +%s%3N)" -ge "$_pf_poll_end" ] && return 1
		sleep 0.05
	done
}

# _pf_ms SECS: print SECS (e.g. 30, 0.5) in milliseconds.
_pf_ms() {
	awk -v s="$1" 'BEGIN { printf "%d\n", s * 1000 }'
}

# pf_init DIR: create the instance in DIR (created if missing; existing
# config is overwritten): DIR/etc/main.cf and master.cf, DIR/queue,
# DIR/data, DIR/sink, DIR/maillog.  Picks PF_SMTP_PORT and PF_SINK_PORT
# and starts smtp-sink on PF_SINK_PORT writing every message it accepts to
# its own file DIR/sink/<minute>.<random hex>.  Postfix itself is not
# started (see pf_start); configure it first with pf_milters / pf_conf.
# An instance this shell ran before is stopped first (pf_stop).
# Returns non-zero on failure.
pf_init() {
	if [ $# -ne 1 ]; then
		_pf_err "usage: pf_init DIR"
		return 2
	fi
	# One instance per shell: stop the previous one first.
	pf_stop
	mkdir -p "$1" || return 1
	PF_DIR=$(cd "$1" && pwd -P) || return 1
	PF_ETC=$PF_DIR/etc
	PF_SINK_DIR=$PF_DIR/sink
	PF_SEND_OUT=
	mkdir -p "$PF_ETC" "$PF_DIR/queue" "$PF_DIR/data" "$PF_SINK_DIR" \
	    "$PF_DIR/swaks" || return 1
	# The daemons (user postfix) must reach queue/, data/ and sink/.
	chmod 755 "$PF_DIR" "$PF_ETC" "$PF_DIR/queue" || return 1
	chown postfix "$PF_DIR/data" "$PF_SINK_DIR" || return 1
	chmod 700 "$PF_DIR/data" || return 1
	if ! setpriv --reuid=postfix --regid=postfix --clear-groups \
	    test -x "$PF_DIR/queue"; then
		_pf_err "$PF_DIR is not reachable by user postfix: make every" \
		    "parent directory searchable (e.g. chmod 755 \"\$(mktemp -d)\")"
		return 1
	fi
	: >"$PF_DIR/maillog" || return 1
	# shellcheck disable=SC2046
	set -- $(pf_free_port 2)
	PF_SMTP_PORT=$1
	PF_SINK_PORT=$2
	if [ -z "$PF_SMTP_PORT" ] || [ -z "$PF_SINK_PORT" ]; then
		_pf_err "cannot find free ports"
		return 1
	fi
	_pf_write_main_cf || return 1
	_pf_write_master_cf || return 1
	_pf_cool "$PF_ETC/main.cf" "$PF_ETC/master.cf"
	_pf_log "instance $PF_DIR smtpd=$PF_SMTP_PORT sink=$PF_SINK_PORT"
	_pf_sink_start
}

_pf_write_main_cf() {
	cat >"$PF_ETC/main.cf" <<EOF
# Private test instance written by t/lib/postfix.sh (pf_init).
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
syslog_name = pftest

myhostname = pftest.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
relay_domains =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled
alias_maps =
alias_database =
biff = no
notify_classes =

inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_authorized_xclient_hosts = 127.0.0.0/8
# Any client, including one presented with XCLIENT, may relay anywhere
# (static:OK matches first; smtpd refuses to start without one of
# reject_unauth_destination, defer_unauth_destination, reject, ... listed).
smtpd_relay_restrictions = check_client_access static:OK, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_error_sleep_time = 0s
smtpd_tls_security_level =
in_flow_delay = 0s

relayhost = [127.0.0.1]:$PF_SINK_PORT
smtp_host_lookup = native
smtp_dns_support_level = disabled
lmtp_host_lookup = native
smtp_tls_security_level =
smtp_connect_timeout = 5s

# Deliver at once; retry deferred mail quickly.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0h

milter_default_action = tempfail
smtpd_milters =
non_smtpd_milters =
EOF
}

_pf_write_master_cf() {
	cat >"$PF_ETC/master.cf" <<EOF
# Private test instance written by t/lib/postfix.sh (pf_init).
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$PF_SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# pf_sink DIR: only an smtp-sink, for another MTA under test (see
# t/lib/sendmail.sh): sets PF_DIR (DIR), PF_SINK_DIR and PF_SINK_PORT and
# starts the sink as pf_init does; pf_sink_files, pf_wait_sink and
# pf_stop work on it.  Returns non-zero on failure.
pf_sink() {
	pf_stop
	mkdir -p "$1/sink" || return 1
	PF_DIR=$(cd "$1" && pwd -P) || return 1
	PF_ETC=$PF_DIR/etc
	PF_SINK_DIR=$PF_DIR/sink
	chmod 755 "$PF_DIR" && chown postfix "$PF_SINK_DIR" || return 1
	PF_SINK_PORT=$(pf_free_port) || return 1
	_pf_sink_start
}

# _pf_sink_start: start smtp-sink on PF_SINK_PORT (picking another port and
# rewriting relayhost, if there is a main.cf, if the chosen one got taken
# meanwhile).
_pf_sink_start() {
	_pf_try=0
	while [ "$_pf_try" -lt 3 ]; do
		_pf_try=$((_pf_try + 1))
		# Started from a subshell so that it is not a child of the
		# test's shell: a bare "wait" in a test must not wait for it.
		(
			smtp-sink -u postfix -d "$PF_SINK_DIR/%M." \
			    "127.0.0.1:$PF_SINK_PORT" 100 \
			    </dev/null >>"$PF_DIR/sink.log" 2>&1 &
			echo $! >"$PF_DIR/sink.pid"
		)
		if _pf_poll 10 _pf_sink_ready; then
			_pf_log "smtp-sink pid $(cat "$PF_DIR/sink.pid") port $PF_SINK_PORT"
			return 0
		fi
		_pf_sink_stop
		PF_SINK_PORT=$(pf_free_port) || break
		[ -f "$PF_ETC/main.cf" ] || continue
		postconf -c "$PF_ETC" -e "relayhost = [127.0.0.1]:$PF_SINK_PORT" ||
		    break
		_pf_cool "$PF_ETC/main.cf"
	done
	_pf_err "smtp-sink does not start:"
	cat "$PF_DIR/sink.log" >&2
	return 1
}

# _pf_sink_ready: the sink runs and its port listens (fails for good if the
# sink died: then the port is someone else's).
_pf_sink_ready() {
	_pf_alive "$(cat "$PF_DIR/sink.pid" 2>/dev/null)" || return 3
	_pf_listening "$PF_SINK_PORT"
}

# _pf_cool FILE...: backdate FILE's mtime by 10s (see the note at the top).
_pf_cool() {
	touch -c -d "@$(( $(date +%s) - 10 ))" "$@"
}

# _pf_alive PID: true if PID runs.  A zombie counts as dead: the master
# is an orphan, and some init processes (seen on a firecracker VM) reap
# orphans only every couple of seconds, so kill -0 alone would wait that
# long.
_pf_alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	[ "$(sed -n 's/.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

_pf_sink_stop() {
	_pf_sp=$(cat "$PF_DIR/sink.pid" 2>/dev/null) || _pf_sp=
	if _pf_alive "$_pf_sp"; then
		kill -s TERM "$_pf_sp" 2>/dev/null || :
		_pf_poll 5 _pf_dead "$_pf_sp" ||
		    kill -s KILL "$_pf_sp" 2>/dev/null || :
	fi
	rm -f "$PF_DIR/sink.pid"
	return 0
}

_pf_dead() {
	! _pf_alive "$1"
}

# _pf_altdir ADD|DEL: add/remove PF_ETC to/from alternate_config_directories
# in the default /etc/postfix/main.cf, under a lock.
_pf_altdir() {
	(
		command -v flock >/dev/null 2>&1 && flock -x 9
		if [ ! -f "$_PF_DEFAULT_ETC/main.cf" ]; then
			[ "$1" = DEL ] && exit 0
			echo "$_PF_MARK" >"$_PF_DEFAULT_ETC/main.cf" || exit 1
			_pf_cool "$_PF_DEFAULT_ETC/main.cf"
		fi
		_pf_cur=$(postconf -c "$_PF_DEFAULT_ETC" -h \
		    alternate_config_directories 2>/dev/null | tr ',' ' ')
		_pf_new=
		_pf_have=no
		for _pf_d in $_pf_cur; do
			if [ "$_pf_d" = "$PF_ETC" ]; then
				_pf_have=yes
				[ "$1" = DEL ] && continue
			fi
			_pf_new="$_pf_new${_pf_new:+ }$_pf_d"
		done
		case "$1:$_pf_have" in
		ADD:yes|DEL:no) exit 0 ;;
		ADD:no) _pf_new="$_pf_new${_pf_new:+ }$PF_ETC" ;;
		esac
		if [ -n "$_pf_new" ]; then
			postconf -c "$_PF_DEFAULT_ETC" -e \
			    "alternate_config_directories = $_pf_new" || exit 1
		else
			postconf -c "$_PF_DEFAULT_ETC" -X \
			    alternate_config_directories || exit 1
			# Remove the file again if this library created it.
			if [ "$(cat "$_PF_DEFAULT_ETC/main.cf")" = "$_PF_MARK" ]
			then
				rm -f "$_PF_DEFAULT_ETC/main.cf"
				exit 0
			fi
		fi
		_pf_cool "$_PF_DEFAULT_ETC/main.cf"
	) 9>>"$_PF_LOCK"
}

# pf_running: true if this instance's master runs.
pf_running() {
	[ -n "$PF_DIR" ] && _pf_alive "$(_pf_master_pid)"
}

_pf_master_pid() {
	sed -n '1s/[^0-9]//gp' "$PF_DIR/queue/pid/master.pid" 2>/dev/null || :
}

# pf_start: start the instance's Postfix ("postfix -c DIR/etc start",
# which the first time runs the "check" step that creates the queue
# directories).  Returns once the master runs and the smtpd port listens.
# If the smtpd port was taken meanwhile (another test), picks a new
# PF_SMTP_PORT and tries again (3 attempts).  On failure prints
# DIR/start.log and DIR/maillog to stderr and returns 1.  A no-op when the
# instance already runs.
pf_start() {
	_pf_need_init || return 1
	pf_running && return 0
	if [ "${PF_ALTDIR:-0}" = 1 ]; then
		if ! _pf_altdir ADD; then
			_pf_err "cannot list $PF_ETC in $_PF_DEFAULT_ETC/main.cf"
			return 1
		fi
		: >"$PF_DIR/altdir-listed"
	fi
	_pf_try=0
	while [ "$_pf_try" -lt 3 ]; do
		_pf_try=$((_pf_try + 1))
		# The first start runs "postfix check" (post-install
		# create-missing makes the queue directories; ~1s); once they
		# exist, skip it ("quick-start": ~0.15s).
		[ -d "$PF_DIR/queue/active" ] &&
		    : >"$PF_DIR/queue/quick-start"
		_pf_logsize=$(wc -c <"$PF_DIR/maillog" 2>/dev/null || echo 0)
		if postfix -c "$PF_ETC" start >>"$PF_DIR/start.log" 2>&1 &&
		    _pf_poll 10 _pf_listening "$PF_SMTP_PORT"; then
			_pf_log "postfix master pid $(_pf_master_pid)"
			return 0
		fi
		tail -c +$((_pf_logsize + 1)) "$PF_DIR/maillog" 2>/dev/null |
		    grep -q "fatal: bind 127.0.0.1 port $PF_SMTP_PORT: Address already in use" ||
		    break
		_pf_np=$(pf_free_port) || break
		_pf_log "smtpd port $PF_SMTP_PORT taken, trying $_pf_np"
		sed -i "s/^127\.0\.0\.1:$PF_SMTP_PORT /127.0.0.1:$_pf_np /" \
		    "$PF_ETC/master.cf" || break
		_pf_cool "$PF_ETC/master.cf"
		PF_SMTP_PORT=$_pf_np
	done
	_pf_err "postfix -c $PF_ETC start failed; start.log:"
	cat "$PF_DIR/start.log" >&2
	echo "--- $PF_DIR/maillog:" >&2
	cat "$PF_DIR/maillog" >&2
	return 1
}

# pf_reload: make a running instance re-read its configuration (no-op
# when it is not running).  Waits until every process of the old
# configuration generation is gone, so that the next connection is
# served with the new settings.
pf_reload() {
	pf_running || return 0
	_pf_mp=$(_pf_master_pid)
	_pf_old=$(pgrep -P "$_pf_mp" | tr '\n' ' ')
	kill -s HUP "$_pf_mp" || return 1
	for _pf_p in $_pf_old; do
		_pf_poll 10 _pf_dead "$_pf_p" || {
			_pf_err "reload: process $_pf_p of the old generation" \
			    "does not exit"
			return 1
		}
	done
	return 0
}

# pf_stop: stop the instance and its smtp-sink, wait until no process of
# either is left (SIGKILL as a last resort), and (PF_ALTDIR=1) remove
# DIR/etc from the default main.cf's alternate_config_directories.  Safe to call several
# times, before pf_init, after a failed pf_init/pf_start, and from an
# EXIT trap, also under set -eu (never fails, always returns 0).  Leaves
# DIR itself in place.  Note: dash runs an EXIT trap on exit but not when
# killed by a signal: add  trap 'exit 1' HUP INT TERM  too.
pf_stop() {
	[ -n "$PF_DIR" ] || return 0
	_pf_mp=$(_pf_master_pid)
	if _pf_alive "$_pf_mp"; then
		kill -s TERM "$_pf_mp" 2>/dev/null || :
		_pf_poll 10 _pf_dead "$_pf_mp" ||
		    kill -s KILL "$_pf_mp" 2>/dev/null || :
	fi
	# The master runs in its own session and process group; its
	# children get SIGTERM from it, but wait for them too.
	if [ -n "$_pf_mp" ]; then
		_pf_poll 10 _pf_group_gone "$_pf_mp" ||
		    kill -s KILL -- "-$_pf_mp" 2>/dev/null || :
	fi
	_pf_sink_stop
	if [ -f "$PF_DIR/altdir-listed" ]; then
		_pf_altdir DEL 2>/dev/null || :
		rm -f "$PF_DIR/altdir-listed"
	fi
	return 0
}

# _pf_group_gone PGID: true if no live (non-zombie) process is in PGID.
_pf_group_gone() {
	! ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/' |
	    grep -q .
}

# pf_conf NAME=VALUE...: set main.cf parameters (postconf -c DIR/etc -e)
# and reload the instance if it runs.
pf_conf() {
	_pf_need_init || return 1
	postconf -c "$PF_ETC" -e "$@" || return 1
	_pf_cool "$PF_ETC/main.cf"
	pf_reload
}

# pf_milters "SPEC ...": set smtpd_milters (e.g. "unix:/tmp/x.sock
# inet:127.0.0.1:1234"; empty for none) and reload the instance if it
# runs.
pf_milters() {
	pf_conf "smtpd_milters = $*"
}

# pf_send ARGS...: run swaks --server 127.0.0.1 --port PF_SMTP_PORT with
# ARGS added (give at least --to), stdin from /dev/null.  Its transcript
# goes to a new file DIR/swaks/NNN.XXXXXX.out, named in PF_SEND_OUT (set
# only when pf_send runs in the current shell).  Returns swaks's exit code
# (0 = accepted; see swaks(1): e.g. 23/24/25 = error after MAIL/RCPT/DATA).
pf_send() {
	_pf_need_init || return 1
	# shellcheck disable=SC2012
	_pf_n=$(ls "$PF_DIR/swaks" | wc -l)
	_pf_n=$(printf '%03d' $((_pf_n + 1)))
	PF_SEND_OUT=$(mktemp "$PF_DIR/swaks/$_pf_n.XXXXXX") || return 1
	mv "$PF_SEND_OUT" "$PF_SEND_OUT.out" && PF_SEND_OUT=$PF_SEND_OUT.out
	swaks --server 127.0.0.1 --port "$PF_SMTP_PORT" "$@" \
	    </dev/null >"$PF_SEND_OUT" 2>&1
}

# pf_sink_files: print the paths of the complete message files in the sink
# directory (files smtp-sink still has open are left out), oldest first.
pf_sink_files() {
	_pf_need_sink || return 1
	# shellcheck disable=SC2012
	_pf_open=$(ls -l "/proc/$(cat "$PF_DIR/sink.pid" 2>/dev/null)/fd" \
	    2>/dev/null | sed -n 's/.* -> //p')
	# shellcheck disable=SC2012
	ls -tr "$PF_SINK_DIR" | while IFS= read -r _pf_f; do
		case "
$_pf_open
" in
		*"
$PF_SINK_DIR/$_pf_f
"*) continue ;;
		esac
		echo "$PF_SINK_DIR/$_pf_f"
	done
}

_pf_sink_count_ge() {
	[ "$(pf_sink_files | wc -l)" -ge "$1" ]
}

# pf_wait_sink N [SECS]: wait (polling every 50ms) until at least N
# complete message files are in the sink directory; default timeout 30s.
# Returns 1 on timeout (after printing the count to stderr).
pf_wait_sink() {
	_pf_need_sink || return 1
	_pf_poll "${2:-30}" _pf_sink_count_ge "$1" && return 0
	_pf_err "pf_wait_sink: timeout waiting for $1 message(s)," \
	    "have $(pf_sink_files | wc -l)"
	return 1
}

_pf_queue_empty() {
	postqueue -c "$PF_ETC" -p 2>/dev/null | grep -q '^Mail queue is empty'
}

# pf_wait_queue_empty [SECS]: wait (polling "postqueue -c DIR/etc -p")
# until the instance's queue is empty; default timeout 30s.  Returns 1 on
# timeout (after printing the queue to stderr).
pf_wait_queue_empty() {
	_pf_need_init || return 1
	_pf_poll "${1:-30}" _pf_queue_empty && return 0
	_pf_err "pf_wait_queue_empty: timeout; queue:"
	postqueue -c "$PF_ETC" -p >&2
	return 1
}

# pf_send_case CASE TO XCLIENT-ARGS...: one message from alice@example.com
# through Postfix with an "X-Case: CASE" header, presenting the client
# with XCLIENT; waits until it is delivered (SINK is then its file,
# TMP/CASE.hdrs its headers, TMP/CASE.swaks the dialogue) and milterd
# has logged both sessions (localhost, then the presented client) in
# MDLOG.  Uses ok/fail from t/lib/test.sh.
PF_NSENT=0
pf_send_case() {
	_c=$1
	_to=$2
	shift 2
	PF_NSENT=$((PF_NSENT + 1))
	_before=$(pf_sink_files | wc -l)
	pf_send --helo client.example --from alice@example.com --to "$_to" \
	    --header "X-Case: $_c" "$@"
	_rc=$?
	cp "$PF_SEND_OUT" "$TMP/$_c.swaks"
	if [ "$_rc" -eq 0 ]; then
		ok "$_c-sent"
	else
		fail "$_c-sent" "swaks exit status $_rc"
		sed 's/^/    | /' "$TMP/$_c.swaks" | tail -n 15
	fi
	SINK=
	if pf_wait_sink $((_before + 1)) 10; then
		SINK=$(pf_sink_files | tr '\n' '\0' |
		    xargs -0 grep -l "^X-Case: $_c\$" | head -n 1)
	fi
	if [ -n "$SINK" ]; then
		ok "$_c-delivered"
		# The headers only (the sink file up to the empty line).
		sed '/^\r\{0,1\}$/q' "$SINK" >"$TMP/$_c.hdrs"
	else
		fail "$_c-delivered" "no delivered message with X-Case: $_c"
		: >"$TMP/$_c.hdrs"
	fi
	# Two session lines per case: localhost, then the XCLIENT client.
	wait_for 10 test "$(grep -c ' session=' "$MDLOG")" -ge $((PF_NSENT * 2)) ||
	    fail "$_c-sessions" "not $((PF_NSENT * 2)) session lines in $MDLOG"
}
