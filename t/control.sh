#!/bin/sh
# The control socket, milterctl, the counters and the Prometheus
# endpoint, against a running milterd with real child milters:
# every milterctl command and its exit status, counters that match a
# known batch of sessions exactly (in `stats -j' and over HTTP), the
# session log line, enable/disable/evaluate until the next reload,
# counters kept when a worker is killed, the history kept across a
# restart in the state file.
# shellcheck disable=SC2086 # $ALL and $args are word lists on purpose
. "$(dirname "$0")/lib/test.sh"

PY=/usr/bin/python3

# Helpers that read what milterctl and the metrics endpoint say.
cat >"$TMP/check.py" <<'EOF'
import json
import os
import socket
import struct
import sys

VERDICTS = ["none", "accept", "reject", "tempfail", "discard", "quarantine"]
COUNTS = VERDICTS[1:] + ["fallback"]


def load(path):
    with open(path) as f:
        return json.load(f)


def die(msgs):
    for m in msgs:
        print("    | " + m)
    sys.exit(1 if msgs else 0)


def get(path, expr):
    """Print a Python expression of the JSON in path (as j)."""
    j = load(path)
    v = eval(expr, {"j": j})
    print(json.dumps(v) if isinstance(v, (dict, list, bool)) else v)


def verdicts_diff(where, got, want, names):
    d = []
    if not isinstance(got, dict) or sorted(got) != sorted(names):
        return ["%s: keys %r, want %r" % (where, got, names)]
    for n in names:
        if got[n] != want.get(n, 0):
            d.append("%s.%s = %r, want %r" % (where, n, got[n],
                                              want.get(n, 0)))
    for n in want:
        if n not in names:
            d.append("%s: no verdict %r" % (where, n))
    return d


def stats(path, specpath):
    """stats -j against a spec: every counter exactly, verdicts not
    named in the spec must be 0, children exactly those named, latency
    counts exactly per stage (stages not named must be absent)."""
    j = load(path)
    spec = load(specpath)
    d = []
    s = j["sessions"]
    for k in ("total", "open"):
        if s[k] != spec["sessions"][k]:
            d.append("sessions.%s = %r, want %r" % (k, s[k],
                                                   spec["sessions"][k]))
    d += verdicts_diff("sessions.verdicts", s["verdicts"],
                       spec["sessions"]["verdicts"], VERDICTS)
    m = j["messages"]
    if m["total"] != spec["messages"]["total"]:
        d.append("messages.total = %r, want %r" % (
            m["total"], spec["messages"]["total"]))
    d += verdicts_diff("messages.verdicts", m["verdicts"],
                       spec["messages"]["verdicts"], VERDICTS[1:])
    if j["mta_errors"] != spec["mta_errors"]:
        d.append("mta_errors = %r, want %r" % (j["mta_errors"],
                                              spec["mta_errors"]))
    names = [c["name"] for c in j["children"]]
    if sorted(names) != sorted(spec["children"]):
        d.append("children %r, want %r" % (names, sorted(spec["children"])))
    for c in j["children"]:
        w = spec["children"].get(c["name"])
        if w is None:
            continue
        n = c["name"]
        for k in ("sessions", "fallbacks", "timeouts", "errors"):
            if c[k] != w[k]:
                d.append("%s.%s = %r, want %r" % (n, k, c[k], w[k]))
        d += verdicts_diff(n + ".verdicts", c["verdicts"], w["verdicts"],
                           VERDICTS[1:])
        d += verdicts_diff(n + ".evaluation_verdicts",
                           c["evaluation_verdicts"],
                           w["evaluation_verdicts"], VERDICTS[1:])
        if "latency" in w:
            got = {st: v["count"] for st, v in c["latency"].items()}
            if got != w["latency"]:
                d.append("%s.latency counts %r, want %r" % (n, got,
                                                           w["latency"]))
    die(d)


def same(a, b):
    """Two JSON files hold the same value."""
    x, y = load(a), load(b)
    die([] if x == y else ["%s: %s" % (a, json.dumps(x)),
                           "%s: %s" % (b, json.dumps(y))])


def exe_of(pid):
    try:
        e = os.readlink("/proc/%d/exe" % pid)
    except OSError as e:
        return "(%s)" % e
    return e[:-len(" (deleted)")] if e.endswith(" (deleted)") else e


def ppid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    return -1


def status(path, pidfile, milterd, gen, *children):
    """status -j: the master's pid is the pid file's, the launcher and
    workers are milterd processes whose parent is the master, the
    generation, the children in order with enabled, evaluation, changed
    (NAME:ENABLED:EVALUATION:CHANGED, each 0 or 1)."""
    j = load(path)
    d = []
    with open(pidfile) as f:
        pid = int(f.read().split()[0])
    exe = os.path.realpath(milterd)
    if j["pid"] != pid:
        d.append("pid %r, pid file says %r" % (j["pid"], pid))
    if exe_of(pid) != exe:
        d.append("master %d runs %s" % (pid, exe_of(pid)))
    if j["config"]["generation"] != int(gen):
        d.append("generation %r, want %s" % (j["config"]["generation"], gen))
    procs = [("launcher", j["launcher"]["pid"])]
    procs += [("worker %d" % w["num"], w["pid"]) for w in j["workers"]]
    if not j["workers"]:
        d.append("no workers")
    for what, p in procs:
        if exe_of(p) != exe:
            d.append("%s pid %r runs %s, not %s" % (what, p, exe_of(p), exe))
        elif ppid_of(p) != pid:
            d.append("%s pid %r: parent %r, not the master" % (
                what, p, ppid_of(p)))
    want = []
    for spec in children:
        n, en, ev, ch = spec.split(":")
        want.append({"name": n, "enabled": en == "1",
                     "evaluation": ev == "1", "changed": ch == "1"})
    got = [{k: c[k] for k in ("name", "enabled", "evaluation", "changed")}
           for c in j["children"]]
    if got != want:
        d.append("children %r" % got)
        d.append("    want %r" % want)
    die(d)


def worker_replaced(path, old):
    """One worker, not old, alive."""
    j = load(path)
    w = j["workers"]
    ok = (len(w) == 1 and w[0]["pid"] != int(old) and
          os.path.exists("/proc/%d" % w[0]["pid"]))
    sys.exit(0 if ok else 1)


def hist_sums(path):
    """The sums of a history: sessions and each child's counts."""
    sessions = 0
    kids = {}
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or lines[0] != "milterd-history 1":
        raise SystemExit("%s: no milterd-history 1 line" % path)
    for line in lines[1:]:
        f = line.split()
        if f[0] == "m":
            sessions += int(f[2])
        elif f[0] == "c":
            k = kids.setdefault(f[1], [0] * len(COUNTS))
            for i, v in enumerate(f[2:]):
                k[i] += int(v)
        else:
            raise SystemExit("%s: bad line %r" % (path, line))
    return sessions, {n: v for n, v in kids.items() if any(v)}


def hist(path):
    print(hist_sums(path))


def hist_stats(path, statspath):
    """A history's sums are the counters of stats -j."""
    sessions, kids = hist_sums(path)
    j = load(statspath)
    want = {}
    for c in j["children"]:
        v = [c["verdicts"][n] for n in VERDICTS[1:]] + [c["fallbacks"]]
        if any(v):
            want[c["name"]] = v
    d = []
    if sessions != j["sessions"]["total"]:
        d.append("history: %d sessions, stats: %d" % (
            sessions, j["sessions"]["total"]))
    if kids != want:
        d.append("history: %r" % kids)
        d.append("stats:   %r" % want)
    die(d)


def raw(path, body):
    """Send a raw request (body with \\0 for NULs), print the reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    b = body.encode().replace(b"\\0", b"\0")
    s.sendall(struct.pack(">I", len(b)) + b)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    if len(data) < 4 or struct.unpack(">I", data[:4])[0] != len(data) - 4:
        raise SystemExit("reply length does not match: %r" % data)
    sys.stdout.write(data[4:].decode())


def prom(path, statspath):
    """The metrics equal stats -j; the reply time histogram is there."""
    from prometheus_client.parser import text_string_to_metric_families
    with open(path) as f:
        text = f.read()
    j = load(statspath)
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {}
    for f in fams.values():
        for s in f.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    d = []

    def want(name, value, **labels):
        key = (name, tuple(sorted(labels.items())))
        if key not in samples:
            d.append("no sample %s%r" % (name, labels))
        elif samples[key] != value:
            d.append("%s%r = %r, stats say %r" % (name, labels,
                                                  samples[key], value))

    def series(name):
        return sorted(k[1] for k in samples if k[0] == name)

    want("milterd_sessions_total", j["sessions"]["total"])
    want("milterd_sessions_open", j["sessions"]["open"])
    for v in VERDICTS:
        want("milterd_session_verdicts_total",
             j["sessions"]["verdicts"][v], verdict=v)
    want("milterd_messages_total", j["messages"]["total"])
    for v in VERDICTS[1:]:
        want("milterd_message_verdicts_total",
             j["messages"]["verdicts"][v], verdict=v)
    want("milterd_mta_errors_total", j["mta_errors"])
    want("milterd_disconnects_total", j["disconnects"])
    want("milterd_unverifiable_total", j["unverifiable"])
    want("milterd_resource_failures_total", j["resource_failures"])
    if ("milterd_start_time_seconds", ()) not in samples:
        d.append("no milterd_start_time_seconds")
    names = [c["name"] for c in j["children"]]
    for c in j["children"]:
        n = c["name"]
        want("milterd_child_sessions_total", c["sessions"], child=n)
        want("milterd_child_fallbacks_total", c["fallbacks"], child=n)
        want("milterd_child_stopped_total", c["stopped"], child=n)
        want("milterd_child_timeouts_total", c["timeouts"], child=n)
        want("milterd_child_errors_total", c["errors"], child=n)
        for v in VERDICTS[1:]:
            want("milterd_child_verdicts_total", c["verdicts"][v],
                 child=n, verdict=v)
            want("milterd_child_evaluation_verdicts_total",
                 c["evaluation_verdicts"][v], child=n, verdict=v)
    for fam in ("milterd_child_sessions_total",
                "milterd_child_fallbacks_total"):
        if len(series(fam)) != len(names):
            d.append("%s: %d series for %d children" % (
                fam, len(series(fam)), len(names)))
    for fam in ("milterd_child_verdicts_total",
                "milterd_child_evaluation_verdicts_total"):
        if len(series(fam)) != 5 * len(names):
            d.append("%s: %d series" % (fam, len(series(fam))))
    h = fams.get("milterd_child_reply_seconds")
    if h is None or h.type != "histogram":
        d.append("no histogram milterd_child_reply_seconds: %r" %
                 (h and h.type))
        die(d)
    les = ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
           "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf"]
    pairs = set()
    for s in h.samples:
        pairs.add((s.labels["child"], s.labels["stage"]))
    want_pairs = set((c["name"], st) for c in j["children"]
                     for st in c["latency"])
    if pairs != want_pairs:
        d.append("histogram series %r, stats latency %r" % (
            sorted(pairs), sorted(want_pairs)))
    for c in j["children"]:
        for st, lat in c["latency"].items():
            lab = {"child": c["name"], "stage": st}
            bk = [s for s in h.samples
                  if s.name == "milterd_child_reply_seconds_bucket" and
                  s.labels["child"] == c["name"] and s.labels["stage"] == st]
            got_les = [s.labels["le"] for s in bk]
            if sorted(got_les, key=float) != sorted(les, key=float):
                d.append("%r: le %r" % (lab, got_les))
                continue
            vals = [s.value for s in sorted(bk,
                                            key=lambda s: float(s.labels["le"]))]
            if vals != sorted(vals):
                d.append("%r: buckets not cumulative %r" % (lab, vals))
            if vals[-1] != lat["count"]:
                d.append("%r: +Inf bucket %r, stats count %r" % (
                    lab, vals[-1], lat["count"]))
            want("milterd_child_reply_seconds_count", lat["count"], **lab)
            key = ("milterd_child_reply_seconds_sum",
                   tuple(sorted(lab.items())))
            if key not in samples or abs(samples[key] - lat["mean"] *
                                         lat["count"]) > 1e-5 * lat["count"]:
                d.append("%r: sum %r, stats mean %r" % (
                    lab, samples.get(key), lat["mean"]))
    die(d)


globals()[sys.argv[1]](*sys.argv[2:])
EOF

chk() {
	"$PY" "$TMP/check.py" "$@"
}

# pyok NAME CHECK ARGS...: a check.py check, its findings shown if it fails.
pyok() {
	_n=$1
	shift
	if chk "$@" >"$TMP/pyok.out" 2>&1; then
		ok "$_n"
	else
		fail "$_n" "check.py $1"
		cat "$TMP/pyok.out"
	fi
}

# ctl NAME ARGS...: milterctl on the control socket; stdout in
# $TMP/NAME.out, stderr in $TMP/NAME.err, exit status in $RC.
ctl() {
	_n=$1
	shift
	"$BUILD/milterctl" -s "$CTLSOCK" "$@" >"$TMP/$_n.out" 2>"$TMP/$_n.err"
	RC=$?
}

# stats_try NAME SPEC: stats -j is exactly SPEC (JSON, see check.py).
stats_try() {
	"$BUILD/milterctl" -s "$CTLSOCK" -j stats >"$TMP/$1.json" \
	    2>"$TMP/stats-try.err" && chk stats "$TMP/$1.json" "$2"
}

# stats_is NAME SPEC-TEXT: poll until the counters are SPEC (sessions
# are counted when the MTA side has gone, just after mtasim exits).
stats_is() {
	printf '%s\n' "$2" >"$TMP/$1.spec"
	if wait_for 10 stats_try "$1" "$TMP/$1.spec"; then
		ok "$1"
	else
		fail "$1" "stats -j differs"
		stats_try "$1" "$TMP/$1.spec"
	fi
}

# status_is NAME GENERATION CHILD-SPEC...: status -j as check.py status
# wants it (polled: a worker of the generation before a reload may be
# between its exit and its reaping); the JSON in $TMP/NAME.json.
status_try() {
	_sn=$1
	shift
	"$BUILD/milterctl" -s "$CTLSOCK" -j status >"$TMP/$_sn.json" \
	    2>"$TMP/status-try.err" &&
	    chk status "$TMP/$_sn.json" "$PIDFILE" "$BUILD/milterd" "$@"
}
status_is() {
	if wait_for 10 status_try "$@"; then
		ok "$1"
	else
		fail "$1" "status -j differs"
		status_try "$@"
	fi
}

# json_is NAME FILE EXPR WANT: a value in a JSON file.
json_is() {
	_got=$(chk get "$2" "$3" 2>&1)
	if [ "$_got" = "$4" ]; then ok "$1"; else fail "$1" "$3 = $_got, not $4"; fi
}

# sessions_are N: poll until N sessions have ended.
sessions_try() {
	"$BUILD/milterctl" -s "$CTLSOCK" -j stats >"$TMP/poll.json" \
	    2>"$TMP/poll.err" &&
	    [ "$(chk get "$TMP/poll.json" 'j["sessions"]["total"]')" = "$1" ]
}
sessions_are() {
	if wait_for 10 sessions_try "$1"; then
		ok "sessions-$1"
	else
		fail "sessions-$1" "not $1 sessions"
	fi
}

nlog() {
	grep -c "$1" "$2" 2>/dev/null || true
}

# nlog_is PATTERN FILE N: PATTERN is on N lines of FILE (for wait_for).
nlog_is() {
	[ "$(nlog "$1" "$2")" -eq "$3" ]
}

last_session() {
	grep 'session=[0-9]' "$MDLOG" | tail -n 1 >"$TMP/$1.line"
}

# Messages: one with a body, one without (no body chunk is sent).
MSG=$TMP/body.eml
printf 'From: <s@example.com>\nTo: <r@example.com>\nSubject: with body\n\nline 1\n' >"$MSG"
EMPTY=$TMP/empty.eml
printf 'From: <s@example.com>\nTo: <r@example.com>\nSubject: no body\n\n' >"$EMPTY"

# The children, in order: a rejects one recipient; b tempfails a body
# (so only messages without one pass it); c, in evaluation, rejects at
# end of message; d takes 3 s at end of message for an eom_timeout of
# 1 (a timeout, its fallback accept); e is down (an error, each session:
# failures_to_down = 0, so that each session tries it).
tmilter a -R bad@example.com
tmilter b -T body
tmilter c -J eom
tmilter d -S eom:3000
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Conditions no child uses, for show config.
milterd_start ctl "metrics_listen = \"127.0.0.1:$port\"" \
    "$(child a)" "$(child b)" "$(child c evaluation=true)" \
    "$(child d eom_timeout=1 fallback=\"accept\")" \
    "$(child e fallback=\"accept\" failures_to_down=0)" \
    'condition "nets" { type = "network" # ours' \
    '  networks = { "192.0.2.0/24", "2001:db8::/32" } }' \
    'condition "mac" { type = "macro" macro = "{auth_authen}"' \
    '  regex = "^a\\.b\"c$" }' \
    'condition "busy" { type = "stress" threshold = 5 }'
CTLSOCK=$TMP/md-ctl.ctl
MDLOG=$TMP/md-ctl.err
SOCK=unix:$TMP/md-ctl.sock
PIDFILE=$TMP/md-ctl.pid
wait_for 10 test -S "$CTLSOCK"
MPID=$(cat "$PIDFILE")
ALL="a:1:0:0 b:1:0:0 c:1:1:0 d:1:0:0 e:1:0:0"

# The control socket: 0600 by default.
check ctl-mode test "$(stat -c %a "$CTLSOCK")" = 600

# status, text and JSON.
ctl status status
rc_is status 0
grep_ok status-pid "^milterd pid $MPID, up [0-9]+s; $TMP/md-ctl.conf loaded .* \(generation 0\)$" "$TMP/status.out"
grep_ok status-worker '^1 +[0-9]+ +0 ' "$TMP/status.out"
grep_ok status-child-a '^a +yes +no +' "$TMP/status.out"
grep_ok status-child-c '^c +yes +yes +' "$TMP/status.out"
check status-no-change sh -c "! grep -q 'until the next reload' '$TMP/status.out'"
ctl status-j -j status
rc_is status-j 0
pyok status-json status "$TMP/status-j.out" "$PIDFILE" "$BUILD/milterd" 0 $ALL
WPID=$(chk get "$TMP/status-j.out" 'j["workers"][0]["pid"]')

# show config: the milters, and the defaults.
ctl show show config
rc_is show 0
for re in '^milter "a" \{' '^milter "e" \{' '^grace_time = 60$' \
    '^control_mode = "0600"$' "^metrics_listen = \"127.0.0.1:$port\"\$" \
    '^	eom_timeout = 1$' '^	evaluation = true$' '^history_hours = 48$'; do
	grep_ok "show-config $re" "$re" "$TMP/show.out"
done
# Conditions: what the file set, in its syntax (not every key of every
# type); the whole output is a milterd.conf that means the same.
cat >"$TMP/show-conds.want" <<'EOF'
condition "nets" {
	type = "network"
	networks = { "192.0.2.0/24", "2001:db8::/32" }
}
condition "mac" {
	type = "macro"
	macro = "{auth_authen}"
	regex = "^a\\.b\"c\$"
}
condition "busy" {
	type = "stress"
	threshold = 5
}
EOF
sed -n '/^condition /,/^}/p' "$TMP/show.out" >"$TMP/show-conds.out"
check show-config-conditions cmp "$TMP/show-conds.want" "$TMP/show-conds.out"
"$BUILD/milterd" -n -f "$TMP/show.out" >"$TMP/show-n.out" 2>&1
RC=$?
rc_is show-config-loads 0

# Refusals: unknown command, bad usage, unknown milter (1); no
# arguments (2); no milterd behind the socket (3).
ctl unknown frobnicate
rc_is unknown 1
grep_ok unknown-text 'unknown command "frobnicate"' "$TMP/unknown.err"
for args in "enable" "disable a b" "evaluate a" "evaluate a maybe" \
    "enable a on" "history 0" "history x" "show"; do
	ctl usage $args
	if [ "$RC" -eq 1 ]; then ok "usage-1 $args"; else fail "usage-1 $args" "exit $RC"; fi
done
ctl nomilter enable zz
rc_is nomilter 1
grep_ok nomilter-text 'no milter "zz" in' "$TMP/nomilter.err"
ctl evalnone evaluate zz on
rc_is evalnone 1
"$BUILD/milterctl" -s "$CTLSOCK" >"$TMP/noargs.out" 2>&1
RC=$?
rc_is noargs 2
"$BUILD/milterctl" -s "$TMP/nothere.ctl" status >"$TMP/nosock.out" 2>"$TMP/nosock.err"
RC=$?
rc_is nosock 3
grep_ok nosock-text 'nothere.ctl: No such file or directory' "$TMP/nosock.err"

# -f FILE: the control socket that milterd.conf names, without -s (as
# README's "Watch it" runs it), even when another value there is wrong
# (milterctl reload is how one hears of it).  A file that cannot be
# read, or names no control socket: exit 2, said.
ctlf() {
	_n=$1
	shift
	"$BUILD/milterctl" "$@" >"$TMP/$_n.out" 2>"$TMP/$_n.err"
	RC=$?
}
ctlf conf-f -f "$TMP/md-ctl.conf" status
rc_is conf-f 0
grep_ok conf-f-status "^milterd pid $MPID, " "$TMP/conf-f.out"
{ cat "$TMP/md-ctl.conf"; echo 'fallback = "nonsense"'; } >"$TMP/ctl-bad.conf"
ctlf conf-f-rest -f "$TMP/ctl-bad.conf" status
rc_is conf-f-rest 0
ctlf conf-f-none -f "$TMP/nothere.conf" status
rc_is conf-f-none 2
grep_ok conf-f-none-text "nothere.conf: cannot read the configuration: No such file or directory" "$TMP/conf-f-none.err"
grep_ok conf-f-none-hint "give it with -s" "$TMP/conf-f-none.err"
printf 'control = ""\n' >"$TMP/ctl-noctl.conf"
ctlf conf-f-noctl -f "$TMP/ctl-noctl.conf" status
rc_is conf-f-noctl 2
grep_ok conf-f-noctl-text 'control is "": milterd has no control socket' "$TMP/conf-f-noctl.err"
printf 'control = "relative.sock"\n' >"$TMP/ctl-rel.conf"
ctlf conf-f-rel -f "$TMP/ctl-rel.conf" status
rc_is conf-f-rel 2
grep_ok conf-f-rel-text 'ctl-rel.conf:1: control "relative.sock": expected an absolute path' "$TMP/conf-f-rel.err"
ctlf conf-f-and-s -f "$TMP/md-ctl.conf" -s "$CTLSOCK" status
rc_is conf-f-and-s 2
# Neither -f nor -s: the default configuration, SYSCONFDIR/milterd.conf
# (a milterctl built with SYSCONFDIR in $TMP, as `make install' builds
# it with its own), and without that file the default socket.
if make -s -C "$T/.." B="$TMP/sysb" SYSCONFDIR="$TMP/sysconf" \
    "$TMP/sysb/milterctl" >"$TMP/sysb.out" 2>&1; then
	mkdir -p "$TMP/sysconf"
	printf 'control = "%s"\n' "$CTLSOCK" >"$TMP/sysconf/milterd.conf"
	"$TMP/sysb/milterctl" status >"$TMP/conf-default.out" 2>&1
	RC=$?
	rc_is conf-default 0
	grep_ok conf-default-status "^milterd pid $MPID, " \
	    "$TMP/conf-default.out"
	rm "$TMP/sysconf/milterd.conf"
	"$TMP/sysb/milterctl" status >"$TMP/conf-default-none.out" 2>&1
	RC=$?
	rc_is conf-default-none 3
	grep_ok conf-default-none-socket '/var/run/milterd/control\.sock' \
	    "$TMP/conf-default-none.out"
else
	fail conf-default-build "$(tail -n 3 "$TMP/sysb.out")"
fi
status_is nochange-status 0 $ALL

# Raw requests: another protocol version, no terminating NUL.
chk raw "$CTLSOCK" 'milterd-control/9\0text\0status\0' >"$TMP/raw9.out" 2>&1
check raw-version-error sh -c "head -n 1 '$TMP/raw9.out' | grep -qx error"
grep_ok raw-version-text 'speaks milterd-control/1' "$TMP/raw9.out"
chk raw "$CTLSOCK" 'milterd-control/1\0text\0status' >"$TMP/rawnul.out" 2>&1
check raw-malformed sh -c "head -n 1 '$TMP/rawnul.out' | grep -qx error"
chk raw "$CTLSOCK" 'milterd-control/1\0json\0status\0' >"$TMP/raw1.out" 2>&1
check raw-ok sh -c "head -n 1 '$TMP/raw1.out' | grep -qx ok"

# Nothing counted yet.
stats_is stats-zero '{"sessions": {"total": 0, "open": 0, "verdicts": {}},
 "messages": {"total": 0, "verdicts": {}}, "mta_errors": 0,
 "children": {
  "a": {"sessions": 0, "verdicts": {}, "evaluation_verdicts": {}, "fallbacks": 0, "timeouts": 0, "errors": 0, "latency": {}},
  "b": {"sessions": 0, "verdicts": {}, "evaluation_verdicts": {}, "fallbacks": 0, "timeouts": 0, "errors": 0, "latency": {}},
  "c": {"sessions": 0, "verdicts": {}, "evaluation_verdicts": {}, "fallbacks": 0, "timeouts": 0, "errors": 0, "latency": {}},
  "d": {"sessions": 0, "verdicts": {}, "evaluation_verdicts": {}, "fallbacks": 0, "timeouts": 0, "errors": 0, "latency": {}},
  "e": {"sessions": 0, "verdicts": {}, "evaluation_verdicts": {}, "fallbacks": 0, "timeouts": 0, "errors": 0, "latency": {}}}}'

# The batch.
# B1: one session, 5 messages without a body to good@: accepted; a and
# b accept each, c evaluates a reject each, d times out at the first
# end of message and is gone for the rest of the session.
mtasim_run b1 -s "$SOCK" -M 5 -r good@example.com "$EMPTY"
rc_is b1 0
check b1-five-accepted test "$(grep -c '^result: accept$' "$TMP/b1.out")" -eq 5
# B2: 3 sessions to bad@ only: a rejects, no message.
for i in 1 2 3; do
	mtasim_run b2-$i -s "$SOCK" -N bad.example -a 192.0.2.66 \
	    -r bad@example.com "$MSG"
	rc_is b2-$i 1
done
grep_ok b2-text 'rcpt <bad@example.com>: replycode 550 5.7.1 recipient bad@example.com refused by tmilter' "$TMP/b2-1.out"
# B3: 2 sessions, a message with a body to good@: b tempfails it.
for i in 1 2; do
	mtasim_run b3-$i -s "$SOCK" -r good@example.com "$MSG"
	rc_is b3-$i 2
done
grep_ok b3-text 'eom: replycode 451 4.7.1 tempfail at body by tmilter' "$TMP/b3-1.out"

# Counted by hand.  Reply times per stage: a sees 6 connections, 10
# MAIL (5 + 3 + 2), 10 RCPT, 7 DATA, 21 headers (7 messages of 3), 7 end
# of headers, 2 body chunks, 7 ends of message; b the same but no bad
# RCPT and its 2 body tempfails in place of 2 ends of message; c is
# replayed only B1's 5 messages; d only B1's first one, without a
# reply at its end; e never answers.
BATCH='{"sessions": {"total": 6, "open": 0,
  "verdicts": {"accept": 1, "reject": 3, "tempfail": 2}},
 "messages": {"total": 7, "verdicts": {"accept": 5, "tempfail": 2}},
 "mta_errors": 0,
 "children": {
  "a": {"sessions": 6, "verdicts": {"accept": 7, "reject": 3},
   "evaluation_verdicts": {}, "fallbacks": 0, "timeouts": 0, "errors": 0,
   "latency": {"negotiate": 6, "connect": 6, "helo": 6, "mail": 10,
    "rcpt": 10, "data": 7, "header": 21, "eoh": 7, "body": 2, "eom": 7}},
  "b": {"sessions": 6, "verdicts": {"accept": 5, "tempfail": 2},
   "evaluation_verdicts": {}, "fallbacks": 0, "timeouts": 0, "errors": 0,
   "latency": {"negotiate": 6, "connect": 6, "helo": 6, "mail": 10,
    "rcpt": 7, "data": 7, "header": 21, "eoh": 7, "body": 2, "eom": 5}},
  "c": {"sessions": 6, "verdicts": {}, "evaluation_verdicts": {"reject": 5},
   "fallbacks": 0, "timeouts": 0, "errors": 0,
   "latency": {"negotiate": 6, "connect": 6, "helo": 6, "mail": 10,
    "rcpt": 7, "data": 7, "header": 15, "eoh": 5, "eom": 5}},
  "d": {"sessions": 6, "verdicts": {}, "evaluation_verdicts": {},
   "fallbacks": 1, "timeouts": 1, "errors": 0,
   "latency": {"negotiate": 6, "connect": 6, "helo": 6, "mail": 6,
    "rcpt": 3, "data": 3, "header": 3, "eoh": 1}},
  "e": {"sessions": 6, "verdicts": {}, "evaluation_verdicts": {},
   "fallbacks": 6, "timeouts": 0, "errors": 6, "latency": {}}}}'
stats_is stats-batch "$BATCH"

# The same in each spelling, and as text.
ctl stats-j1 stats -j
rc_is stats-j1 0
ctl stats-j2 -j stats
rc_is stats-j2 0
pyok stats-j-spellings same "$TMP/stats-j1.out" "$TMP/stats-j2.out"
pyok stats-j-is-batch same "$TMP/stats-j1.out" "$TMP/stats-batch.json"
ctl stats-text stats
rc_is stats-text 0
grep_ok stats-text-head '^sessions 6, open 0, messages 7, MTA errors 0$' "$TMP/stats-text.out"
grep_ok stats-text-sessions '^sessions by verdict: none 0 accept 1 reject 3 tempfail 2 discard 0 quarantine 0$' "$TMP/stats-text.out"
grep_ok stats-text-messages '^messages by verdict: accept 5 reject 0 tempfail 2 discard 0 quarantine 0$' "$TMP/stats-text.out"
grep_ok stats-text-a '^a +apply +6 +7 +3 +0 +0 +0 +0 +0 +0 +0 +0 +0$' "$TMP/stats-text.out"
grep_ok stats-text-c-eval '^c +eval +- +0 +5 +0 +0 +0 +- +- +- +- +- +-$' "$TMP/stats-text.out"
grep_ok stats-text-d '^d +apply +6 +0 +0 +0 +0 +0 +0 +1 +1 +0 +0 +0$' "$TMP/stats-text.out"
grep_ok stats-text-e '^e +apply +6 +0 +0 +0 +0 +0 +0 +6 +0 +6 +0 +0$' "$TMP/stats-text.out"

# status after the batch: reachability, last error.
ctl status-after -j status
json_is status-d-error "$TMP/status-after.out" 'j["children"][3]["last_error"]' 'eom: timeout'
json_is status-e-unreachable "$TMP/status-after.out" 'j["children"][4]["reachable"]' 'no'
json_is status-a-reachable "$TMP/status-after.out" 'j["children"][0]["reachable"]' 'yes'
json_is status-served "$TMP/status-after.out" 'j["workers"][0]["served"]' 6

# Prometheus: the same counters, the reply time histogram; 404 else.
check metrics-200 test "$(http_get "http://127.0.0.1:$port/metrics" "$TMP/metrics.txt")" = 200
pyok metrics-match-stats prom "$TMP/metrics.txt" "$TMP/stats-j1.out"
check metrics-other-404 test "$(http_get "http://127.0.0.1:$port/other" "$TMP/other.txt")" = 404
check metrics-prefix-404 test "$(http_get "http://127.0.0.1:$port/metricsx" "$TMP/other2.txt")" = 404

# The session log line, for each kind of session of the batch.
T_=':[0-9]+\.[0-9]{3}'
grep_ok logline-b1 "session=$WPID\.[0-9]+ client=client\.example\[192\.0\.2\.1\] children=a,b,c,d,e child\.a=accept$T_ child\.b=accept$T_ child\.c=eval-reject$T_ child\.d=failed$T_ child\.e=failed$T_ verdict=accept@eom end=\"quit\" time=[0-9]+\.[0-9]{3} queue_id=4MTASIM0001,4MTASIM0002,4MTASIM0003,4MTASIM0004,4MTASIM0005$" "$MDLOG"
count_is logline-b1-one 1 "children=a,b,c,d,e child\.a=accept:[0-9.]* child\.b=accept:[0-9.]* child\.c=eval-reject" "$MDLOG"
count_is logline-b2-three 3 "client=bad\.example\[192\.0\.2\.66\] children=a,b,c,d,e child\.a=reject:[0-9.]* child\.b=continue:[0-9.]* child\.c=continue:[0-9.]* child\.d=continue:[0-9.]* child\.e=failed:[0-9.]* verdict=reject@rcpt end=\"quit\" time=[0-9.]* queue_id=-$" "$MDLOG"
count_is logline-b3-two 2 "client=client\.example\[192\.0\.2\.1\] children=a,b,c,d,e child\.a=accept:[0-9.]* child\.b=tempfail:[0-9.]* child\.c=continue:[0-9.]* child\.d=continue:[0-9.]* child\.e=failed:[0-9.]* verdict=tempfail@eom end=\"quit\" time=" "$MDLOG"
count_is logline-six 6 'session=[0-9]' "$MDLOG"
grep_ok logline-d-timeout 'child d: eom: timeout; fallback accept' "$MDLOG"

# A worker killed: another starts, nothing counted is lost.
kill -9 "$WPID"
worker_try() {
	"$BUILD/milterctl" -s "$CTLSOCK" -j status >"$TMP/wk.json" \
	    2>"$TMP/wk.err" && chk worker_replaced "$TMP/wk.json" "$WPID"
}
check worker-replaced wait_for 10 worker_try
check worker-old-gone sh -c "! kill -0 $WPID 2>/dev/null"
grep_ok worker-killed-logged "worker 1: pid $WPID killed by signal 9; starting another" "$MDLOG"
ctl stats-killed -j stats
pyok worker-killed-stats-kept same "$TMP/stats-killed.out" "$TMP/stats-j1.out"
status_is worker-killed-status 0 $ALL
WPID=$(chk get "$TMP/worker-killed-status.json" 'j["workers"][0]["pid"]')

# enable, disable, evaluate: for new sessions, until the next reload.
nb=$(nlog '^connect ' "$TMP/b.log")
ctl disable-b disable b
rc_is disable-b 0
grep_ok disable-b-text '^milter b: disabled for new sessions, until the next reload$' "$TMP/disable-b.out"
status_is disable-b-status 0 a:1:0:0 b:0:0:1 c:1:1:0 d:1:0:0 e:1:0:0
ctl status-dt status
grep_ok disable-b-status-text '^b +no +no ' "$TMP/status-dt.out"
grep_ok disable-b-status-note 'until the next reload' "$TMP/status-dt.out"
mtasim_run off -s "$SOCK" -r bad@example.com "$MSG"
rc_is off 1
sessions_are 7
check disable-b-not-reached test "$(nlog '^connect ' "$TMP/b.log")" -eq "$nb"
last_session off
grep_ok disable-b-logline "session=$WPID\.[0-9]+ client=[^ ]+ children=a,c,d,e child\.a=reject$T_ child\.c=continue$T_ child\.d=continue$T_ child\.e=failed$T_ verdict=reject@rcpt " "$TMP/off.line"
json_is disable-b-sessions "$TMP/poll.json" '[c["sessions"] for c in j["children"]]' '[7, 6, 7, 7, 7]'

ctl enable-b enable b
rc_is enable-b 0
grep_ok enable-b-text '^milter b: enabled for new sessions, until the next reload$' "$TMP/enable-b.out"
mtasim_run on -s "$SOCK" -r bad@example.com "$MSG"
rc_is on 1
sessions_are 8
check enable-b-reached wait_for 10 nlog_is '^connect ' "$TMP/b.log" $((nb + 1))
last_session on
grep_ok enable-b-logline 'children=a,b,c,d,e child\.a=reject' "$TMP/on.line"

# a in evaluation: its reject is logged and counted, not applied; the
# message goes through (d times out once more, its fallback accepts).
ctl eval-a evaluate a on
rc_is eval-a 0
grep_ok eval-a-text '^milter a: evaluation on for new sessions, until the next reload$' "$TMP/eval-a.out"
mtasim_run evala -s "$SOCK" -r bad@example.com "$EMPTY"
rc_is evala 0
grep_ok evala-rcpt-continue '^rcpt <bad@example.com>: continue$' "$TMP/evala.out"
grep_ok evala-result '^result: accept$' "$TMP/evala.out"
# Since the batch: 3 more sessions (reject, reject, accept), 1 message.
stats_is stats-toggles '{"sessions": {"total": 9, "open": 0,
  "verdicts": {"accept": 2, "reject": 5, "tempfail": 2}},
 "messages": {"total": 8, "verdicts": {"accept": 6, "tempfail": 2}},
 "mta_errors": 0,
 "children": {
  "a": {"sessions": 9, "verdicts": {"accept": 7, "reject": 5},
   "evaluation_verdicts": {"accept": 1, "reject": 1},
   "fallbacks": 0, "timeouts": 0, "errors": 0},
  "b": {"sessions": 8, "verdicts": {"accept": 6, "tempfail": 2},
   "evaluation_verdicts": {}, "fallbacks": 0, "timeouts": 0, "errors": 0},
  "c": {"sessions": 9, "verdicts": {}, "evaluation_verdicts": {"reject": 6},
   "fallbacks": 0, "timeouts": 0, "errors": 0},
  "d": {"sessions": 9, "verdicts": {}, "evaluation_verdicts": {},
   "fallbacks": 2, "timeouts": 2, "errors": 0},
  "e": {"sessions": 9, "verdicts": {}, "evaluation_verdicts": {},
   "fallbacks": 9, "timeouts": 0, "errors": 9}}}'
last_session evala
grep_ok eval-a-logline 'children=a,b,c,d,e child\.a=eval-accept:[0-9.]+ child\.b=accept:[0-9.]+ child\.c=eval-reject:[0-9.]+ child\.d=failed:[0-9.]+ child\.e=failed:[0-9.]+ verdict=accept@eom ' "$TMP/evala.line"
grep_ok eval-a-logged 'child a \(evaluation\): rcpt replycode 550 5\.7\.1 recipient bad@example\.com refused by tmilter' "$MDLOG"
status_is eval-a-status 0 a:1:1:1 b:1:0:1 c:1:1:0 d:1:0:0 e:1:0:0

# A reload ends those changes, and makes a new generation.
ctl disable-d disable d
rc_is disable-d 0
ctl reload reload
rc_is reload 0
grep_ok reload-text "^reloaded $TMP/md-ctl\.conf: generation 1, 1 workers, 5 milters\$" "$TMP/reload.out"
status_is reload-status 1 $ALL
grep_ok reload-logged 'master: reloaded: generation 1' "$MDLOG"
# Applied again: a rejects.
mtasim_run after-reload -s "$SOCK" -r bad@example.com "$MSG"
rc_is after-reload 1
sessions_are 10

# A broken file: reload refused with file:line, the running
# configuration goes on serving.
cp "$TMP/md-ctl.conf" "$TMP/md-ctl.conf.good"
echo 'milter "x" { socket = "tcp:1" }' >>"$TMP/md-ctl.conf"
line=$(wc -l <"$TMP/md-ctl.conf")
ctl badreload reload
rc_is badreload 1
grep_ok badreload-line "^$TMP/md-ctl\.conf:$line: socket \"tcp:1\": unknown socket type" "$TMP/badreload.err"
grep_ok badreload-not "has errors, not reloading" "$TMP/badreload.err"
# Returned to the caller and logged as well.
grep_ok badreload-logged "master: $TMP/md-ctl\.conf:$line: socket \"tcp:1\"" "$MDLOG"
status_is badreload-status 1 $ALL
mtasim_run after-bad -s "$SOCK" -r bad@example.com "$MSG"
rc_is after-bad 1
grep_ok after-bad-a-applies 'rcpt <bad@example.com>: replycode 550 5.7.1' "$TMP/after-bad.out"
sessions_are 11
cp "$TMP/md-ctl.conf.good" "$TMP/md-ctl.conf"

# control_mode changed by a reload: the same socket, its mode changed.
echo 'control_mode = "0660"' >>"$TMP/md-ctl.conf"
ctl modereload reload
rc_is modereload 0
check mode-reloaded test "$(stat -c %a "$CTLSOCK")" = 660
cp "$TMP/md-ctl.conf.good" "$TMP/md-ctl.conf"
ctl modeback reload
rc_is modeback 0
check mode-back test "$(stat -c %a "$CTLSOCK")" = 600

# History and graph: the per-minute sums are the counters.
ctl stats-h -j stats
ctl history history
rc_is history 0
check history-head sh -c "head -n 1 '$TMP/history.out' | grep -qx 'milterd-history 1'"
pyok history-is-stats hist_stats "$TMP/history.out" "$TMP/stats-h.out"
ctl history1 history 1
rc_is history1 0
pyok history-1h hist_stats "$TMP/history1.out" "$TMP/stats-h.out"
ctl graph graph -o "$TMP/graph.svg" --hours 1
rc_is graph 0
check graph-svg grep -q '<svg' "$TMP/graph.svg"
if "$PY" "$T/tools/svgcheck.py" "$TMP/graph.svg" >"$TMP/svgcheck.out" 2>&1; then
	ok graph-renders
else
	fail graph-renders "$(cat "$TMP/svgcheck.out")"
fi
ctl graph-bad graph --hours 0
rc_is graph-bad 2

# Restart: the history goes to the state file at stop and comes back.
kill "$MPID"
check stop-pidfile-gone wait_for 20 test ! -e "$PIDFILE"
check stop-ctl-gone test ! -e "$CTLSOCK"
check state-file test -s "$TMP/md-ctl.state"
check state-file-head sh -c "head -n 1 '$TMP/md-ctl.state' | grep -qx 'milterd-history 1'"
pyok state-file-is-history hist_stats "$TMP/md-ctl.state" "$TMP/stats-h.out"
grep_ok stop-logged 'master: stopped' "$MDLOG"
bg md-ctl "$BUILD/milterd" -d -v -f "$TMP/md-ctl.conf"
wait_for 10 test -s "$PIDFILE" || fail "milterd did not start again"
wait_for 10 test -S "$CTLSOCK"
check restart-new-pid test "$(cat "$PIDFILE")" != "$MPID"
ctl history2 history
rc_is history2 0
chk hist "$TMP/history.out" >"$TMP/sums1" 2>&1
chk hist "$TMP/history2.out" >"$TMP/sums2" 2>&1
if cmp -s "$TMP/sums1" "$TMP/sums2"; then
	ok history-kept
else
	fail history-kept "$(cat "$TMP/sums1") then $(cat "$TMP/sums2")"
fi
check history-kept-nonempty grep -q "^(11, {'a':" "$TMP/sums2"
# The counters themselves start from zero with the master.
ctl stats-restart -j stats
json_is restart-stats-zero "$TMP/stats-restart.out" 'j["sessions"]["total"]' 0
check restart-ctl-mode test "$(stat -c %a "$CTLSOCK")" = 600

# The session line whole however many children: 40 with 60-character
# names, all down (each fails and counts as its fallback).
long=$(printf '%060d' 0)
i=1
while [ $i -le 40 ]; do
	echo "milter \"c$i-$long\" { socket = \"unix:$TMP/none-$i.sock\"" \
	    "fallback = \"accept\" }"
	i=$((i + 1))
done >"$TMP/many.conf"
milterd_start many "$(cat "$TMP/many.conf")"
mtasim_run many -s "unix:$TMP/md-many.sock" "$MSG"
rc_is many 0
wait_for 10 grep -q 'session=.* time=' "$TMP/md-many.err"
grep 'session=' "$TMP/md-many.err" >"$TMP/many.line"
check many-line-whole grep -q "child\.c40-$long=failed:[0-9.]* verdict=accept@connect end=\"quit\" time=[0-9.]* queue_id=-\$" "$TMP/many.line"
check many-line-all test "$(grep -o ' child\.c[0-9]*-' "$TMP/many.line" | wc -l)" -eq 40

# A quarantine at end of message counts as the child's verdict and the
# message's, and shows in the session line.
tmilter qk -q 'held for review'
milterd_start quar "$(child qk)"
mtasim_run quar -s "unix:$TMP/md-quar.sock" "$MSG"
rc_is quar 0
wait_for 10 grep -q 'session=' "$TMP/md-quar.err"
check quar-child test "$(child_stat quar qk verdicts | "$PY" -c 'import ast, sys; print(ast.literal_eval(sys.stdin.read())["quarantine"])')" = 1
"$BUILD/milterctl" -s "$TMP/md-quar.ctl" -j stats >"$TMP/quar.json" 2>&1
json_is quar-message "$TMP/quar.json" 'j["messages"]["verdicts"]["quarantine"]' 1
json_is quar-session "$TMP/quar.json" 'j["sessions"]["verdicts"]["quarantine"]' 1
grep_ok quar-line 'child\.qk=quarantine:[0-9.]+ verdict=quarantine@eom ' "$TMP/md-quar.err"

finish
