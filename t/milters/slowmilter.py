#!/usr/bin/python3
"""slowmilter.py: a milter that reads the message slowly, for replay tests.

    slowmilter.py SOCKET

It negotiates version 6 with the add-header action and no replies to
headers, end of headers and body pieces (SMFIP_NR_HDR, NR_EOH,
NR_BODY), so milterd replays the message without waiting between
pieces.  At the first body piece it stops reading for a second, so that
what milterd writes piles up on its side and milterd must wait for it
to drain.  At end of message it adds "X-Slow-Body: N" (the body bytes it
got) and answers continue; continue to every other command it answers.
"""

import os
import socket
import struct
import sys
import threading
import time

NR = 0x80 | 0x40000 | 0x80000           # NR_HDR, NR_EOH, NR_BODY
NO_REPLY = b"ADKQLNB"


def packet(code, payload=b""):
    return struct.pack(">I", len(payload) + 1) + code + payload


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve(conn):
    body = 0
    paused = False
    try:
        while True:
            hdr = read_exact(conn, 4)
            if hdr is None:
                return
            data = read_exact(conn, struct.unpack(">I", hdr)[0])
            if data is None:
                return
            code = data[:1]
            if code == b"O":
                conn.sendall(packet(b"O", struct.pack(">III", 6, 0x01, NR)))
            elif code == b"B":
                if not paused:
                    paused = True
                    time.sleep(1)   # the peer's writes pile up meanwhile
                body += len(data) - 1
            elif code == b"E":
                conn.sendall(packet(b"h", b"X-Slow-Body\0%d\0" % body))
                conn.sendall(packet(b"c"))
                body = 0
                paused = False
            elif code == b"Q":
                return
            elif code not in NO_REPLY:
                conn.sendall(packet(b"c"))
    except OSError:
        pass
    finally:
        conn.close()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
