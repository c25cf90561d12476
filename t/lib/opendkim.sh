# opendkim.sh: a real OpenDKIM signer for tests; sourced after test.sh.
#
#   dkim_start NAME   OpenDKIM signing for example.com (selector test) on
#                     unix:$DKIM_DIR/NAME.sock, killed at exit
#
# OpenDKIM refuses a key if any directory above it is writable by
# others (sticky bit or not), so the key lives under /run, not /tmp.

DKIM_DIR=$(mktemp -d -p /run milterd-dkim.XXXXXX)
chmod 755 "$DKIM_DIR"
on_exit "rm -rf '$DKIM_DIR'"

dkim_start() {
	_n=$1
	mkdir -m 700 "$DKIM_DIR/$_n"
	opendkim-genkey -D "$DKIM_DIR/$_n" -d example.com -s test || {
		fail "opendkim-genkey"
		return 1
	}
	cat >"$DKIM_DIR/$_n/opendkim.conf" <<EOC
Syslog		no
Mode		sv
Domain		example.com
Selector	test
KeyFile		$DKIM_DIR/$_n/test.private
Socket		local:$DKIM_DIR/$_n.sock
UMask		000
UserID		root
EOC
	bg "$_n" opendkim -f -x "$DKIM_DIR/$_n/opendkim.conf"
	wait_for 20 test -S "$DKIM_DIR/$_n.sock" || {
		fail "opendkim $_n did not start"
		cat "$TMP/$_n.err"
		return 1
	}
}
