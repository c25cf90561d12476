#!/usr/bin/env python3
# blackhole.py PORTFILE: a TCP listener on 127.0.0.1 whose accept queue
# is full and never drained, so that a new connection to it never
# completes (the kernel drops its SYN): a child milter whose host drops
# packets, on loopback, without a network namespace.  Writes its port
# to PORTFILE once the queue is full, then waits to be killed.
import os
import socket
import sys
import time

s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
held = []
for _ in range(4):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    held.append(c)
# The queue is full once a probe's connect does not complete.
while True:
    p = socket.socket()
    p.settimeout(0.2)
    try:
        p.connect(("127.0.0.1", port))
        held.append(p)
    except socket.timeout:
        break
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % port)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(3600)
