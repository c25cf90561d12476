#!/bin/sh
# Real OpenDKIM as the milter: mtasim prints the DKIM-Signature it adds,
# directly and through milterd, behind a child that changed the body.
. "$(dirname "$0")/lib/test.sh"
. "$T/lib/opendkim.sh"

printf 'From: <user@example.com>\nTo: <rcpt@example.org>\nSubject: sign me\nDate: Thu, 1 Jan 2026 00:00:00 +0000\n\nbody\n' >"$TMP/msg.eml"
printf 'body from the first child\n' >"$TMP/new.txt"
dkim_start dkim || finish

mtasim_run direct -s "unix:$DKIM_DIR/dkim.sock" -a 127.0.0.1 \
    -f user@example.com -r rcpt@example.org -o "$TMP/direct.eml" "$TMP/msg.eml"
rc_is direct 0
grep_ok direct-signature 'header( at [0-9]+)?: DKIM-Signature:.*d=example.com; s=test' "$TMP/direct.out"
check direct-in-message grep -q '^DKIM-Signature:' "$TMP/direct.eml"

tmilter body -b "$TMP/new.txt"
milterd_start md "$(child body)" \
    "milter \"dkim\" { socket = \"unix:$DKIM_DIR/dkim.sock\" }"
mtasim_run via -s "unix:$TMP/md-md.sock" -a 127.0.0.1 \
    -f user@example.com -r rcpt@example.org -o "$TMP/via.eml" "$TMP/msg.eml"
rc_is via 0
grep_ok via-signature 'header( at [0-9]+)?: DKIM-Signature:.*d=example.com; s=test' "$TMP/via.out"
# The signature covers the body the first child put in.
bh_direct=$(tr -d '\r\n\t ' <"$TMP/direct.eml" | sed -n 's/.*bh=\([^;]*\);.*/\1/p')
bh_via=$(tr -d '\r\n\t ' <"$TMP/via.eml" | sed -n 's/.*bh=\([^;]*\);.*/\1/p')
want=$(printf 'body from the first child\r\n' | openssl dgst -sha256 -binary | base64)
check via-bh-covers-new-body test "$bh_via" = "$want"
check direct-bh-covers-old-body test "$bh_direct" != "$want"

finish
