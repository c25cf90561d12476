#!/bin/sh
# deb.sh DIR: the Debian package in DIR (make deb) installed into a fresh
# Debian 12 tree (issue 22).  The tree is minbase plus the package's
# dependencies (t/lib/debian-tree, cached under /var/tmp/milterd-deb-tree
# and keyed by them), used through an overlay, so each run starts from
# the same tree.  dpkg -i must install the files and create _milterd;
# there, milterd -n passes the shipped /etc/milterd/milterd.conf (a
# conffile) and milterd -D runs; milterd itself runs on it (a session
# through its socket, workers as _milterd, state written); dpkg --purge (after milterd's state
# was written to /var/lib/milterd) leaves the tree's file list as it was
# before the install.  The _milterd user stays (debian/milterd.postrm
# says why).  Runs only with MILTERD_TEST_DEB=1 (make test-deb), else it
# says so and passes.
. "$(dirname "$0")/lib/test.sh"
if [ "${MILTERD_TEST_DEB:-0}" != 1 ]; then
	echo "# skipped: run with MILTERD_TEST_DEB=1 (make test-deb)"
	finish
fi
[ "$(id -u)" -eq 0 ] || bail root "deb.sh mounts and chroots: run as root"
umask 022

DEB=$(ls "${1:-build/deb}"/milterd_*.deb 2>/dev/null | tail -n 1)
[ -n "$DEB" ] || bail deb "no ${1:-build/deb}/milterd_*.deb: run make deb"
DEPS=$(dpkg-deb -f "$DEB" Depends | sed 's/([^)]*)//g; s/|[^,]*//g;
    s/,/ /g' | tr -s ' ' | sed 's/^ //; s/ $//')
BASE=$(sh "$T/lib/debian-tree" /var/tmp/milterd-deb-tree "$DEPS") ||
    bail tree "could not make the Debian tree"

R=$TMP/root
mkdir -p "$TMP/upper" "$TMP/work" "$R"
MOUNTS=""
undo() {
	for _m in $MOUNTS; do umount -l "$_m" 2>/dev/null; done
}
on_exit undo
mount -t overlay overlay \
    -o "lowerdir=$BASE,upperdir=$TMP/upper,workdir=$TMP/work" "$R" ||
    bail overlay "cannot mount the overlay"
MOUNTS=$R
mount -t proc proc "$R/proc" || bail proc "cannot mount proc"
MOUNTS="$R/proc $MOUNTS"

# files: the tree's file list, but what only the test or dpkg's own
# bookkeeping changes (/proc, /tmp, dpkg's backups and log), and what
# creating the _milterd user leaves, which stays: the shadow tools'
# backups of the files they edit, adduser's lock in /run (a tmpfs on a
# running system).
files() {
	(cd "$R" && find . -xdev \( -path ./proc -o -path ./tmp \) -prune -o \
	    -print | grep -Ev '^\./var/lib/dpkg/[a-z-]+-old$|^\./var/log/' |
	    grep -Ev '^\./etc/(passwd|group|shadow|gshadow)-$|^\./run/adduser$' |
	    sort)
}
files >"$TMP/before"

cp "$DEB" "$R/tmp/milterd.deb"
chroot "$R" dpkg -i /tmp/milterd.deb >"$TMP/install.out" 2>&1
RC=$?
rc_is install 0
for f in /usr/sbin/milterd /usr/sbin/milterctl /usr/bin/mtasim \
    /usr/share/man/man8/milterd.8.gz /usr/share/man/man8/milterctl.8.gz \
    /usr/share/man/man5/milterd.conf.5.gz /usr/share/man/man1/mtasim.1.gz \
    /lib/systemd/system/milterd.service /lib/systemd/system/milterd.socket \
    /usr/share/milterd/milterd-munin /usr/share/milterd/lua/sqlite-users.lua \
    /usr/share/milterd/lua/ldap-users.lua /etc/milterd/milterd.conf \
    /usr/share/doc/milterd/examples/milterd.conf; do
	check "installed-$f" test -s "$R$f"
done
check unit-paths grep -q '^ExecStart=/usr/sbin/milterd -F$' \
    "$R/lib/systemd/system/milterd.service"
check conffile grep -qx /etc/milterd/milterd.conf \
    "$R/var/lib/dpkg/info/milterd.conffiles"
grep_ok conf-detect '^detect = true$' "$R/etc/milterd/milterd.conf"
grep_ok conf-production '^listen = "unix:/run/milterd/milterd.sock"$' \
    "$R/etc/milterd/milterd.conf"
check user-created chroot "$R" id _milterd
check unit-enabled test -L \
    "$R/etc/systemd/system/multi-user.target.wants/milterd.service"

chroot "$R" milterd -n >"$TMP/n.out" 2>&1
RC=$?
rc_is n 0
grep_ok n-ok 'configuration OK' "$TMP/n.out"
chroot "$R" milterd -D >"$TMP/D.out" 2>&1
RC=$?
rc_is D 0
chroot "$R" milterctl -h >"$TMP/ctl.out" 2>&1
grep_ok milterctl-runs 'usage: milterctl' "$TMP/ctl.out"
chroot "$R" mtasim -h >"$TMP/mtasim.out" 2>&1
grep_ok mtasim-runs 'usage: mtasim' "$TMP/mtasim.out"

# The installed milterd runs on the installed configuration: workers
# as _milterd, a session through its socket (mtasim from the tree),
# its state written at stop.  /dev: a tmpfs with null alone; /run/milterd
# is what the unit's RuntimeDirectory= makes.
mount -t tmpfs -o mode=755,size=1m debdev "$R/dev" || bail dev "no /dev"
MOUNTS="$R/dev $MOUNTS"
mknod -m 666 "$R/dev/null" c 1 3
mkdir -p "$R/run/milterd" "$R/var/lib/milterd"
chroot "$R" milterd -d >"$TMP/run.err" 2>&1 &
RUNPID=$!
on_exit "kill $RUNPID 2>/dev/null"
# Started: its workers are ready.
if wait_for 20 grep -q 'master: started: ' "$TMP/run.err"; then
	ok runs
else
	fail runs "milterd did not start"
	sed 's/^/    | /' "$TMP/run.err" | tail -n 20
fi
# The socket is root's, mode 0660 (socket_group is for the MTA's group).
chroot "$R" mtasim -s unix:/run/milterd/milterd.sock -r a@example.com \
    >"$TMP/session.out" 2>&1
RC=$?
rc_is session 0
# A worker (a child of the master) runs as the tree's _milterd.
MUID=$(chroot "$R" id -u _milterd)
worker_uids() {
	for _p in $(pgrep -P "$RUNPID"); do
		awk '/^Uid:/ { print $2 }' "/proc/$_p/status"
	done
}
UIDS=$(worker_uids | tr "\n" " ")
if [ -n "$MUID" ] && echo " $UIDS " | grep -q " $MUID "; then
	ok workers-drop
else
	fail workers-drop "uids of the master's children: $UIDS; _milterd: $MUID"
fi
kill -TERM "$RUNPID"
wait_for 20 sh -c "! kill -0 $RUNPID" || fail run-stops "still running"
check run-state-written test -s "$R/var/lib/milterd/history"
umount -l "$R/dev"
MOUNTS=$(echo "$MOUNTS" | sed "s|$R/dev ||")
echo 1 >"$R/run/milterd.pid"
chroot "$R" dpkg --purge milterd >"$TMP/purge.out" 2>&1
RC=$?
rc_is purge 0
files >"$TMP/after"
if diff "$TMP/before" "$TMP/after" >"$TMP/left.diff"; then
	ok purge-leaves-nothing
else
	fail purge-leaves-nothing "the file list changed"
	sed 's/^/    | /' "$TMP/left.diff" | head -n 30
fi
check user-kept chroot "$R" id _milterd
# Nothing is left owned by it either.
(cd "$R" && find . -xdev -path ./proc -prune -o -uid "$MUID" -print) \
    >"$TMP/owned"
check nothing-owned-by-milterd test ! -s "$TMP/owned"
finish
