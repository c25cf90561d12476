#!/usr/bin/env python3
"""mtaflood.py: a hostile MTA for the bounds tests (t/bounds.sh).

    mtaflood.py flood SOCKET MB PID
        Negotiates (O), then writes body packets of 64 KiB without
        waiting for any reply, up to MB MiB or until the socket takes
        nothing for 2 s (milterd stopped reading).  Then prints
        "sent BYTES rss KIB", KIB being process PID's VmRSS at that
        moment (the connection still open), and closes.

    mtaflood.py idle SOCKET N
        Opens N connections that say nothing, keeps them until its
        standard input ends, and prints how many milterd closed by then.

SOCKET is a unix socket path.
"""

import select
import socket
import struct
import sys


def packet(code, payload=b""):
    return struct.pack(">I", len(payload) + 1) + code + payload


def rss(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def flood(path, mb, pid):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0)))
    s.setblocking(False)
    chunk = packet(b"B", b"x" * 65536)
    sent, limit = 0, mb * 1024 * 1024
    pending = b""
    while sent < limit:
        if not pending:
            pending = chunk
        _, w, _ = select.select([], [s], [], 2.0)
        if not w:
            break
        try:
            n = s.send(pending)
        except BlockingIOError:
            continue
        except OSError:
            break
        sent += n
        pending = pending[n:]
    print("sent %d rss %d" % (sent, rss(pid)))
    s.close()


def idle(path, n):
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        conns.append(s)
    sys.stdin.read()
    closed = 0
    for s in conns:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    print("closed %d" % closed)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "idle":
        idle(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
