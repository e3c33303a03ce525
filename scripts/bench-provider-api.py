#!/usr/bin/env python3
"""Ingest through SendGrid's API route against ingest over SMTP, in one run.

One `pigeonhole serve` (release build by default, fresh data folder) takes the
same 2 KB messages both ways, in rounds where the ways take turns to go first,
so that drift of a shared machine hits both alike: over SMTP (smtplib, one
connection per client, one MAIL/RCPT/DATA per message) and through
`POST /v3/mail/send` (http.client, one keep-alive connection per client, one
request per message). Each client is its own process, connected before the
clock starts. Each way starts with the search index caught up and is charged
the server CPU of indexing its own messages. Prints messages per second and the
server's CPU time per message for each round, the ratio of API to SMTP, and
checks that every message was stored.

The text is 1,800 characters in lines of at most 72, as mail clients and
libraries write it. `--long-line` sends it as one line instead: longer than
SMTP's 998-character limit (RFC 5321 4.5.3.1.6), which smtplib passes on as it
is but which the API has to quoted-printable encode (and the store to decode),
so it measures that encoding as well.

    cargo build --release -p pigeonhole
    python3 scripts/bench-provider-api.py [--messages 4000] [--clients 8] [--rounds 3]
"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# About 2 KB of text: with the headers each way makes, a message of about 2 KB.
LONG_LINE = ("The quick brown fox jumps over the lazy dog. " * 40)[:1800]
TEXT = "\n".join(textwrap.wrap(LONG_LINE, 72))
SUBJECT = "Bench message"
SENDER, RECIPIENT = "app@example.test", "user@example.test"


def crlf(text):
    return text.replace("\n", "\r\n")


def smtp_message(i, text):
    return (
        f"From: {SENDER}\r\nTo: {RECIPIENT}\r\nSubject: {SUBJECT} {i}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{crlf(text)}\r\n"
    ).encode()


def api_body(i, text):
    return json.dumps({
        "personalizations": [{"to": [{"email": RECIPIENT}]}],
        "from": {"email": SENDER},
        "subject": f"{SUBJECT} {i}",
        "content": [{"type": "text/plain", "value": text}],
    }).encode()


def smtp_client(port, count, text, ready, go):
    client = smtplib.SMTP("127.0.0.1", port)
    client.ehlo("bench.test")
    messages = [smtp_message(i, text) for i in range(count)]
    ready.release()
    go.wait()
    for message in messages:
        client.sendmail(SENDER, [RECIPIENT], message)
    client.quit()


def api_client(port, count, text, ready, go):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.connect()
    headers = {"Authorization": "Bearer SG.bench.key", "Content-Type": "application/json"}
    bodies = [api_body(i, text) for i in range(count)]
    ready.release()
    go.wait()
    for body in bodies:
        connection.request("POST", "/v3/mail/send", body, headers)
        response = connection.getresponse()
        response.read()
        if response.status != 202:
            raise SystemExit(f"SendGrid route answered {response.status}")
    connection.close()


def timed(client, port, messages, clients, text):
    """Seconds for `clients` processes to send `messages` in all, from a common start."""
    ready, go = multiprocessing.Semaphore(0), multiprocessing.Event()
    share = messages // clients
    workers = [multiprocessing.Process(target=client, args=(port, share, text, ready, go)) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a {client.__name__} failed")
    return time.perf_counter() - start, share * clients


def cpu_seconds(pid):
    """User + system CPU time the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(database):
    """Wait until the search index has caught up (`fts_pending` is empty): the
    writer indexes a flood after it, so a way measured straight after the other
    would pay for the other's indexing."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
                if db.execute("SELECT count(*) FROM fts_pending").fetchone()[0] == 0:
                    return
        except sqlite3.OperationalError:
            pass  # not created yet, or busy: ask again
        time.sleep(0.05)
    raise SystemExit("the search index did not catch up within 300 s")


def stored(http_port):
    connection = http.client.HTTPConnection("127.0.0.1", http_port)
    connection.request("GET", "/api/v1/messages?limit=1")
    return json.loads(connection.getresponse().read())["total"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(REPO / "target/release/pigeonhole"))
    parser.add_argument("--messages", type=int, default=4000, help="per round and way")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--long-line", action="store_true",
                        help="the text as one 1,800-character line (see above)")
    args = parser.parse_args()
    text = LONG_LINE if args.long_line else TEXT

    with tempfile.TemporaryDirectory() as data:
        database = Path(data) / "pigeonhole.db"
        server = subprocess.Popen(
            [args.binary, "serve", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", data,
             "--max-messages", "1000000"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            ports = {}
            while len(ports) < 2:
                line = server.stdout.readline()
                if not line:
                    raise SystemExit("pigeonhole serve exited before listening")
                if found := re.match(r"(smtp|http) listening on .*:(\d+)$", line.strip()):
                    ports[found[1]] = int(found[2])
            ratios, expected = [], 0
            for round_number in range(1, args.rounds + 1):
                # Each way starts with the index caught up, and its CPU time runs
                # until its own messages are indexed; the ways take turns to go first.
                ways = [("smtp", smtp_client), ("http", api_client)]
                seconds, cpu = {}, {}
                for port, client in ways if round_number % 2 else ways[::-1]:
                    settle(database)
                    before = cpu_seconds(server.pid)
                    seconds[port], sent = timed(client, ports[port], args.messages, args.clients, text)
                    settle(database)
                    cpu[port] = cpu_seconds(server.pid) - before
                smtp_seconds, api_seconds = seconds["smtp"], seconds["http"]
                smtp_cpu, api_cpu = cpu["smtp"], cpu["http"]
                expected += 2 * sent
                smtp_rate, api_rate = sent / smtp_seconds, sent / api_seconds
                ratios.append(api_rate / smtp_rate)
                print(f"round {round_number}: {sent} messages each way, {args.clients} clients: "
                      f"SMTP {smtp_rate:,.0f}/s ({1e6 * smtp_cpu / sent:.0f} µs server CPU each), "
                      f"SendGrid API {api_rate:,.0f}/s ({1e6 * api_cpu / sent:.0f} µs), API/SMTP {ratios[-1]:.2f}")
            total = stored(ports["http"])
            if total != expected:
                raise SystemExit(f"stored {total} messages, sent {expected}")
            print(f"median API/SMTP over {args.rounds} rounds: {statistics.median(ratios):.2f} ({total} stored)")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
