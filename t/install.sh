#!/bin/sh
# make install: every file where PREFIX and DESTDIR say, nothing
# outside DESTDIR.
. "$(dirname "$0")/lib/test.sh"

cd "$T/.." || exit 1
make -s install B="$BUILD" DESTDIR="$TMP/root" PREFIX=/opt/milterd \
    >"$TMP/install.out" 2>&1
RC=$?
check install-exit-0 test "$RC" -eq 0
for f in sbin/milterd sbin/milterctl bin/mtasim share/man/man8/milterd.8 \
    share/man/man8/milterctl.8 share/man/man5/milterd.conf.5 \
    share/man/man1/mtasim.1 share/milterd/milterd-munin \
    share/milterd/lua/sqlite-users.lua share/milterd/lua/ldap-users.lua \
    etc/milterd.conf.sample; do
	check "installed-$f" test -s "$TMP/root/opt/milterd/$f"
done
check milterd-executable test -x "$TMP/root/opt/milterd/sbin/milterd"
check milterctl-executable test -x "$TMP/root/opt/milterd/sbin/milterctl"
check sample-config-valid "$TMP/root/opt/milterd/sbin/milterd" -n \
    -f "$TMP/root/opt/milterd/etc/milterd.conf.sample"
check nothing-else test "$(find "$TMP/root" -mindepth 1 -maxdepth 1)" = \
    "$TMP/root/opt"
finish
