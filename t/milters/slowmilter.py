#!/usr/bin/python3
"""slowmilter.py: a milter that reads the message slowly, for replay tests.

    slowmilter.py SOCKET
    slowmilter.py SOCKET EOM_MS LOG

It negotiates version 6 with the add-header action and no replies to
headers, end of headers and body pieces (SMFIP_NR_HDR, NR_EOH,
NR_BODY), so milterd replays the message without waiting between
pieces.  At the first body piece it stops reading for a second, so that
what milterd writes piles up on its side and milterd must wait for it
to drain.  At end of message it adds "X-Slow-Body: N" (the body bytes it
got) and answers continue; continue to every other command it answers.

With EOM_MS and LOG (a trial child that is slow and refuses, for the
shadow tests): no pause at the body; at end of message it writes
"eom" to LOG, sleeps EOM_MS milliseconds and rejects.  Each connection
has its own thread, so a sleep holds up no other connection (libmilter's
worker pool would).
"""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from badmilter import listen, packet, read_packet  # noqa: E402

NR = 0x80 | 0x40000 | 0x80000           # NR_HDR, NR_EOH, NR_BODY
NO_REPLY = b"ADKQLNB"


def serve(conn, eom_ms=None, log=None):
    body = 0
    paused = eom_ms is not None
    try:
        while True:
            code, payload = read_packet(conn)
            if code is None:
                return
            if code == b"O":
                conn.sendall(packet(b"O", struct.pack(">III", 6, 0x01, NR)))
            elif code == b"B":
                if not paused:
                    paused = True
                    time.sleep(1)   # the peer's writes pile up meanwhile
                body += len(payload)
            elif code == b"E" and eom_ms is not None:
                with open(log, "a") as f:
                    f.write("eom\n")
                time.sleep(int(eom_ms) / 1000)
                conn.sendall(packet(b"r"))
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
    if len(sys.argv) not in (2, 4):
        sys.exit(__doc__)
    listen(sys.argv[1], serve, *sys.argv[2:])


if __name__ == "__main__":
    main()
