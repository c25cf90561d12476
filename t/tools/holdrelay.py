#!/usr/bin/python3
"""holdrelay.py PORT TARGET_PORT HELD RELEASE: a TCP relay on
127.0.0.1:PORT to 127.0.0.1:TARGET_PORT that makes the server slow at
will.  What a client sends is held until the file RELEASE exists; the
first time something is held, the file HELD is made, so that a test
knows a client waits.  Once RELEASE exists everything flows.  Used by
t/conditions-lua.sh to make slapd slow without timing anything."""

import os
import socket
import sys
import threading
import time


def released(path):
    return os.path.exists(path)


def pump(src, dst, hold, held, release):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if hold and not released(release):
                with open(held, "a") as f:
                    f.write("held\n")
                while not released(release):
                    time.sleep(0.05)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    port, target, held, release = int(sys.argv[1]), int(sys.argv[2]), \
        sys.argv[3], sys.argv[4]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        s = socket.create_connection(("127.0.0.1", target))
        threading.Thread(target=pump, args=(c, s, True, held, release),
                         daemon=True).start()
        threading.Thread(target=pump, args=(s, c, False, held, release),
                         daemon=True).start()


main()
