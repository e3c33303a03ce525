"""A full mbsync of one large mailbox against reading the same messages over the
REST API.

Usage: python3 tests/imap-sync/measure.py PATH/TO/pigeonhole [MESSAGES]

Starts `pigeonhole serve --imap` on free loopback ports with a fresh data folder,
sends MESSAGES (default 10,000) 2 KB messages over SMTP into INBOX, then times:

* REST: the message IDs from GET /api/v1/messages (pages of 1,000), then
  GET /api/v1/message/{ID}/raw for each, one after another on one keep-alive
  connection: every message's bytes, read as a client reads them;
* IMAP: `mbsync` of every mailbox into an empty Maildir (what a user's first sync
  does), and checks that the Maildir holds MESSAGES files: with `FSync no` (the
  number compared), and again with mbsync's default `FSync yes`, where its fsync of
  every file, on the client's disk, sets the pace.

Prints both times and their ratio; exits 1 when mbsync takes more than twice as
long. README.md ("IMAP") quotes a run against a release build.
"""

import http.client
import json
import os
import re
import smtplib
import subprocess
import sys
import tempfile
import time

binary = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000

WORDS = "order shipped invoice account password reset welcome delivery tracking payment receipt".split()


def cpu_seconds(pid):
    """The process's user + system CPU time so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def body(n):
    words = " ".join(WORDS[(n * 7 + i) % len(WORDS)] + str(i) for i in range(300))
    lines = [words[i : i + 76] for i in range(0, len(words), 76)]
    return "\r\n".join(lines)[:2000]


with tempfile.TemporaryDirectory() as tmp:
    server = subprocess.Popen(
        [binary, "serve", "--data", f"{tmp}/data", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0",
         "--imap", "127.0.0.1:0", "--max-messages", str(count * 2)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    ports = {}
    while len(ports) < 3:
        line = server.stdout.readline()
        match = re.match(r"(\w+) listening on 127\.0\.0\.1:(\d+)", line)
        if match:
            ports[match[1]] = int(match[2])
    try:
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", ports["smtp"]) as smtp:
            for n in range(count):
                smtp.sendmail(
                    "shop@example.test", ["customer@example.test"],
                    f"From: Shop <shop@example.test>\r\nTo: customer@example.test\r\nSubject: message {n}\r\n"
                    f"Message-ID: <m{n}@example.test>\r\n\r\n{body(n)}\r\n",
                )
        print(f"seeded {count} messages over SMTP in {time.monotonic() - started:.1f} s")

        api = http.client.HTTPConnection("127.0.0.1", ports["http"])

        def get(path):
            api.request("GET", path)
            response = api.getresponse()
            data = response.read()
            assert response.status == 200, (path, response.status)
            return data

        started, cpu = time.monotonic(), cpu_seconds(server.pid)
        ids, start = [], 0
        while True:
            page = json.loads(get(f"/api/v1/messages?start={start}&limit=1000"))
            ids += [m["ID"] for m in page["messages"]]
            start += 1000
            if start >= page["messages_count"]:
                break
        total_bytes = sum(len(get(f"/api/v1/message/{i}/raw")) for i in ids)
        rest = time.monotonic() - started
        assert len(ids) == count, len(ids)
        print(f"REST: {count} IDs and raw messages ({total_bytes / 1e6:.1f} MB) in {rest:.2f} s "
              f"(server CPU {cpu_seconds(server.pid) - cpu:.2f} s)")

        def mbsync(fsync):
            """A full sync into an empty Maildir; its seconds and the server's CPU seconds."""
            maildir = f"{tmp}/mail-{fsync}"
            os.mkdir(maildir)
            with open(f"{tmp}/mbsyncrc-{fsync}", "w") as config:
                config.write(
                    # mbsync fsyncs every file by default: the client's disk, not the server, then sets the pace.
                    f"FSync {fsync}\n\n"
                    f"IMAPAccount p\nHost 127.0.0.1\nPort {ports['imap']}\nUser u\nPass p\nSSLType None\n"
                    f"AuthMechs LOGIN\n\nIMAPStore remote\nAccount p\n\nMaildirStore local\nPath {maildir}/\n"
                    f"Inbox {maildir}/INBOX\nSubFolders Verbatim\n\nChannel sync\nFar :remote:\nNear :local:\n"
                    f"Patterns *\nCreate Near\nSync Pull\nSyncState *\n"
                )
            started, cpu = time.monotonic(), cpu_seconds(server.pid)
            subprocess.run(["mbsync", "-q", "-c", f"{tmp}/mbsyncrc-{fsync}", "sync"], check=True)
            seconds, server_cpu = time.monotonic() - started, cpu_seconds(server.pid) - cpu
            files = len(os.listdir(f"{maildir}/INBOX/new")) + len(os.listdir(f"{maildir}/INBOX/cur"))
            assert files == count, files
            return seconds, server_cpu

        imap, cpu = mbsync("no")
        print(f"IMAP: mbsync of {count} messages into an empty Maildir (FSync no) in {imap:.2f} s "
              f"(server CPU {cpu:.2f} s)")
        synced, cpu = mbsync("yes")
        print(f"IMAP: the same with mbsync's default FSync yes in {synced:.2f} s (server CPU {cpu:.2f} s)")
        print(f"mbsync / REST = {imap / rest:.2f} (must be at most 2)")
        sys.exit(0 if imap <= 2 * rest else 1)
    finally:
        server.terminate()
        server.wait()
