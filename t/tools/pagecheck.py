#!/usr/bin/python3
"""pagecheck.py: hold milterd's status page, as Chromium saw it, against
/metrics.

usage: pagecheck.py DOM.html SCREENSHOT.png METRICS.txt CHILD...

DOM.html is Chromium's --dump-dom of the page after load, SCREENSHOT.png
its --screenshot, METRICS.txt the /metrics reply taken just after.
Checks that:
- every number with a data-metric attribute equals that metric's value
  in /metrics (name and labels as the exposition writes them), and that
  every per-child counter and every session counter of /metrics is on
  the page;
- the children's table names CHILD... in order, as text (an unescaped
  name would have made elements);
- the page has no script, no form, a meta refresh, and the graph as
  <img src="/graph.svg?hours=N">;
- the graph rendered: the screenshot holds the sessions chart's blue
  (#1f77b4, which nothing else on the page uses), decoded with
  svgcheck.py's PNG decoder.
Prints what differs, exits 1 if anything does.  Standard library only.
"""

import html.parser
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgcheck  # noqa: E402

GRAPH_BLUE = (0x1f, 0x77, 0xb4)


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.metrics = {}       # data-metric -> text
        self.tags = {}          # tag -> count
        self.refresh = None
        self.imgs = []
        self.children = []      # first cell of each row of #children
        self.table = None
        self.row_cell = -1
        self.cell = None        # [metric or None, text]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            self.refresh = a.get("content")
        elif tag == "img":
            self.imgs.append(a)
        elif tag == "table":
            self.table = a.get("id")
        elif tag == "tr":
            self.row_cell = -1
        elif tag in ("td", "th"):
            self.row_cell += 1
            self.cell = [a.get("data-metric"), "", tag]

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            metric, text, kind = self.cell
            if metric is not None:
                self.metrics[metric] = text.strip()
            if (self.table == "children" and kind == "td" and
                    self.row_cell == 0):
                self.children.append(text)
            self.cell = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[1] += data


def prometheus(path):
    """name{labels} -> value, for the lines that are samples."""
    m = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            key, _, value = line.rstrip("\n").rpartition(" ")
            m[key] = value
    return m


def blue_pixels(png):
    with open(png, "rb") as f:
        width, height, bpp, rows = svgcheck.decode(f.read())
    n = 0
    for row in rows:
        for i in range(0, width * bpp, bpp):
            r, g, b = row[i], row[i + 1], row[i + 2]
            if (abs(r - GRAPH_BLUE[0]) < 24 and abs(g - GRAPH_BLUE[1]) < 24
                    and abs(b - GRAPH_BLUE[2]) < 24):
                n += 1
    return n


def main(argv):
    if len(argv) < 4:
        sys.stderr.write("usage: pagecheck.py DOM.html SCREENSHOT.png "
                         "METRICS.txt CHILD...\n")
        return 2
    dom, png, metrics, children = argv[1], argv[2], argv[3], argv[4:]
    p = Page()
    with open(dom) as f:
        p.feed(f.read())
    prom = prometheus(metrics)
    bad = []
    for k, v in sorted(p.metrics.items()):
        if k not in prom:
            bad.append("page shows %s = %s, not in /metrics" % (k, v))
        elif prom[k] != v:
            bad.append("page shows %s = %s, /metrics %s" % (k, v, prom[k]))
    for k in prom:
        if (re.match(r"milterd_(child_[a-z_]*_total|sessions_|messages_|"
                     r"session_verdicts|message_verdicts)", k)
                and k not in p.metrics):
            bad.append("/metrics has %s, the page does not" % k)
    if p.children != children:
        bad.append("children %r, want %r" % (p.children, children))
    for tag in ("script", "form", "input", "button"):
        if p.tags.get(tag):
            bad.append("the page has a <%s>" % tag)
    if p.refresh is None or not re.match(r"^\d+$", p.refresh):
        bad.append("no meta refresh (content %r)" % p.refresh)
    if not any(re.match(r"^/graph\.svg\?hours=\d+$", i.get("src", ""))
               for i in p.imgs):
        bad.append("no <img src=\"/graph.svg?hours=N\"> in %r" % p.imgs)
    try:
        n = blue_pixels(png)
    except svgcheck.PngError as e:
        bad.append("%s: %s" % (png, e))
        n = -1
    if 0 <= n < 200:
        bad.append("%s: %d pixels of the graph's blue: the SVG did not "
                   "render" % (png, n))
    for b in bad:
        print("    | " + b)
    if not bad:
        print("%d numbers as in /metrics, %d children, %d graph pixels"
              % (len(p.metrics), len(p.children), n))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
