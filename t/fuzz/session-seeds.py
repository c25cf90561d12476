#!/usr/bin/python3
"""session-seeds.py FIXTURES OUTDIR: seeds for fuzz_session (see its
header for the input form) from the captured sessions: each MTA stream
(*.cmd) with the reply stream of the milter that answered it (*.reply),
interleaved as they happened: every command that waits for an answer
is followed by the child's replies up to its final one.  Each pair is
written with one, two and three children (the replies sent by child 0;
the others left to the fuzzer) and both dispatch modes."""
import os
import struct
import sys

PAIRS = [
    ("postfix-v2.cmd", "libmilter-v2.reply"),
    ("postfix-v6-edits.cmd", "libmilter-v6-edits.reply"),
    ("postfix-v6-multi.cmd", "libmilter-v6-multi.reply"),
    ("postfix-xclient-1.cmd", "libmilter-xclient-1.reply"),
    ("postfix-xclient-2.cmd", "libmilter-xclient-2.reply"),
    ("postfix-opendkim.cmd", "opendkim.reply"),
]
ANSWERED = b"OCHMRTE"          # commands a child answers
FINAL = b"Oacrtdy"             # replies that end an answer


def packets(path):
    data = open(path, "rb").read()
    out = []
    while len(data) >= 5:
        (n,) = struct.unpack(">I", data[:4])
        out.append(data[: 4 + n])
        data = data[4 + n:]
    return out


def step(op, payload):
    """One data step, or several for a payload over 65535 bytes."""
    out = b""
    for i in range(0, len(payload), 65535):
        chunk = payload[i:i + 65535]
        out += bytes([op]) + struct.pack(">H", len(chunk)) + chunk
    return out


def seed(cmds, replies, setup):
    out = bytearray([setup])
    r = 0
    for p in cmds:
        out += step(0, p)
        if p[4] not in ANSWERED:
            continue
        while r < len(replies):
            out += step(1, replies[r])
            r += 1
            if replies[r - 1][4] in FINAL:
                break
    out += bytes([3])
    return bytes(out)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for cmd, rep in PAIRS:
        cmds = packets(os.path.join(src, cmd))
        replies = packets(os.path.join(src, rep))
        for kids in (0, 1, 2):
            for parallel in (0, 4):
                name = "%s-%d%s" % (cmd[:-4], kids + 1,
                                    "p" if parallel else "s")
                with open(os.path.join(dst, name), "wb") as f:
                    f.write(seed(cmds, replies, kids | parallel))


main()
