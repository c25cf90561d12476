#!/usr/bin/env python3
"""mtaflood.py: a hostile MTA for the bounds tests (t/bounds.sh).

    mtaflood.py flood SOCKET MB PID
        Negotiates (O), then writes body packets of 64 KiB without
        waiting for any reply, up to MB MiB or until the socket takes
        nothing for 2 s (milterd stopped reading).  Then prints
        "sent BYTES rss KIB", KIB being process PID's VmRSS at that
        moment (the connection still open), and closes.

    mtaflood.py idle SOCKET N STOPFILE
        Opens N connections that say nothing, keeps them until STOPFILE
        exists, then closes them.

    mtaflood.py starve SOCKET N LOG PID
        Opens a connection A that says nothing yet, then N that say
        nothing, until LOG says milterd stopped accepting (out of
        descriptors).  Then A negotiates and sends a connect command;
        prints "reply CODE cpu TICKS", CODE the connect reply's letter
        and TICKS the CPU time process PID spent over the next 2 s.

SOCKET is a unix socket path.
"""

import os
import select
import socket
import struct
import sys
import time


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


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def idle(path, n, stop):
    conns = [connect(path) for _ in range(n)]
    while not os.path.exists(stop):
        time.sleep(0.1)
    for s in conns:
        s.close()


def read_packet(s):
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data[4:5]


def cpu(pid):
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def starve(path, n, log, pid):
    a = connect(path)
    conns = [connect(path) for _ in range(n)]
    for _ in range(200):
        with open(log) as f:
            if "not accepting" in f.read():
                break
        time.sleep(0.1)
    a.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0)))
    read_packet(a)
    a.sendall(packet(b"C", b"client\0" + b"4" + struct.pack(">H", 25) +
                     b"127.0.0.1\0"))
    code = read_packet(a)
    c0 = cpu(pid)
    time.sleep(2)
    print("reply %s cpu %d" % (code.decode() if code else "none",
                               cpu(pid) - c0))
    a.close()
    for s in conns:
        s.close()


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "idle":
        idle(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 6 and sys.argv[1] == "starve":
        starve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
