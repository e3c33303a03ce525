"""Times every route that parses a message's HTML on three hostile messages.

Usage: python3 tests/hostile-html/measure.py PATH/TO/pigeonhole

Starts `pigeonhole serve` on free loopback ports with a fresh data folder, sends
over SMTP 50,000 nested <div>s, 10 MB of paragraphs with links and a million
links, then asks each route once with curl (`-w '%{time_total}'`, cut off at
120 s) and prints status and seconds, then the server's peak RSS (Linux). README.md ("Hostile HTML") quotes a run
against a release build; crates/pigeonhole/tests/hostile_html.rs asserts bounds.
"""

import json
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import urllib.request

ROUTES = [
    "/view/{ID}.html",
    "/view/{ID}.html?embed=1",
    "/api/v1/message/{ID}/links",
    "/api/v1/message/{ID}/codes",
    "/api/v1/message/{ID}/html-check",
    "/api/v1/message/{ID}/checks",
]

PARAGRAPH = ('<p>A paragraph of a long message, with <a href="https://example.test/page">a link</a> '
             'and <b>bold</b> words.</p>\r\n')

MESSAGES = {
    "deep-50k": "<html><body>" + "<div>\r\n" * 50_000 + "deep inside" + "</div>" * 50_000 + "</body></html>",
    "10MB": PARAGRAPH * (10_000_000 // len(PARAGRAPH)),
    "1M-links": "".join(f"<a href=http://e.test/{n}>{n}</a>\r\n" for n in range(1_000_000)),
}


def message(subject, html):
    return (f"From: s@example.test\r\nTo: r@example.test\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n").encode()


def main():
    data = tempfile.mkdtemp()
    server = subprocess.Popen(
        [sys.argv[1], "serve", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", data],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        smtp = http = None
        while not (smtp and http):
            line = server.stdout.readline()
            if not line:
                sys.exit("the server stopped before listening")
            if m := re.search(r"smtp listening on (\S+)", line):
                smtp = m.group(1)
            if m := re.search(r"http listening on (\S+)", line):
                http = m.group(1)
        host, port = smtp.rsplit(":", 1)
        for subject, html in MESSAGES.items():
            with smtplib.SMTP(host, int(port)) as client:
                client.sendmail("s@example.test", ["r@example.test"], message(subject, html))
        listing = json.load(urllib.request.urlopen(f"http://{http}/api/v1/messages"))
        ids = {summary["Subject"]: summary["ID"] for summary in listing["messages"]}
        for subject in MESSAGES:
            for route in ROUTES:
                url = f"http://{http}{route.replace('{ID}', ids[subject])}"
                answer = subprocess.run(
                    ["curl", "-s", "-o", "/dev/null", "-m", "120", "-w", "%{http_code} %{time_total}", url],
                    capture_output=True, text=True).stdout
                print(f"{subject:9} {route:34} {answer}", flush=True)
        with open(f"/proc/{server.pid}/status") as status:
            peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
        print(f"server peak RSS: {int(peak) // 1024} MB", flush=True)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data)


if __name__ == "__main__":
    main()
