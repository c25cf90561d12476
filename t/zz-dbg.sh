. "$(dirname "$0")/lib/test.sh"
awk 'BEGIN { printf "From: a@example.com\nSubject: big\n\n"; for (i = 0; i < 7000; i++) printf "big line %06d: the quick brown fox jumps over the lazy dog\n", i }' > $TMP/big.eml
tmilter k1 -k -h 'X-C1: one'
tmilter n3 -N -h 'X-N3:  lead'
milterd_start t "$(child k1 reuse_connections = true)" "$(child n3 reuse_connections = true)"
for i in 1 2; do "$BUILD/mtasim" -s "unix:$TMP/md-t.sock" -r b@example.com $TMP/big.eml > $TMP/o$i 2>&1; done
cat $TMP/k1.log | grep -v "^header\|^macro"; echo ---; grep -i "x-n3\|negot" $TMP/o1 $TMP/o2; cat $TMP/n3.log | grep -v "^header\|^macro"
grep -v "no such conn" $TMP/md-t.err | tail
