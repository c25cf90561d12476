#!/usr/bin/env python3
"""badmilter.py: a milter that misbehaves on purpose, for fault tests.

    badmilter.py SOCKET FAULT STAGE

SOCKET is a unix socket path.  The milter negotiates normally (version
6, every action, every step) and answers continue to every command,
until the command of STAGE (optneg, connect, helo, mail, rcpt, data,
header, eoh, body, eom, abort), where it commits FAULT:

    close     closes the connection
    garbage   sends a reply with an unknown code
    biglen    sends a length field of 2 GiB
    illegal   sends a reply not allowed there (add-header before eom,
              continue after abort)
    silent    never answers
    partial   sends half a packet and closes
    answered  answers continue, then closes
    stale     (with STAGE quitnc: K, quit and a new connection follows)
              keeps the connection, then closes it at the next packet
              without answering, as a milter restarted meanwhile would

    badmilter.py SOCKET stale quitnc AFTER

AFTER says what connections made after the first K do: "close" closes
them at connect, "other" negotiates other actions (no add-header).

libmilter cannot be made to do any of these, hence a raw socket.
"""

import os
import socket
import struct
import sys
import threading

STAGES = {"optneg": b"O", "connect": b"C", "helo": b"H", "mail": b"M",
          "rcpt": b"R", "data": b"T", "header": b"L", "eoh": b"N",
          "body": b"B", "eom": b"E", "abort": b"A", "quitnc": b"K"}
NO_REPLY = b"ADKQ"
AFTER = {"after": None, "k_seen": False}


def packet(code, payload=b""):
    return struct.pack(">I", len(payload) + 1) + code + payload


def read_packet(conn):
    hdr = b""
    while len(hdr) < 4:
        chunk = conn.recv(4 - len(hdr))
        if not chunk:
            return None, None
        hdr += chunk
    (length,) = struct.unpack(">I", hdr)
    data = b""
    while len(data) < length:
        chunk = conn.recv(length - len(data))
        if not chunk:
            return None, None
        data += chunk
    return data[:1], data[1:]


def fault(conn, kind, code):
    if kind == "close":
        return False
    if kind == "garbage":
        conn.sendall(packet(b"Z"))
    elif kind == "biglen":
        conn.sendall(struct.pack(">I", 0x80000000) + b"c")
    elif kind == "illegal":
        conn.sendall(packet(b"h", b"X-Bad\0v\0") if code != b"E"
                     else packet(b"c") + packet(b"c"))
    elif kind == "silent":
        while conn.recv(65536):
            pass
        return False
    elif kind == "partial":
        conn.sendall(packet(b"y", b"550 5.7.1 cut short\0")[:9])
        return False
    elif kind == "answered":
        conn.sendall(packet(b"c"))
        return False
    elif kind == "stale":
        AFTER["k_seen"] = True
        read_packet(conn)
        return False
    return True


def serve(conn, kind, stage):
    after = AFTER["after"] if AFTER["k_seen"] else None
    try:
        while True:
            code, payload = read_packet(conn)
            if code is None or code == b"Q":
                return
            if code == stage:
                if not fault(conn, kind, code):
                    return
                continue
            if code == b"C" and after == "close":
                return
            if code == b"O":
                conn.sendall(packet(b"O", struct.pack(
                    ">III", 6, 0x1FE if after == "other" else 0x1FF, 0)))
            elif code not in NO_REPLY:
                conn.sendall(packet(b"c"))
    except OSError:
        pass
    finally:
        conn.close()


def listen(path, serve, *args):
    """Serve each connection to unix socket path in a thread of its own
    (also used by slowmilter.py)."""
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,) + args,
                         daemon=True).start()


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[3] not in STAGES:
        sys.exit(__doc__)
    if len(sys.argv) == 5:
        AFTER["after"] = sys.argv[4]
    listen(sys.argv[1], serve, sys.argv[2], STAGES[sys.argv[3]])


if __name__ == "__main__":
    main()
