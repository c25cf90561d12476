#!/usr/bin/env python3
"""mcapture.py -- recording proxy for the milter protocol (stdlib only).

Usage: mcapture.py [-p PIDFILE] [-m MODE] [-v] LISTEN UPSTREAM OUTPREFIX

LISTEN and UPSTREAM are milter socket specs: unix:/path (or local:/path),
inet:PORT@HOST (HOST defaults to 127.0.0.1), inet6:PORT@HOST.

For each accepted connection N (1, 2, 3, ... in accept order) the proxy
connects to UPSTREAM and relays bytes both ways, appending the bytes the
MTA sends (MTA -> milter) to OUTPREFIX.N.cmd and the bytes the milter sends
(milter -> MTA) to OUTPREFIX.N.reply, raw and unmodified.  Both files are
created (empty) when the connection is accepted; each chunk is written to
its file before it is forwarded, so once a peer has received some bytes
they are already in the file.  If UPSTREAM cannot be reached the MTA's
connection is closed at once (the MTA then applies its default action).
When one side closes (or half-closes) its end, the proxy half-closes the
other side and keeps relaying the other direction until it ends too.

Connections run in threads; any number may be open at once.  A unix LISTEN
socket gets mode MODE (default 0666, so that an MTA running as another user
can connect); a stale socket file is replaced.  With -p, the pid is written
to PIDFILE once the listener is bound, so the file's existence means
"ready".  SIGTERM or SIGINT: stop at once (open connections are dropped),
remove the unix socket and the pid file, exit 0.  -v logs connections to
stderr.
"""

import argparse
import itertools
import os
import selectors
import signal
import socket
import stat
import sys
import threading
import time

VERBOSE = False


def log(msg):
    if VERBOSE:
        print("mcapture[%d]: %s" % (os.getpid(), msg), file=sys.stderr,
              flush=True)


def parse_spec(spec):
    """Return (family, address) for a milter socket spec."""
    kind, sep, rest = spec.partition(":")
    if not sep:
        raise ValueError("bad socket spec %r" % spec)
    kind = kind.lower()
    if kind in ("unix", "local"):
        if not rest:
            raise ValueError("bad socket spec %r" % spec)
        return socket.AF_UNIX, rest
    if kind in ("inet", "inet6"):
        port, at, host = rest.partition("@")
        if not at:
            host = "127.0.0.1" if kind == "inet" else "::1"
        host = host.strip("[]")
        family = socket.AF_INET if kind == "inet" else socket.AF_INET6
        return family, (host, int(port))
    raise ValueError("bad socket spec %r" % spec)


def make_listener(spec, mode):
    family, addr = parse_spec(spec)
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX:
        try:
            if stat.S_ISSOCK(os.lstat(addr).st_mode):
                os.unlink(addr)
        except FileNotFoundError:
            pass
        s.bind(addr)
        os.chmod(addr, mode)
    else:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(addr)
    s.listen(128)
    return s, family, addr


def connect_upstream(spec):
    family, addr = parse_spec(spec)
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.settimeout(10)
        s.connect(addr)
        s.settimeout(None)
    except OSError:
        s.close()
        raise
    return s


def relay(n, client, upstream_spec, prefix):
    """Relay one MTA connection; record both directions."""
    cmd_f = open("%s.%d.cmd" % (prefix, n), "ab", buffering=0)
    rep_f = open("%s.%d.reply" % (prefix, n), "ab", buffering=0)
    try:
        try:
            up = connect_upstream(upstream_spec)
        except OSError as e:
            print("mcapture: connection %d: cannot connect to %s: %s"
                  % (n, upstream_spec, e), file=sys.stderr, flush=True)
            return
        log("connection %d: relaying to %s" % (n, upstream_spec))
        # source socket -> (destination socket, capture file)
        route = {client: (up, cmd_f), up: (client, rep_f)}
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ)
        sel.register(up, selectors.EVENT_READ)
        open_dirs = 2
        try:
            while open_dirs:
                for key, _ in sel.select():
                    src = key.fileobj
                    dst, f = route[src]
                    try:
                        data = src.recv(65536)
                    except OSError:
                        data = b""
                    if data:
                        f.write(data)
                        try:
                            dst.sendall(data)
                        except OSError:
                            # The receiver is gone: nothing more can flow
                            # in either direction that matters.
                            open_dirs = 0
                            break
                        continue
                    # EOF from src: pass the half-close on.
                    sel.unregister(src)
                    open_dirs -= 1
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
        finally:
            sel.close()
            up.close()
        log("connection %d: closed" % n)
    finally:
        client.close()
        cmd_f.close()
        rep_f.close()


class Terminate(Exception):
    pass


def on_signal(signum, frame):
    raise Terminate()


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(
        description="Recording proxy for the milter protocol.")
    ap.add_argument("-p", "--pidfile", help="write the pid here when ready")
    ap.add_argument("-m", "--mode", default="0666",
                    help="mode of a unix LISTEN socket (default 0666)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("listen", metavar="LISTEN")
    ap.add_argument("upstream", metavar="UPSTREAM")
    ap.add_argument("outprefix", metavar="OUTPREFIX")
    args = ap.parse_args()
    VERBOSE = args.verbose
    try:
        parse_spec(args.upstream)
        lsock, lfamily, laddr = make_listener(args.listen,
                                              int(args.mode, 8))
    except (ValueError, OSError) as e:
        print("mcapture: %s" % e, file=sys.stderr)
        return 1

    counter = itertools.count(1)
    try:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if args.pidfile:
            tmp = args.pidfile + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % os.getpid())
            os.rename(tmp, args.pidfile)
        log("listening on %s, upstream %s" % (args.listen, args.upstream))
        while True:
            try:
                client, _ = lsock.accept()
            except OSError as e:
                print("mcapture: accept: %s" % e, file=sys.stderr,
                      flush=True)
                time.sleep(0.1)
                continue
            n = next(counter)
            t = threading.Thread(target=relay, daemon=True,
                                 args=(n, client, args.upstream,
                                       args.outprefix))
            t.start()
    except Terminate:
        log("terminating")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        lsock.close()
        if lfamily == socket.AF_UNIX:
            try:
                os.unlink(laddr)
            except OSError:
                pass
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
        sys.stderr.flush()
    # Exit without waiting for (or finalizing under) relay threads; the
    # capture files are unbuffered, so nothing is lost.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
