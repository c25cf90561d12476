#!/bin/sh
# milterd -M FILE: the milters of the MTA configurations the other tests
# build, as milterd.conf sections.  Postfix: main.cf as t/lib/postfix.sh
# writes it (pf_init), with the lists set as README's recipe and
# t/e2e-postfix.sh set them (a $parameter, master.cf's -o override) and
# in Postfix 3's per-milter form.  Sendmail: the .mc t/lib/sendmail.sh's
# sm_mc writes with t/sendmail.sh's MAIL_FILTER lines and README's
# flags, and the checked-in t/fixtures/migrate/*.mc and the *.cf that
# Sendmail's m4 made of them; where the cached Sendmail tree
# (t/lib/sendmail-tree) exists, the .cf are made again from the .mc
# with its m4 files and must give the same sections, and the
# INPUT_MAIL_FILTER line printed must make a sendmail.cf that lists
# milterd alone.  Each time the printed text, appended to milterd's own
# configuration, passes milterd -n; the Postfix line, set with postconf,
# is what postconf then reads back.
. "$(dirname "$0")/lib/test.sh"
# shellcheck source=lib/postfix.sh
. "$T/lib/postfix.sh"
# shellcheck source=lib/sendmail.sh
. "$T/lib/sendmail.sh"
on_exit pf_stop
FIX=$T/fixtures/migrate
MD=$BUILD/milterd

# milterd's own configuration, whose socket the MTA's line names.
MDCONF=$TMP/md.conf
printf 'listen = "unix:%s/md.sock"\nstate_file = ""\n' "$TMP" >"$MDCONF"

# migrate NAME FILE [CONF]: milterd -M FILE -f CONF (default MDCONF)
# into TMP/NAME.out (stderr TMP/NAME.err); ok if it exits 0 and the
# output appended to CONF passes milterd -n.
migrate() {
	_conf=${3:-$MDCONF}
	if "$MD" -M "$2" -f "$_conf" >"$TMP/$1.out" 2>"$TMP/$1.err"; then
		ok "$1: exit 0"
	else
		fail "$1: exit 0" "$(cat "$TMP/$1.err")"
	fi
	cat "$_conf" "$TMP/$1.out" >"$TMP/$1.conf"
	if "$MD" -n -f "$TMP/$1.conf" >"$TMP/$1.check" 2>&1; then
		ok "$1: milterd -n takes it"
	else
		fail "$1: milterd -n takes it"
		sed 's/^/    | /' "$TMP/$1.check" "$TMP/$1.out" | head -n 40
	fi
}

# sections FILE: "NAME SOCKET FALLBACK CONNECT COMMAND EOM" per section.
sections() {
	awk '/^milter "/ { n = $2; gsub(/"/, "", n); s = f = c = m = e = "-" }
	    /^\tsocket = / { s = $3 } /^\tfallback = / { f = $3 }
	    /^\tconnect_timeout = / { c = $3 } /^\tcommand_timeout = / { m = $3 }
	    /^\teom_timeout = / { e = $3 }
	    /^}/ { gsub(/"/, "", s); gsub(/"/, "", f)
	           print n, s, f, c, m, e }' "$1"
}

# same_sections NAME FILE WANT: FILE's sections are WANT (lines).
same_sections() {
	sections "$2" >"$TMP/$1.got"
	printf '%s\n' "$3" >"$TMP/$1.want"
	if cmp -s "$TMP/$1.got" "$TMP/$1.want"; then
		ok "$1"
	else
		fail "$1" "sections differ"
		diff -u "$TMP/$1.want" "$TMP/$1.got" | sed 's/^/    | /'
	fi
}

# mta_line FILE PATTERN: the MTA's line (printed after a tab in a
# comment) that matches PATTERN.
mta_line() {
	sed -n 's/^#\t//p' "$1" | grep -E -- "$2" | head -n 1
}

# --- Postfix ------------------------------------------------------------
pf_init "$TMP/pf" || bail postfix-init "pf_init failed"
C1=unix:$TMP/c1.sock
C2=unix:$TMP/c2.sock

# README's recipe as the list was before: two milters, one parameter.
postconf -c "$PF_ETC" -e "smtpd_milters = $C1 $C2" \
    'non_smtpd_milters = $smtpd_milters' 'milter_connect_timeout = 10s' ||
    bail postconf "postconf failed"
migrate postfix-list "$PF_ETC/main.cf"
same_sections postfix-list-sections "$TMP/postfix-list.out" \
    "c1 $C1 tempfail 10 30 300
c2 $C2 tempfail 10 30 300"
line=$(mta_line "$TMP/postfix-list.out" '^smtpd_milters = ')
check "postfix-list: the smtpd_milters line" test -n "$line"
grep_ok "postfix-list: non_smtpd_milters follows" \
    '^#	non_smtpd_milters = \$smtpd_milters$' "$TMP/postfix-list.out"
if postconf -c "$PF_ETC" -e "$line" 'non_smtpd_milters = $smtpd_milters'; then
	got=$(postconf -c "$PF_ETC" -xh smtpd_milters)
	want=$(printf '%s\n' "$line" | sed 's/^smtpd_milters = //')
	check "postfix-list: postconf takes the line" test "$got" = "$want"
	check "postfix-list: it names milterd's socket" \
	    sh -c "printf '%s' '$got' | grep -q 'unix:$TMP/md.sock'"
else
	fail "postfix-list: postconf takes the line" "$line"
fi

# Postfix 3's per-milter settings, a list of its own for non-SMTP mail.
postconf -c "$PF_ETC" -e 'milter_default_action = accept' \
    "smtpd_milters = { $C1, default_action=tempfail, command_timeout=5s }, $C2" \
    "non_smtpd_milters = { $C2 }, { unix:$TMP/c3.sock, content_timeout=2m }" ||
    bail postconf "postconf failed"
migrate postfix-3 "$PF_ETC/main.cf"
same_sections postfix-3-sections "$TMP/postfix-3.out" \
    "c1 $C1 tempfail 10 5 300
c2 $C2 accept 10 30 300
c3 unix:$TMP/c3.sock accept 10 30 120"
grep_ok "postfix-3: the lists differ, said" \
    'non_smtpd_milters differ' "$TMP/postfix-3.out"

# t/e2e-postfix.sh's form: the list in master.cf's -o, main.cf's empty.
postconf -c "$PF_ETC" -e "e2e_direct = $C1" 'smtpd_milters =' \
    'non_smtpd_milters =' || bail postconf "postconf failed"
sed -i "s|^\(127\.0\.0\.1:$PF_SMTP_PORT inet .* smtpd\)\$|\1 -o smtpd_milters=\$e2e_direct|" \
    "$PF_ETC/master.cf"
migrate postfix-e2e "$PF_ETC/main.cf"
grep_ok "postfix-e2e: master.cf's override said" \
    'smtpd_milters=\$e2e_direct" overrides main.cf' "$TMP/postfix-e2e.out"
grep_ok "postfix-e2e: nothing to replace" 'No milters listed' \
    "$TMP/postfix-e2e.out"

# --- Sendmail -----------------------------------------------------------
sm_recipe || fail "sendmail: README's recipe" "not found"
SM_TREE_CF=
for _t in /var/tmp/milterd-sendmail-tree/bookworm-*; do
	[ -f "$_t/.complete" ] && SM_TREE_CF=$_t/usr/share/sendmail/cf
done

# mc2cf MC CF: Sendmail's m4 makes CF of MC (the cached tree's files).
mc2cf() {
	m4 -D_CF_DIR_="$SM_TREE_CF/" "$SM_TREE_CF/m4/cf.m4" "$1" >"$2"
}

# t/sendmail.sh's direct mode: MAIL_FILTER lines, a daemon's list.
PF_SINK_PORT=2500
sm_mc "DAEMON_OPTIONS(\`Family=inet, Name=MTA-d, Addr=127.0.0.1, Port=2525, InputMailFilters=c1;c2')dnl" \
    "DAEMON_OPTIONS(\`Family=inet, Name=MTA-m, Addr=127.0.0.1, Port=2526')dnl" \
    "MAIL_FILTER(\`c1', \`S=$C1, $SM_RECIPE_FLAGS')dnl" \
    "MAIL_FILTER(\`c2', \`S=$C2, $SM_RECIPE_FLAGS')dnl" >"$TMP/sendmail.mc"
migrate sendmail-e2e "$TMP/sendmail.mc"
same_sections sendmail-e2e-sections "$TMP/sendmail-e2e.out" \
    "c1 $C1 tempfail 30 60 600
c2 $C2 tempfail 30 60 600"
grep_ok "sendmail-e2e: MAIL_FILTER and the daemons' lists" \
    "^#	MAIL_FILTER\(\`milterd', \`S=unix:$TMP/md.sock, F=T, T=C:30s;S:30s;R:3m;E:21m'\)" \
    "$TMP/sendmail-e2e.out"

WANT_INPUT="opendkim inet:8891@127.0.0.1 tempfail 30 60 600
spamass local:/var/run/spamass/spamass.sock reject 300 10 300
clamav unix:/var/run/clamav/clamav-milter.ctl accept 300 10 360"
for f in input daemons; do
	migrate "sendmail-$f.mc" "$FIX/$f.mc"
	migrate "sendmail-$f.cf" "$FIX/$f.cf"
	sections "$TMP/sendmail-$f.mc.out" >"$TMP/$f.mc.sections"
	same_sections "sendmail-$f: .cf and .mc alike" \
	    "$TMP/sendmail-$f.cf.out" "$(cat "$TMP/$f.mc.sections")"
	if [ -n "$SM_TREE_CF" ]; then
		mc2cf "$FIX/$f.mc" "$TMP/$f.cf"
		migrate "sendmail-$f.cf-made" "$TMP/$f.cf"
		same_sections "sendmail-$f: the fixture is what m4 makes" \
		    "$TMP/sendmail-$f.cf-made.out" \
		    "$(cat "$TMP/$f.mc.sections")"
	fi
done
same_sections sendmail-input-sections "$TMP/sendmail-input.mc.out" \
    "$WANT_INPUT"
grep_ok "sendmail-input: the unused filter said" \
    'Filter unused is defined but in no list' "$TMP/sendmail-input.mc.out"
grep_ok "sendmail-input: what milterd does with E" \
    "Sendmail's E runs from the end of the" "$TMP/sendmail-input.mc.out"
grep_ok "sendmail-input.cf: the X line" \
    "^#	Xmilterd, S=unix:$TMP/md.sock, F=T, " "$TMP/sendmail-input.cf.out"

# The INPUT_MAIL_FILTER line in place of the filters' lines.
line=$(mta_line "$TMP/sendmail-input.mc.out" '^INPUT_MAIL_FILTER\(`milterd')
check "sendmail-input: the INPUT_MAIL_FILTER line" test -n "$line"
if [ -n "$SM_TREE_CF" ]; then
	{
		grep -v 'MAIL_FILTER(' "$FIX/input.mc"
		printf '%s\n' "$line"
	} >"$TMP/after.mc"
	mc2cf "$TMP/after.mc" "$TMP/after.cf"
	grep_ok "sendmail-input: m4 makes milterd's X line of it" \
	    "^Xmilterd, S=unix:$TMP/md.sock, F=T, T=" "$TMP/after.cf"
	grep_ok "sendmail-input: milterd alone in the list" \
	    '^O InputMailFilters=milterd$' "$TMP/after.cf"
else
	echo "# no cached Sendmail tree: m4 parts skipped"
fi

# --- Errors and the placeholder -----------------------------------------
"$MD" -M "$TMP/none.cf" -f "$MDCONF" >"$TMP/none.out" 2>&1
check "a missing file: exit 1" test $? -eq 1
grep_ok "a missing file: said" 'none.cf: No such file' "$TMP/none.out"
echo "hello" >"$TMP/hello.txt"
"$MD" -M "$TMP/hello.txt" >"$TMP/hello.out" 2>&1
check "not an MTA's file: exit 1" test $? -eq 1
grep_ok "not an MTA's file: said" "neither Postfix's main.cf nor" \
    "$TMP/hello.out"
printf 'smtpd_milters = { %s, default_action=bounce }\n' "$C1" \
    >"$TMP/main.cf"
"$MD" -M "$TMP/main.cf" >"$TMP/bad.out" 2>&1
check "a bad default_action: exit 1" test $? -eq 1
grep_ok "a bad default_action: said" \
    'default action "bounce": expected accept, tempfail' "$TMP/bad.out"
# A configuration that does not load: a placeholder for its socket.
printf 'listen = "nowhere"\n' >"$TMP/badmd.conf"
printf 'smtpd_milters = %s\n' "$C1" >"$TMP/main.cf"
"$MD" -M "$TMP/main.cf" -f "$TMP/badmd.conf" >"$TMP/placeholder.out" 2>&1
check "placeholder: exit 0" test $? -eq 0
grep_ok "placeholder: milterd's socket unknown, said" \
    'badmd.conf does not load' "$TMP/placeholder.out"
grep_ok "placeholder: LISTEN in the line" \
    '^#	smtpd_milters = \{ LISTEN, ' "$TMP/placeholder.out"
cat "$MDCONF" "$TMP/placeholder.out" >"$TMP/placeholder.conf"
check "placeholder: milterd -n takes the sections" \
    "$MD" -n -f "$TMP/placeholder.conf"

finish
