#!/bin/sh
# Detection of the milters installed on a host (milterd -D).  One fixture
# root per layout under t/fixtures/detect/ (its README says what each
# holds and why): the output must be ROOT.expected byte for byte, every
# pattern of ROOT.warnings must be on stderr, the exit status 0, and the
# sections printed a valid configuration that, pasted as it is, has no
# launch refused for root (the chain order, names, paths and comments
# of milterd -D are checked on the Debian root).  detect = true in a
# configuration adds the detected milters to a running milterd, a
# configured milter of the same name winning.  Then this machine itself
# (the default root, /): every milter package installed is reported with
# the socket its own package configured, read here from the package's
# files, or not at all when its service is not enabled.
. "$(dirname "$0")/lib/test.sh"

FIX=$T/fixtures/detect
PACKAGES="opendkim opendmarc spamass-milter clamav-milter pyspf-milter dkimpy-milter"

# same NAME FILE WANT-FILE: ok if FILE is WANT-FILE byte for byte, else
# the difference.
same() {
	if cmp -s "$3" "$2"; then
		ok "$1"
	else
		fail "$1" "$2 differs from $3"
		diff -u "$3" "$2" | sed 's/^/    | /' | head -n 60
	fi
}

# status_is NAME STATUS: ok if the last command's status ($RC) is STATUS.
status_is() {
	if [ "$RC" -eq "$2" ]; then ok "$1"; else fail "$1" "exit status $RC, not $2"; fi
}

# sections FILE: one line per milter section in FILE, in milterd's
# configuration syntax: "NAME SOCKET COMMAND" (COMMAND "-" when there is
# none; its blanks kept; milterd -D's "#command" counts).
sections() {
	awk '
	/^milter "/ { name = $2; gsub(/"/, "", name); sock = "-"; cmd = "-" }
	name != "" && $1 == "socket" { sock = $3; gsub(/"/, "", sock) }
	name != "" && ($1 == "command" || $1 == "#command") {
		cmd = $0
		sub(/^[ \t]*#?command[ \t]*=[ \t]*"/, "", cmd)
		sub(/"[ \t]*$/, "", cmd)
	}
	name != "" && /^[ \t]*}/ { print name, sock, cmd; name = "" }
	' "$1"
}

# valid_conf NAME OUTPUT: ok if OUTPUT after a listen/pidfile header is
# a configuration milterd -n accepts (without allow_root_command: the
# sections' root commands are commented out).
valid_conf() {
	{
		echo "listen = \"unix:$TMP/$1.sock\""
		echo "pidfile = \"$TMP/$1.pid\""
		cat "$2"
	} >"$TMP/$1.conf"
	if "$BUILD/milterd" -n -f "$TMP/$1.conf" >"$TMP/$1.check" 2>&1; then
		ok "$1"
	else
		fail "$1" "milterd -n -f $TMP/$1.conf"
		sed 's/^/    | /' "$TMP/$1.check" | head -n 20
	fi
}

# only_warnings NAME STDERR: every line of STDERR is a detection warning.
only_warnings() {
	if grep -qv '^milterd: detect: ' "$2"; then
		fail "$1" "stderr lines that are not 'milterd: detect: ' warnings"
		grep -v '^milterd: detect: ' "$2" | sed 's/^/    | /' | head -n 20
	else
		ok "$1"
	fi
}

#
# The fixture roots.
#
for os in debian redhat freebsd openbsd; do
	root=$FIX/$os
	"$BUILD/milterd" -D -R "$root" >"$TMP/$os.out" 2>"$TMP/$os.err"
	RC=$?
	status_is "$os-exit" 0
	same "$os-stdout" "$TMP/$os.out" "$FIX/$os.expected"
	n=0
	while IFS= read -r pat; do
		[ -n "$pat" ] || continue
		n=$((n + 1))
		grep_ok "$os-warning-$n" "$pat" "$TMP/$os.err"
	done <"$FIX/$os.warnings"
	only_warnings "$os-stderr-only-warnings" "$TMP/$os.err"
	# Example configurations are never read, so never complained about.
	check "$os-no-example-read" sh -c "! grep -Eq '\\.(sample|example|dist)(:|\$)|usr/share/doc/' '$TMP/$os.err'"
	valid_conf "$os-sections-valid" "$TMP/$os.out"

	# detect = true in a configuration: milterd -n accepts it...
	{
		echo "listen = \"unix:$TMP/$os-det.sock\""
		echo "pidfile = \"$TMP/$os-det.pid\""
		echo "detect = true"
		echo "detect_root = \"$root\""
	} >"$TMP/$os-det.conf"
	"$BUILD/milterd" -n -f "$TMP/$os-det.conf" >"$TMP/$os-det.check" 2>&1
	RC=$?
	status_is "$os-detect-conf-check" 0
	[ "$RC" -eq 0 ] || sed 's/^/    | /' "$TMP/$os-det.check" | head -n 20

	# ...and a running milterd has the detected milters, except that its
	# own "opendkim" (detected in every root) is the configured one;
	# with allow_root_command, with their start commands.
	milterd_start "det-$os" 'detect = true' "detect_root = \"$root\"" \
	    'allow_root_command = true' \
	    "milter \"opendkim\" { socket = \"unix:$TMP/mine-$os.sock\" }"
	"$BUILD/milterctl" -s "$TMP/md-det-$os.ctl" show config \
	    >"$TMP/det-$os.show" 2>&1
	RC=$?
	status_is "$os-detect-show-config" 0
	sections "$FIX/$os.expected" | awk -v mine="unix:$TMP/mine-$os.sock" '
	    $1 == "opendkim" { print "opendkim", mine, "-"; next } { print }' |
	    sort >"$TMP/det-$os.want"
	sections "$TMP/det-$os.show" | sort >"$TMP/det-$os.got"
	same "$os-detect-milters" "$TMP/det-$os.got" "$TMP/det-$os.want"
	check "$os-detect-one-opendkim" test "$(grep -c '^milter "opendkim"' \
	    "$TMP/det-$os.show")" -eq 1
	check "$os-detect-configured-wins" grep -q \
	    "^[[:space:]]*socket = \"unix:$TMP/mine-$os.sock\"" "$TMP/det-$os.show"
done

# milterd -D's output pasted as it is into a configuration: a launch is
# never refused for root (allow_root_command is false by default).  The
# sockets are made unreachable, so that each child's launch is tried.
printf 'From: <a@example.com>\nSubject: hi\n\nbody\n' >"$TMP/paste.eml"
sed "s|^\([[:space:]]*socket = \"\).*\"|\1unix:$TMP/none.sock\"|" \
    "$FIX/debian.expected" >"$TMP/paste.sections"
milterd_start paste 'launch_wait = 1' "$(cat "$TMP/paste.sections")"
mtasim_run paste -s "unix:$TMP/md-paste.sock" -f a@example.com \
    -r b@example.com "$TMP/paste.eml"
# Each child is down: their fallback, tempfail by default.
rc_is paste 2
wait_for 10 grep -q 'session=.*verdict=' "$TMP/md-paste.err"
grep_ok paste-session 'session=.*verdict=' "$TMP/md-paste.err"
no_grep paste-launch-not-refused 'launcher refused|allow_root_command is false' \
    "$TMP/md-paste.err"

# Names, order, paths: the sample's names (spamass), verification before
# DMARC, the milters of unknown role last, facts as absolute paths.
sections "$FIX/debian.expected" | awk '{ print $1 }' | tr '\n' ' ' \
    >"$TMP/order"
check detect-order test "$(cat "$TMP/order")" = \
    "opendkim opendmarc spamass acme-milter sigmilter "
no_grep detect-paths-absolute '^# [^ ]+: .* (in|unit|script|enabled \() [a-z]' \
    "$FIX/debian.expected"
grep_ok detect-order-comment '^# .*order of the sections is the chain' \
    "$FIX/debian.expected"
grep_ok detect-root-comment '^# .*allow_root_command = true' \
    "$FIX/debian.expected"

# Detection is made again at a reload: a milter that appears (an
# enabled unit added under the root) is there after milterctl reload.
cp -R "$FIX/debian" "$TMP/root-reload"
milterd_start reload 'detect = true' "detect_root = \"$TMP/root-reload\""
check reload-before sh -c "! \"$BUILD/milterctl\" -s \"$TMP/md-reload.ctl\" show config | grep -q '^milter \"newmilter\"'"
mkdir -p "$TMP/root-reload/etc/systemd/system/multi-user.target.wants"
printf '[Service]\nExecStart=/usr/sbin/newmilter -p inet:9999@127.0.0.1\n' \
    >"$TMP/root-reload/lib/systemd/system/newmilter.service"
ln -s /lib/systemd/system/newmilter.service \
    "$TMP/root-reload/etc/systemd/system/multi-user.target.wants/newmilter.service"
"$BUILD/milterctl" -s "$TMP/md-reload.ctl" reload >"$TMP/reload.out" 2>&1
RC=$?
status_is reload-ok 0
"$BUILD/milterctl" -s "$TMP/md-reload.ctl" show config >"$TMP/reload.show" 2>&1
grep_ok reload-detected '^milter "newmilter"' "$TMP/reload.show"
grep_ok reload-socket 'socket = "inet:9999@127.0.0.1"' "$TMP/reload.show"
# Without allow_root_command, the detected milters get no command (the
# launcher would refuse it).
no_grep reload-no-root-command '^[[:space:]]*command = ' "$TMP/reload.show"

# -D with -f: milters the file configures are left out, and said so.
printf 'milter "opendkim" { socket = "unix:/mine" }\n' >"$TMP/conf-f.conf"
"$BUILD/milterd" -D -f "$TMP/conf-f.conf" -R "$FIX/debian" \
    >"$TMP/conf-f.out" 2>"$TMP/conf-f.err"
RC=$?
status_is conf-f-exit 0
grep_ok conf-f-said "^# opendkim: configured in $TMP/conf-f.conf already\$" "$TMP/conf-f.out"
check conf-f-left-out sh -c "! grep -q '^milter \"opendkim\"' '$TMP/conf-f.out'"
grep_ok conf-f-others '^milter "opendmarc"' "$TMP/conf-f.out"

# A root given relative to the current directory: the same output.
(cd "$T/.." && "$BUILD/milterd" -D -R t/fixtures/detect/debian) \
    >"$TMP/debian-rel.out" 2>"$TMP/debian-rel.err"
RC=$?
status_is debian-relative-root-exit 0
same debian-relative-root "$TMP/debian-rel.out" "$FIX/debian.expected"

#
# This machine (Debian): the default root is /.
#
"$BUILD/milterd" -D >"$TMP/host.out" 2>"$TMP/host.err"
RC=$?
status_is host-exit 0
"$BUILD/milterd" -D -R / >"$TMP/host-root.out" 2>"$TMP/host-root.err"
RC=$?
status_is host-root-exit 0
same host-default-root-is-slash "$TMP/host-root.out" "$TMP/host.out"
only_warnings host-stderr-only-warnings "$TMP/host.err"
valid_conf host-sections-valid "$TMP/host.out"
sections "$TMP/host.out" >"$TMP/host.sections"

# norm SPEC: a milter's socket spec as milterd -D prints it.
norm() {
	case $1 in
	local:*)	echo "unix:${1#local:}" ;;
	/*)		echo "unix:$1" ;;
	inet:*@*|inet6:*@*|unix:*) echo "$1" ;;
	inet:*)		echo "$1@localhost" ;;
	inet6:*)	echo "$1@::1" ;;
	*)		echo "$1" ;;
	esac
}

# conf_value FILE KEY: the first uncommented "KEY value" of FILE.
conf_value() {
	[ -r "$1" ] && awk -v k="$2" '$1 == k { print $2; exit }' "$1"
}

# default_socket FILE: SOCKET as the init scripts see it after sourcing
# /etc/default/NAME (variables such as $RUNDIR expanded), or nothing.
default_socket() {
	[ -r "$1" ] && env -u SOCKET sh -c '. "$1" >/dev/null 2>&1; printf %s "$SOCKET"' sh "$1"
}

# pkg_socket PACKAGE: the socket PACKAGE's own files configure, as the
# package reads them; nothing if none.
pkg_socket() {
	case $1 in
	opendkim|opendmarc)
		# etc/default/NAME's SOCKET overrides the milter's own file.
		s=$(default_socket "/etc/default/$1")
		[ -n "$s" ] || s=$(conf_value "/etc/$1.conf" Socket)
		;;
	spamass-milter)
		# The init script's default (another one when Postfix is
		# installed), then /etc/default/spamass-milter: the lines of
		# the script that set SOCKET, evaluated as it does.
		s=$(env -u SOCKET sh -c '
			eval "$(sed -n -e "/^SOCKET=/p" \
			    -e "/^if \[ -x \/usr\/sbin\/postfix \]/,/^fi/p" \
			    /etc/init.d/spamass-milter)"
			if [ -r /etc/default/spamass-milter ]; then
				. /etc/default/spamass-milter >/dev/null 2>&1
			fi
			printf %s "$SOCKET"')
		;;
	clamav-milter)
		s=$(conf_value /etc/clamav/clamav-milter.conf MilterSocket)
		;;
	pyspf-milter)
		# "Name = value", as spf_engine reads it.
		s=$(awk -F= '{ sub(/#.*/, "") }
		    NF == 2 && $1 ~ /^[ \t]*Socket[ \t]*$/ {
			v = $2; gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit }' \
		    /etc/pyspf-milter/pyspf-milter.conf)
		;;
	dkimpy-milter)
		s=$(conf_value /etc/dkimpy-milter/dkimpy-milter.conf Socket)
		;;
	esac
	[ -n "$s" ] && norm "$s"
}

for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		ok "$p-not-installed"
		continue
	fi
	# The service manager that starts it, and whether it is enabled.
	enabled=no
	if [ -f "/lib/systemd/system/$p.service" ] ||
	    [ -f "/etc/systemd/system/$p.service" ]; then
		cmd="/bin/systemctl start $p"
		for l in /etc/systemd/system/*.wants/"$p.service"; do
			if [ -L "$l" ] || [ -e "$l" ]; then enabled=yes; fi
		done
	elif [ -f "/etc/init.d/$p" ]; then
		cmd="/usr/sbin/service $p start"
		for l in /etc/rc[2-5].d/S[0-9][0-9]"$p"; do
			if [ -L "$l" ] || [ -e "$l" ]; then enabled=yes; fi
		done
	else
		cmd=-
	fi
	sock=$(pkg_socket "$p")
	# milterd's name: the sample configuration's.
	name=$p
	[ "$p" != spamass-milter ] || name=spamass
	got=$(awk -v n="$name" '$1 == n' "$TMP/host.sections")
	echo "# $p: enabled=$enabled socket=${sock:-none} command=$cmd"
	if [ "$enabled" = no ]; then
		check "$p-disabled-not-detected" test -z "$got"
	elif [ -z "$sock" ]; then
		check "$p-no-socket-not-detected" test -z "$got"
		grep_ok "$p-no-socket-warned" \
		    "^milterd: detect: .*$p.*[Ss]ocket" "$TMP/host.err"
	elif [ "$got" = "$name $sock $cmd" ]; then
		ok "$p-detected"
	else
		fail "$p-detected" "got '${got:-nothing}', want '$name $sock $cmd'"
	fi
done

finish
