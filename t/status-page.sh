#!/bin/sh
# The status page on metrics_listen, in a real browser: headless
# Chromium loads GET / and takes a screenshot; the numbers it shows
# are those of /metrics, the children's names are escaped, the graph
# (/graph.svg) rendered; no script, no form, a meta refresh.  The hours
# of / and /graph.svg are bounded; other paths are refused.
. "$(dirname "$0")/lib/test.sh"

PY=/usr/bin/python3
CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
    bail chromium "no chromium: run bin/setup"

# a adds a header and refuses one recipient; "x<b>&y" (a name HTML
# must escape) accepts; c is down.
tmilter a -h 'X-A: 1' -R bad@example.com
tmilter b
port=$(free_port)
milterd_start page "metrics_listen = \"127.0.0.1:$port\"" "$(child a)" \
    "milter \"x<b>&y\" { socket = \"unix:$TMP/b.sock\" }" \
    "$(child c fallback=\"accept\")"
wait_for 10 test -S "$TMP/md-page.sock"
SOCK=unix:$TMP/md-page.sock
for r in r1@example.com bad@example.com r2@example.com; do
	mtasim_run "m-$r" -s "$SOCK" -r "$r"
done
grep_ok sessions-refused '^result: no recipient accepted$' "$TMP/m-bad@example.com.out"
URL=http://127.0.0.1:$port
# A session is counted once the MTA side has closed it.
ended() {
	http_get "$URL/metrics" "$TMP/m0.txt" >/dev/null &&
	    grep -q '^milterd_sessions_total 3$' "$TMP/m0.txt"
}
wait_for 10 ended

# The HTTP side: what is served, and what is refused, said.
check page-200 test "$(http_get "$URL/" "$TMP/page.html")" = 200
grep_ok page-escapes-name '<td>x&lt;b&gt;&amp;y</td>' "$TMP/page.html"
check page-no-raw-name sh -c "! grep -q 'x<b>' '$TMP/page.html'"
check page-hours-200 test "$(http_get "$URL/?hours=6" "$TMP/page6.html")" = 200
grep_ok page-hours-graph 'src="/graph.svg\?hours=6"' "$TMP/page6.html"
check graph-200 test "$(http_get "$URL/graph.svg?hours=1" "$TMP/graph.svg")" = 200
check graph-renders "$PY" "$T/tools/svgcheck.py" "$TMP/graph.svg"
grep_ok graph-escapes-name 'x&lt;b&gt;&amp;y: verdicts per minute' "$TMP/graph.svg"
for q in hours=0 hours=745 hours=x hours= days=1 'hours=1&x=2'; do
	check "hours-400-$q" test "$(http_get "$URL/graph.svg?$q" "$TMP/bad.txt")" = 400
done
grep_ok hours-400-said '^the only query is hours=N, N from 1 to 744$' "$TMP/bad.txt"
check page-hours-400 test "$(http_get "$URL/?hours=745" "$TMP/bad2.txt")" = 400
check other-404 test "$(http_get "$URL/index.html" "$TMP/other.txt")" = 404
grep_ok other-404-said '^served here: GET /metrics, /health, / and /graph.svg' "$TMP/other.txt"

# The browser: the page after load (its DOM) and a screenshot; then
# /metrics, with nothing sent in between.
chrome() {
	"$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
	    --user-data-dir="$TMP/chromium" --virtual-time-budget=5000 "$@" \
	    "$URL/?hours=1" 2>>"$TMP/chromium.log"
}
chrome --dump-dom >"$TMP/dom.html"
check chromium-dom test -s "$TMP/dom.html"
chrome --window-size=1600,1600 --screenshot="$TMP/page.png" >/dev/null
check chromium-screenshot test -s "$TMP/page.png"
check metrics-200 test "$(http_get "$URL/metrics" "$TMP/metrics.txt")" = 200
if "$PY" "$T/tools/pagecheck.py" "$TMP/dom.html" "$TMP/page.png" \
    "$TMP/metrics.txt" a 'x<b>&y' c >"$TMP/pagecheck.out" 2>&1; then
	ok page-as-metrics
else
	fail page-as-metrics
	cat "$TMP/pagecheck.out"
fi
# Something to look at when it fails.
cp "$TMP/page.png" "$BUILD/status-page.png" 2>/dev/null
# Each child's health: c failed three times (failures_to_down) and is down.
grep_ok page-health-up 'data-health="up">up since ' "$TMP/page.html"
grep_ok page-health-down '<td>c</td>.*data-health="down">down since 20' "$TMP/page.html"
grep_ok page-counts-sessions 'data-metric="milterd_sessions_total">3<' "$TMP/page.html"

finish
