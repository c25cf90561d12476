#!/usr/bin/python3
"""svgcheck.py: render an SVG with rsvg-convert and check it shows something.

usage: svgcheck.py FILE.svg [MIN_INK]

Renders FILE.svg to a PNG with rsvg-convert, decodes the PNG (8-bit
RGB or RGBA, not interlaced) with zlib, and counts the pixels that
differ from the top-left one, taken as the background.  Fails (exit 1,
a message on stderr) if rsvg-convert fails or fewer than MIN_INK percent
(default 0.5) of the pixels are ink.  On success prints
"WIDTHxHEIGHT, N% ink".  Standard library only.
"""

import os
import struct
import subprocess
import sys
import tempfile
import zlib

PNG_SIG = b"\x89PNG\r\n\x1a\n"


class PngError(Exception):
    pass


def chunks(data):
    """Yields (type, payload) of each chunk, checking lengths and CRCs."""
    if not data.startswith(PNG_SIG):
        raise PngError("not a PNG")
    pos = len(PNG_SIG)
    while pos < len(data):
        if pos + 8 > len(data):
            raise PngError("truncated chunk header")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise PngError("truncated %r chunk" % ctype)
        if zlib.crc32(ctype + body) != struct.unpack(">I", crc)[0]:
            raise PngError("bad CRC in %r chunk" % ctype)
        yield ctype, body
        if ctype == b"IEND":
            return
        pos += 12 + length
    raise PngError("no IEND chunk")


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def unfilter_row(ftype, row, prev, bpp):
    """Undoes one row's filter (0 none, 1 sub, 2 up, 3 average, 4 paeth)."""
    out = bytearray(row)
    n = len(out)
    if ftype == 0:
        pass
    elif ftype == 1:
        for i in range(bpp, n):
            out[i] = (out[i] + out[i - bpp]) & 0xFF
    elif ftype == 2:
        out = bytearray((x + y) & 0xFF for x, y in zip(row, prev))
    elif ftype == 3:
        for i in range(n):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif ftype == 4:
        for i in range(n):
            left = out[i - bpp] if i >= bpp else 0
            upleft = prev[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + paeth(left, prev[i], upleft)) & 0xFF
    else:
        raise PngError("bad filter type %d" % ftype)
    return out


def decode(data):
    """Returns (width, height, bytes per pixel, list of pixel rows)."""
    header = None
    idat = []
    for ctype, body in chunks(data):
        if ctype == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
    if header is None:
        raise PngError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6):
        raise PngError("unsupported: depth %d, colour type %d"
                       % (depth, colour))
    if interlace != 0:
        raise PngError("unsupported: interlaced")
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise PngError("bad image data: %s" % e)
    if len(raw) != height * (stride + 1):
        raise PngError("image data is %d bytes, want %d"
                       % (len(raw), height * (stride + 1)))
    rows = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        prev = unfilter_row(raw[start], raw[start + 1:start + 1 + stride],
                            prev, bpp)
        rows.append(bytes(prev))
    return width, height, bpp, rows


def ink(width, height, bpp, rows):
    """The fraction of pixels that differ from the top-left one."""
    bg = rows[0][:bpp]
    same = 0
    for row in rows:
        pixels = [row[i:i + bpp] for i in range(0, width * bpp, bpp)]
        same += pixels.count(bg)
    return 1 - same / (width * height) if width * height else 0.0


def render(path):
    """Renders path to PNG bytes; raises PngError if rsvg-convert fails."""
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "out.png")
        try:
            r = subprocess.run(["rsvg-convert", "-f", "png", "-o", png, path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise PngError("rsvg-convert: %s" % e)
        if r.returncode != 0:
            msg = r.stderr.decode(errors="replace").strip()
            raise PngError("rsvg-convert failed (exit %d): %s"
                           % (r.returncode, msg))
        with open(png, "rb") as f:
            return f.read()


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: svgcheck.py FILE.svg [MIN_INK]\n")
        return 2
    path = argv[1]
    try:
        min_ink = float(argv[2]) if len(argv) == 3 else 0.5
    except ValueError:
        sys.stderr.write("svgcheck: bad MIN_INK %r\n" % argv[2])
        return 2
    try:
        width, height, bpp, rows = decode(render(path))
    except PngError as e:
        sys.stderr.write("svgcheck: %s: %s\n" % (path, e))
        return 1
    pct = 100 * ink(width, height, bpp, rows)
    if pct < min_ink:
        sys.stderr.write("svgcheck: %s: %dx%d, %.2f%% ink, want %g%%\n"
                         % (path, width, height, pct, min_ink))
        return 1
    print("%dx%d, %.2f%% ink" % (width, height, pct))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
