#!/bin/sh
# include.sh: drop-in files (issue 22).  include = { PATTERN... } reads
# the matching files in name order, each once; they hold milter and
# condition sections only; an error in one is named by that file and
# its line; a pattern that matches nothing is no error, a file named
# without a wildcard must exist; a section defined twice across files
# is an error at the second; a reload reads the files again.
. "$(dirname "$0")/lib/test.sh"

D=$TMP/inc
mkdir -p "$D/conf.d"
cat >"$D/main.conf" <<EOC
listen = "unix:$TMP/inc.sock"
include = { "conf.d/*.conf" }
milter "a" { socket = "unix:$TMP/a.sock" }
EOC

# Nothing in conf.d yet: not an error.
"$BUILD/milterd" -n -f "$D/main.conf" >"$TMP/empty.out" 2>&1
RC=$?
rc_is empty 0

# Errors in included files: file:line of that file, all of them, in
# the order of the files; a setting other than a section is refused.
cat >"$D/conf.d/20-b.conf" <<'EOC'
# b, from a package
milter "b" {
	socket = "unix:/nonexistent/b.sock"
	fallback = "bogus"
}
EOC
cat >"$D/conf.d/10-c.conf" <<'EOC'
condition "local" { type = "network" networks = { "127.0.0.0/8" } }
workers = 3
milter "c" { socket = "unix:/nonexistent/c.sock"
	conditions = { "local" } nosuch = 1 }
EOC
conf_bad inc-errors "$D/main.conf"
grep_ok inc-fallback-line "^$D/conf.d/20-b.conf:4: fallback \"bogus\"" \
    "$TMP/inc-errors.out"
grep_ok inc-setting-refused "^$D/conf.d/10-c.conf:2: 'workers': an included file holds only milter and condition sections" \
    "$TMP/inc-errors.out"
grep_ok inc-unknown-key "^$D/conf.d/10-c.conf:4: milter \"c\": no such option 'nosuch'" \
    "$TMP/inc-errors.out"
check inc-file-order test "$(grep -n '10-c.conf' "$TMP/inc-errors.out" |
    head -n 1 | cut -d: -f1)" -lt "$(grep -n '20-b.conf' \
    "$TMP/inc-errors.out" | cut -d: -f1)"

# Fixed, they load, and a condition of one file serves a milter of
# another.
sed -i 's/"bogus"/"accept"/' "$D/conf.d/20-b.conf"
sed -i '/^workers/d; s/ nosuch = 1//' "$D/conf.d/10-c.conf"
"$BUILD/milterd" -n -f "$D/main.conf" >"$TMP/fixed.out" 2>&1
RC=$?
rc_is fixed 0

# A section defined twice across files: at the second, naming the first.
printf '\n\nmilter "a" { socket = "unix:/nonexistent/a2.sock" }\n' \
    >"$D/conf.d/30-dup.conf"
conf_bad inc-dup "$D/main.conf"
grep_ok inc-dup-says "^$D/conf.d/30-dup.conf:3: milter \"a\": a second section of that name \(the first is in $D/main.conf on line 3\)" \
    "$TMP/inc-dup.out"
rm "$D/conf.d/30-dup.conf"

# A file named without a wildcard must exist; the error is on the
# include's line.
printf 'include = { "conf.d/*.conf", "missing.conf" }\n' >>"$D/main.conf"
conf_bad inc-missing "$D/main.conf"
grep_ok inc-missing-says "^$D/main.conf:4: include \"$D/missing.conf\": no such file" \
    "$TMP/inc-missing.out"

# A reload reads the files again: a child added in conf.d serves.
tmilter hdr -h 'X-Dropin: yes'
rm -f "$D/conf.d"/*.conf
mkdir -p "$TMP/rl.d"
milterd_start rl "include = { \"$TMP/rl.d/*.conf\" }"
mtasim_run before -s "unix:$TMP/md-rl.sock" -r ok@example.com
rc_is before 0
no_grep before-unfiltered 'X-Dropin' "$TMP/before.out"
child hdr >"$TMP/rl.d/50-hdr.conf"
kill -HUP "$(cat "$TMP/md-rl.pid")"
filtered() {
	"$BUILD/mtasim" -s "unix:$TMP/md-rl.sock" -r ok@example.com \
	    >"$TMP/after.out" 2>&1 && grep -q 'X-Dropin' "$TMP/after.out"
}
if wait_for 20 filtered; then
	ok reload-reads-includes
else
	fail reload-reads-includes "no X-Dropin after SIGHUP"
	tail -n 20 "$TMP/md-rl.err"
fi

finish
