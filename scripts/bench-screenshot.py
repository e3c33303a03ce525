#!/usr/bin/env python3
"""How long one screenshot (GET /api/v1/message/{ID}/screenshot.png) takes.

One `pigeonhole serve` (release build by default, fresh data folder, Chromium
from PATH or --browser) takes a newsletter-like HTML message with an inline
image over SMTP. Then, each request timed from the client:

* cold: the engine's first screenshot, which starts the browser;
* warm: --rounds more at widths not asked before (the engine's cache cannot
  answer them), the browser already running;
* cached: the first width again, answered from the engine's cache.

Each cold start is a fresh engine (--cold times). Prints every time and the
medians, and checks every answer is a PNG of the asked width.

    cargo build --release -p pigeonhole
    python3 scripts/bench-screenshot.py [--rounds 10] [--cold 3] [--bin target/release/pigeonhole]
"""

import argparse
import base64
import http.client
import re
import smtplib
import statistics
import struct
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def solid_png(width, height, rgb):
    """A PNG of one colour, made here (no fixture files)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def newsletter():
    """A message like a typical product newsletter: a logo, a table layout, a few
    sections of text and buttons, inline styles (about 12 KB of HTML)."""
    section = (
        '<tr><td style="padding:24px;font-family:Arial,sans-serif;color:#333">'
        '<h2 style="margin:0 0 12px;color:#1a4d8f">This week: faster builds</h2>'
        + "<p style=\"line-height:1.5\">" + "Everything you need to know about the release. " * 12 + "</p>"
        '<a href="https://example.test/read" style="display:inline-block;padding:10px 18px;background:#1a4d8f;'
        'color:#fff;border-radius:4px;text-decoration:none">Read more</a></td></tr>'
    )
    html = (
        '<html><body style="margin:0;background:#eef2f7">'
        '<table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">'
        '<table width="600" cellpadding="0" cellspacing="0" style="background:#fff">'
        '<tr><td style="padding:16px"><img src="cid:logo" width="120" height="40" alt="Logo"></td></tr>'
        + section * 6
        + '</table></td></tr></table></body></html>'
    )
    logo = base64.encodebytes(solid_png(120, 40, (26, 77, 143))).decode().replace("\n", "\r\n")
    return (
        "From: news@example.test\r\nTo: reader@example.test\r\nSubject: Newsletter\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/related; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"{html}\r\n--b\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{logo}\r\n--b--\r\n"
    )


def start(binary, browser, data):
    args = [binary, "serve", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", data]
    if browser:
        args += ["--browser", browser]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    addresses = {}
    while len(addresses) < 2:
        line = server.stdout.readline()
        match = re.match(r"(smtp|http) listening on ([\d.]+):(\d+)", line)
        if match:
            addresses[match[1]] = (match[2], int(match[3]))
        elif not line:
            raise SystemExit("the engine stopped before listening")
    return server, addresses


def get_png(api, path, width):
    api.request("GET", path)
    response = api.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
    got = struct.unpack(">I", body[16:20])[0]
    if body[:8] != b"\x89PNG\r\n\x1a\n" or got != width:
        raise SystemExit(f"GET {path}: not a PNG {width} wide")


def timed(api, message_id, width):
    started = time.perf_counter()
    get_png(api, f"/api/v1/message/{message_id}/screenshot.png?width={width}", width)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=str(REPO / "target/release/pigeonhole"))
    parser.add_argument("--browser", help="the engine's --browser [default: chromium on PATH]")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cold", type=int, default=3)
    args = parser.parse_args()

    colds, warms, cacheds = [], [], []
    for run in range(args.cold):
        with tempfile.TemporaryDirectory() as data:
            server, addresses = start(args.bin, args.browser, data)
            try:
                with smtplib.SMTP(*addresses["smtp"]) as smtp:
                    smtp.sendmail("news@example.test", ["reader@example.test"], newsletter().encode())
                api = http.client.HTTPConnection(*addresses["http"], timeout=60)
                api.request("GET", "/api/v1/messages")
                message_id = re.search(r'"ID":"(\w+)"', api.getresponse().read().decode())[1]
                colds.append(timed(api, message_id, 600))
                print(f"cold start {run + 1}: {colds[-1] * 1000:.0f} ms")
                if run == 0:
                    for n in range(args.rounds):
                        warms.append(timed(api, message_id, 601 + n))
                        print(f"warm {n + 1} (width {601 + n}): {warms[-1] * 1000:.0f} ms")
                    cacheds.append(timed(api, message_id, 600))
                    print(f"cached: {cacheds[-1] * 1000:.1f} ms")
            finally:
                server.terminate()
                server.wait()
    print(
        f"median: cold {statistics.median(colds) * 1000:.0f} ms ({len(colds)} starts), "
        f"warm {statistics.median(warms) * 1000:.0f} ms (max {max(warms) * 1000:.0f}), "
        f"cached {statistics.median(cacheds) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
