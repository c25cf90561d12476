#!/usr/bin/env python3
"""two-msgs.py PORT FROM RCPTS FILE [FROM RCPTS FILE]...: several messages in
one SMTP session to 127.0.0.1:PORT (RCPTS comma-separated), each reply
printed as swaks does ("<-  250 ..."), for t/lib/e2e.sh."""
import smtplib, sys
def show(r):
    code, text = r
    lines = text.decode("utf-8", "replace").split("\n")
    for i, line in enumerate(lines):
        print("<-  %d%s%s" % (code, "-" if i < len(lines) - 1 else " ", line))
s = smtplib.SMTP()
show(s.connect("127.0.0.1", int(sys.argv[1])))
show(s.ehlo("client.example"))
args = sys.argv[2:]
while args:
    frm, rcpts, path, args = args[0], args[1], args[2], args[3:]
    show(s.docmd("MAIL FROM:<%s>" % frm))
    ok = 0
    for r in rcpts.split(","):
        code, text = s.docmd("RCPT TO:<%s>" % r)
        show((code, text))
        ok += code == 250
    if not ok:
        show(s.docmd("RSET"))
        continue
    code, text = s.docmd("DATA")
    show((code, text))
    if code != 354:
        continue
    data = open(path, "rb").read().replace(b"\r\n", b"\n")
    s.send(data.replace(b"\n", b"\r\n") + b".\r\n")
    show(s.getreply())
show(s.docmd("QUIT"))
