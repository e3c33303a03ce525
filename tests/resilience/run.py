#!/usr/bin/env python3
"""Pigeonhole's resilience suite: floods, idle sockets, the connection cap,
sockets held open against the defaults, oversize input, crashes, retention under load, a full disk, a corrupt database,
a webhook receiver that never answers.

Standard library only. Every scenario starts its own `pigeonhole serve` on loopback
ports (127.0.0.1 only), sends a bounded number of messages/connections with a time
limit, stops the server and prints its figures and PASS/FAIL. The run ends with
`N passed, N failed` and writes a JSON report (artifacts/resilience.json).

    python3 tests/resilience/run.py              # reduced scale (CI), a few minutes
    python3 tests/resilience/run.py --full       # full scale (or PIGEONHOLE_RESILIENCE=full)
    python3 tests/resilience/run.py -k 5,10      # only scenarios 5 and 10

The binary is target/debug/pigeonhole, or PIGEONHOLE_BIN.
"""

import argparse
import hashlib
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HOST = "127.0.0.1"  # loopback only: this suite never sends anything elsewhere

# Scales: (reduced, full). The reduced scale runs in CI on 2 shared cores with a
# debug build; the full scale is the issue's.
SCALES = {
    "reduced": {
        "flood_messages": 30000, "flood_recipients": 3000, "flood_connections": 100,
        "slowloris_sockets": 300, "slowloris_interval": 2.0, "slowloris_timeout": 5,
        "cap": 100, "cap_attempts": 2000,
        "abuse_bad_commands": 20000, "abuse_connections": 5000,
        "oversize_line": 10_000_000, "oversize_data": 30_000_000,
        "crash_kills": 10, "crash_messages": 30000,
        "retention_messages": 6000, "retention_cap": 500,
        "writer_connections": 360, "writer_message_bytes": 1_000_000, "writer_lock_s": 4,
        "held_sockets": 3000, "held_normal_every_s": 0.5,
        "webhook_messages": 6000,
    },
    "full": {
        "flood_messages": 50000, "flood_recipients": 5000, "flood_connections": 200,
        "slowloris_sockets": 5000, "slowloris_interval": 20.0, "slowloris_timeout": 60,
        "cap": 1000, "cap_attempts": 20000,
        "abuse_bad_commands": 200000, "abuse_connections": 100000,
        "oversize_line": 10_000_000, "oversize_data": 100_000_000,
        "crash_kills": 50, "crash_messages": 300000,
        "retention_messages": 100000, "retention_cap": 10000,
        "writer_connections": 1500, "writer_message_bytes": 300_000, "writer_lock_s": 4,
        "held_sockets": 5000, "held_normal_every_s": 3.0,
        "webhook_messages": 10000,
    },
}


# ---------------------------------------------------------------- measuring helpers

def p99(values):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 1)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def terminate(proc, grace):
    """SIGTERM, then SIGKILL after `grace` seconds; reaped either way."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Server:
    """`pigeonhole serve` on loopback ports, with its output in a log file."""

    def __init__(self, binary, data, args=(), smtp_port=0, http_port=0):
        self.binary, self.data, self.args = binary, data, list(args)
        self.smtp_port, self.http_port = smtp_port, http_port
        self.proc = None
        self.log_path = data.rstrip("/") + ".log"

    def start(self, timeout=30):
        self.log = open(self.log_path, "ab")
        cmd = [self.binary, "serve", "--smtp", f"{HOST}:{self.smtp_port}",
               "--http", f"{HOST}:{self.http_port}", "--data", self.data] + self.args
        start = os.path.getsize(self.log_path)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            smtp = re.search(r"smtp listening on [\d.]+:(\d+)", text)
            http_ = re.search(r"http listening on [\d.]+:(\d+)", text)
            if smtp and http_:
                self.smtp_port, self.http_port = int(smtp.group(1)), int(http_.group(1))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {text[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError("server did not start in time")

    @property
    def pid(self):
        return self.proc.pid

    def rss(self):
        return rss_kb(self.proc.pid)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc:
            terminate(self.proc, 20)
        if getattr(self, "log", None):
            self.log.close()

    def api(self, path, timeout=30):
        with urllib.request.urlopen(f"http://{HOST}:{self.http_port}{path}", timeout=timeout) as r:
            return json.loads(r.read())

    def total(self):
        return self.api("/api/v1/messages?limit=1")["total"]

    def message_ids(self):
        """Every stored message's Message-ID, through the API, a page at a time."""
        ids, start = set(), 0
        while True:
            page = self.api(f"/api/v1/messages?limit=1000&start={start}")
            for m in page["messages"]:
                ids.add(m["MessageID"])
            start += len(page["messages"])
            if not page["messages"] or start >= page["total"]:
                return ids


class Sampler(threading.Thread):
    """Samples the server's RSS and open fds, and times GET /api/v1/messages, until stopped."""

    def __init__(self, server, interval=0.1):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.stop_event = threading.Event()
        self.rss, self.fds, self.latencies, self.api_errors = [], [], [], 0
        self.t0 = time.time()

    def run(self):
        while not self.stop_event.is_set():
            pid = self.server.pid
            self.rss.append((round(time.time() - self.t0, 2), rss_kb(pid)))
            self.fds.append(fd_count(pid))
            t = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(HOST, self.server.http_port, timeout=10)
                conn.request("GET", "/api/v1/messages?limit=50")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status != 200:
                    self.api_errors += 1
                else:
                    self.latencies.append(time.perf_counter() - t)
            except OSError:
                self.api_errors += 1
            self.stop_event.wait(self.interval)

    def finish(self):
        self.stop_event.set()
        self.join()
        rss = [kb for _, kb in self.rss if kb]
        return {
            "api_p99_ms": ms(p99(self.latencies)), "api_requests": len(self.latencies),
            "api_errors": self.api_errors,
            "rss_start_kb": rss[0] if rss else None, "rss_max_kb": max(rss) if rss else None,
            "rss_end_kb": rss[-1] if rss else None, "max_fds": max([f for f in self.fds if f] or [0]),
            "rss_series_kb": self.rss[:: max(1, len(self.rss) // 40)],
        }


def message(mid, sender, rcpt, subject, body="hello"):
    return (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
            f"Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n{body}\r\n")


class Smtp:
    """A small raw SMTP client: replies parsed by hand, so wrong codes are seen as they are."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""

    def reply(self):
        """One (possibly multi-line) reply: (code, text). (None, '') on EOF."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return (None, "") if not lines else (int(lines[-1][:3]), "\n".join(lines))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            line = line.decode(errors="replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def send_mail(self, sender, rcpts, data):
        """One transaction, pipelined. Returns the final reply (code, text)."""
        out = f"MAIL FROM:<{sender}>\r\n" + "".join(f"RCPT TO:<{r}>\r\n" for r in rcpts) + "DATA\r\n"
        self.sock.sendall(out.encode())
        replies = []
        for _ in range(2 + len(rcpts)):
            code, text = self.reply()
            if code is None:
                return code, text
            replies.append((code, text))
        if replies[-1][0] != 354:
            return next((r for r in replies if r[0] >= 400), replies[-1])
        body = data.replace("\r\n.", "\r\n..")
        self.sock.sendall(body.encode() + b".\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def greet(port, timeout=30):
    c = Smtp(port, timeout)
    code, _ = c.reply()
    if code != 220:
        c.close()
        raise RuntimeError(f"greeting {code}")
    c.cmd("EHLO resilience.test")
    return c


class NormalClient(threading.Thread):
    """A well-behaved client delivering one message every `interval` s during an attack."""

    def __init__(self, server, interval=0.25, tag="normal"):
        super().__init__(daemon=True)
        self.server, self.interval, self.tag = server, interval, tag
        self.stop_event = threading.Event()
        self.latencies, self.failures, self.ids = [], [], []

    def run(self):
        n = 0
        while not self.stop_event.is_set():
            n += 1
            mid = f"{self.tag}-{n}-{random.getrandbits(32)}@normal.test"
            t = time.perf_counter()
            try:
                c = greet(self.server.smtp_port, timeout=10)
                code, text = c.send_mail("dev@normal.test", ["qa@normal.test"],
                                         message(mid, "dev@normal.test", "qa@normal.test", "normal"))
                c.cmd("QUIT")
                c.close()
                if code == 250:
                    self.latencies.append(time.perf_counter() - t)
                    self.ids.append(mid)
                else:
                    self.failures.append(f"{code} {text}")
            except (OSError, RuntimeError) as e:
                self.failures.append(repr(e))
            self.stop_event.wait(self.interval)

    def finish(self):
        self.stop_event.set()
        self.join()
        return {"normal_delivered": len(self.latencies), "normal_failed": len(self.failures),
                "normal_p99_ms": ms(p99(self.latencies)), "normal_failures": self.failures[:5]}


# ---------------------------------------------------------------- the suite

class Suite:
    def __init__(self, binary, scale_name, workdir):
        self.binary, self.scale_name = binary, scale_name
        self.s = SCALES[scale_name]
        self.workdir = workdir
        self.results = []

    def data_dir(self, name):
        path = os.path.join(self.workdir, name)
        shutil.rmtree(path, ignore_errors=True)
        return path

    def record(self, number, name, checks, figures, note="", known=()):
        """checks: [(description, ok)]; known: [(description, ok)] checks of a known gap,
        reported (and listed in the JSON) but not judged. Prints the figures and the verdict."""
        ok = all(c for _, c in checks)
        status = "PASS" if ok else "FAIL"
        print(f"\n--- scenario {number}: {name} [{self.scale_name} scale] {status}")
        for k, v in figures.items():
            if k.endswith("series_kb"):
                continue
            print(f"    {k}: {v}")
        for desc, c in checks:
            print(f"    [{'ok' if c else 'FAILED'}] {desc}")
        for desc, c in known:
            print(f"    [{'ok' if c else 'KNOWN GAP, not judged'}] {desc}")
        if note:
            print(f"    note: {note}")
        sys.stdout.flush()
        self.results.append({"scenario": number, "name": name, "status": status,
                             "scale": self.scale_name, "checks": [{"check": d, "ok": bool(c)} for d, c in checks],
                             "known_gaps": [{"check": d, "ok": bool(c)} for d, c in known],
                             "figures": figures, "note": note})

    def skip(self, number, name, reason):
        print(f"\n--- scenario {number}: {name} SKIPPED: {reason}")
        self.results.append({"scenario": number, "name": name, "status": "SKIP", "note": reason})

    # ---- 5: oversize and endless input

    def scenario_5(self):
        s = self.s
        # A body is held up to --max-message-size before the rest is dropped, so that
        # limit bounds the memory an oversize message can take: 5 MB here.
        srv = Server(self.binary, self.data_dir("s5"), ["--max-message-size", "5000000"]).start()
        try:
            # Warm the server up (one session, one API call) without storing anything.
            c = greet(srv.smtp_port)
            c.cmd("QUIT")
            c.close()
            srv.total()
            time.sleep(0.3)
            sampler = Sampler(srv, 0.05)
            sampler.start()
            base = srv.rss()
            replies = {}

            # a. a 10 MB command line with no LF, then its end.
            c = greet(srv.smtp_port)
            chunk = b"A" * 65536
            sent = 0
            while sent < s["oversize_line"]:
                c.sock.sendall(chunk)
                sent += len(chunk)
            c.sock.sendall(b"\r\n")
            replies["10MB line without LF"] = c.reply()
            replies["after it, NOOP"] = c.cmd("NOOP")
            c.close()

            # b. one DATA "line" of oversize_data bytes.
            c = greet(srv.smtp_port)
            c.cmd("MAIL FROM:<big@oversize.test>")
            c.cmd("RCPT TO:<rcpt@oversize.test>")
            c.cmd("DATA")
            chunk = b"B" * 262144
            sent = 0
            while sent < s["oversize_data"]:
                c.sock.sendall(chunk)
                sent += len(chunk)
            c.sock.sendall(b"\r\n.\r\n")
            replies[f"{s['oversize_data'] // 1_000_000} MB DATA line"] = c.reply()
            c.close()

            # c. BDAT 4294967295 LAST: refused before its bytes come; send some anyway.
            c = greet(srv.smtp_port)
            c.cmd("MAIL FROM:<bdat@oversize.test>")
            c.cmd("RCPT TO:<rcpt@oversize.test>")
            c.sock.sendall(b"BDAT 4294967295 LAST\r\n")
            c.sock.settimeout(5)
            try:
                replies["BDAT 4294967295 LAST"] = c.reply()
            except socket.timeout:
                replies["BDAT 4294967295 LAST"] = (None, "no reply within 5 s")
            try:
                for _ in range(80):  # 20 MB of the announced chunk
                    c.sock.sendall(chunk)
            except OSError:
                pass
            c.close()

            # d. a declared SIZE over the limit.
            c = greet(srv.smtp_port)
            replies["MAIL SIZE=over the limit"] = c.cmd("MAIL FROM:<size@oversize.test> SIZE=999999999")
            c.cmd("QUIT")
            c.close()

            time.sleep(0.5)
            fig = sampler.finish()
            stored = srv.total()
        finally:
            srv.stop()
        up_kb = (fig["rss_max_kb"] or 0) - (base or 0)
        figures = {"replies": {k: f"{v[0]} {v[1][:70]}" for k, v in replies.items()},
                   "rss_base_kb": base, "rss_max_kb": fig["rss_max_kb"], "rss_up_kb": up_kb,
                   "stored": stored, "api_p99_ms": fig["api_p99_ms"], "rss_series_kb": fig["rss_series_kb"]}
        code = {k: v[0] for k, v in replies.items()}
        checks = [
            ("10 MB line without LF answered 500", code["10MB line without LF"] == 500),
            ("the session goes on after it (NOOP 250)", code["after it, NOOP"] == 250),
            ("oversize DATA line answered 552", code[f"{s['oversize_data'] // 1_000_000} MB DATA line"] == 552),
            ("BDAT 4294967295 LAST answered 552 at once", code["BDAT 4294967295 LAST"] == 552),
            ("SIZE over the limit answered 552", code["MAIL SIZE=over the limit"] == 552),
            ("RSS up by less than 10 MB", up_kb < 10 * 1024),
            ("nothing stored", stored == 0),
        ]
        self.record(5, "oversize and endless input", checks, figures,
                    note="--max-message-size 5 MB: a body is held up to that limit, then dropped as it comes")

    # ---- 10: corrupt or foreign database at start

    def scenario_10(self):
        cases = {}

        def make_garbage(db):
            with open(db, "wb") as f:
                f.write(os.urandom(64 * 1024))

        def make_foreign(db):
            con = sqlite3.connect(db)
            con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            con.execute("INSERT INTO customers (name) VALUES ('someone else''s data')")
            con.commit()
            con.close()

        def make_newer(db):
            con = sqlite3.connect(db)
            con.execute("CREATE TABLE messages (seq INTEGER PRIMARY KEY)")
            con.execute("PRAGMA user_version = 9999")
            con.commit()
            con.close()

        def make_damaged(db):
            # A real Pigeonhole database with mail in it, then pages overwritten.
            d = os.path.dirname(db)
            srv = Server(self.binary, d).start()
            c = greet(srv.smtp_port)
            for i in range(50):
                c.send_mail("a@damaged.test", ["b@damaged.test"],
                            message(f"d{i}@damaged.test", "a@damaged.test", "b@damaged.test", f"s{i}", "x" * 2000))
            c.close()
            srv.stop()
            size = os.path.getsize(db)
            with open(db, "r+b") as f:
                # Keep the header (page 1) and ruin the pages after it.
                f.seek(4096)
                f.write(os.urandom(min(size - 4096, 64 * 1024)))

        def make_truncated(db):
            make_damaged_base = os.path.dirname(db)
            srv = Server(self.binary, make_damaged_base).start()
            c = greet(srv.smtp_port)
            c.send_mail("a@t.test", ["b@t.test"], message("t@t.test", "a@t.test", "b@t.test", "t"))
            c.close()
            srv.stop()
            with open(db, "r+b") as f:
                f.truncate(100)  # the header and nothing else

        for name, make in [("not SQLite (random bytes)", make_garbage), ("foreign SQLite database", make_foreign),
                           ("newer Pigeonhole schema", make_newer), ("damaged Pigeonhole database", make_damaged),
                           ("truncated Pigeonhole database", make_truncated)]:
            d = self.data_dir(f"s10-{len(cases)}")
            os.makedirs(d)
            db = os.path.join(d, "pigeonhole.db")
            make(db)
            for extra in ("pigeonhole.db-wal", "pigeonhole.db-shm"):
                p = os.path.join(d, extra)
                if os.path.exists(p):
                    os.remove(p)
            before = sha256(db)
            srv = Server(self.binary, d)
            try:
                srv.start(timeout=15)
                started = True
                # It started: is the mail API answering? Then stop it.
                time.sleep(0.5)
                srv.stop()
                code, text = 0, "(started)"
            except RuntimeError as e:
                started = False
                code = srv.proc.returncode
                text = str(e)
            after = sha256(db)
            lines = [l for l in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines() if "ERROR" in l or "error" in l.lower()]
            message_line = (lines[-1] if lines else text.splitlines()[-1] if text else "")[-300:]
            # The documented way to start fresh: move the file away (or point --data elsewhere).
            moved = db + ".moved-away"
            os.rename(db, moved)
            for extra in ("pigeonhole.db-wal", "pigeonhole.db-shm"):
                p = os.path.join(d, extra)
                if os.path.exists(p):
                    os.remove(p)
            fresh = Server(self.binary, d)
            try:
                fresh.start(timeout=15)
                fresh_ok = fresh.total() == 0
            except RuntimeError:
                fresh_ok = False
            finally:
                fresh.stop()
            cases[name] = {"started": started, "exit_code": code, "untouched": before == after,
                           "message": message_line, "fresh_start_after_moving_it": fresh_ok}
        checks = []
        for name, c in cases.items():
            clear = ("--data" in c["message"]) and len(c["message"]) > 0
            checks.append((f"{name}: refused with exit code != 0", (not c["started"]) and c["exit_code"] not in (0, None)))
            checks.append((f"{name}: one clear line naming the way out (--data / move it away)", clear))
            checks.append((f"{name}: file untouched (sha256 before = after)", c["untouched"]))
            checks.append((f"{name}: starts fresh once the file is moved away", c["fresh_start_after_moving_it"]))
        self.record(10, "corrupt or foreign database at start", checks, {"cases": cases})

    # ---- 3: connection cap

    def scenario_3(self):
        s = self.s
        cap, attempts = s["cap"], s["cap_attempts"]
        srv = Server(self.binary, self.data_dir("s3"), ["--max-connections", str(cap)]).start()
        holders, results, lock = [], [], threading.Lock()
        try:
            sampler = Sampler(srv)
            sampler.start()
            # Holders inside a transaction: an idle one outside it would be evicted
            # for a new connection (scenario 11), and the cap is what is tested here.
            for _ in range(cap):
                c = greet(srv.smtp_port, timeout=10)
                c.cmd("MAIL FROM:<holder@cap.test>")
                holders.append(c)
            time.sleep(0.2)

            def attempt(n):
                for _ in range(n):
                    t = time.perf_counter()
                    try:
                        sock = socket.create_connection((HOST, srv.smtp_port), timeout=5)
                        data = b""
                        while True:
                            chunk = sock.recv(4096)
                            if not chunk:
                                break
                            data += chunk
                        sock.close()
                        closed_in = time.perf_counter() - t
                        with lock:
                            results.append((data[:3].decode(errors="replace"), closed_in))
                    except OSError as e:
                        with lock:
                            results.append((type(e).__name__, time.perf_counter() - t))

            threads = [threading.Thread(target=attempt, args=(attempts // 20,)) for _ in range(20)]
            t0 = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.time() - t0
            fig = sampler.finish()
            for c in holders:
                c.close()
            holders = []
            time.sleep(0.5)
            # Once the holders are gone, a normal client is served again.
            c = greet(srv.smtp_port)
            code, _ = c.send_mail("a@cap.test", ["b@cap.test"], message("cap@cap.test", "a@cap.test", "b@cap.test", "after"))
            c.close()
            log = open(srv.log_path, errors="replace").read()
        finally:
            for c in holders:
                c.close()
            srv.stop()
        codes = {}
        for c, _ in results:
            codes[c] = codes.get(c, 0) + 1
        close_times = [t for c, t in results if c == "421"]
        figures = {"cap": cap, "attempts": len(results), "seconds": round(elapsed, 1),
                   "replies": codes, "close_p99_ms": ms(p99(close_times)),
                   "close_max_ms": ms(max(close_times) if close_times else None),
                   "server_max_fds": fig["max_fds"], "api_p99_ms": fig["api_p99_ms"],
                   "api_errors": fig["api_errors"], "rss_max_kb": fig["rss_max_kb"],
                   "normal_client_after": code, "rss_series_kb": fig["rss_series_kb"]}
        checks = [
            ("every attempt beyond the cap got 421", codes.get("421", 0) == len(results)),
            ("each was closed within 1 s", bool(close_times) and max(close_times) < 1.0),
            ("file descriptors never ran out (no accept failure logged)", "accept failed" not in log),
            ("API responsive (p99 < 150 ms, no errors)", fig["api_p99_ms"] is not None and fig["api_p99_ms"] < 150 and fig["api_errors"] == 0),
            ("normal client served once the holders left", code == 250),
        ]
        self.record(3, "connection cap", checks, figures)

    # ---- 2: idle sockets (slowloris)

    def scenario_2(self):
        s = self.s
        n, interval, limit = s["slowloris_sockets"], s["slowloris_interval"], s["slowloris_timeout"]
        srv = Server(self.binary, self.data_dir("s2"),
                     ["--command-timeout", str(limit), "--max-connections", str(n + 100)]).start()
        socks, closed_at, lock = [], {}, threading.Lock()
        try:
            # Baseline with one session run, then open the idle sockets.
            c = greet(srv.smtp_port)
            c.cmd("QUIT")
            c.close()
            time.sleep(0.3)
            base = srv.rss()
            t0 = time.time()
            for i in range(n):
                sock = socket.create_connection((HOST, srv.smtp_port), timeout=10)
                sock.setblocking(False)
                socks.append(sock)
            time.sleep(1.0)
            with_idle = srv.rss()
            per_socket = (with_idle - base) * 1024 / n
            sampler = Sampler(srv)
            sampler.start()
            normal = NormalClient(srv, 0.2, "s2")
            normal.start()
            # A byte every `interval` s on each socket (a command line that never ends),
            # until each is closed or 4 × the command timeout passes.
            deadline = t0 + 4 * limit + interval
            while time.time() < deadline and len(closed_at) < n:
                for i, sock in enumerate(socks):
                    if i in closed_at:
                        continue
                    try:
                        while True:
                            data = sock.recv(65536)
                            if not data:
                                closed_at[i] = time.time() - t0
                                break
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed_at[i] = time.time() - t0
                        continue
                    if i not in closed_at:
                        try:
                            sock.send(b"N")
                        except BlockingIOError:
                            pass
                        except OSError:
                            closed_at[i] = time.time() - t0
                time.sleep(interval)
            fig = sampler.finish()
            nfig = normal.finish()
        finally:
            for sock in socks:
                sock.close()
            srv.stop()
        figures = {"idle_sockets": n, "byte_every_s": interval, "command_timeout_s": limit,
                   "closed": len(closed_at), "closed_by_s_max": round(max(closed_at.values()), 1) if closed_at else None,
                   "memory_per_idle_socket_bytes": round(per_socket), "rss_base_kb": base, "rss_with_idle_kb": with_idle,
                   "api_p99_ms": fig["api_p99_ms"], **nfig, "rss_series_kb": fig["rss_series_kb"]}
        checks = [
            (f"every trickling socket closed within 4 × the command timeout ({4 * limit} s)", len(closed_at) == n),
            ("normal client's delivery p99 < 500 ms, none failed",
             nfig["normal_p99_ms"] is not None and nfig["normal_p99_ms"] < 500 and nfig["normal_failed"] == 0),
            ("under 10 KB of memory per idle socket", per_socket < 10 * 1024),
        ]
        self.record(2, "idle sockets (slowloris)", checks, figures,
                    note="" if self.scale_name == "full" else
                    "reduced scale: fewer sockets, a byte every 2 s against a 5 s command timeout")

    # ---- 11: sockets held open, with the default options

    def scenario_11(self):
        """N sockets each trickle one byte every 10 s (a slowloris, or an application
        leaking its connection pool; each reconnects on its next tick once closed)
        against the DEFAULT options, while a normal client (smtplib) sends 20 messages."""
        import smtplib
        s = self.s
        n, every, interval = s["held_sockets"], s["held_normal_every_s"], 10.0
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 500:
            return self.skip(11, "sockets held open (defaults)", f"open-file limit {soft} < {n + 500}")
        srv = Server(self.binary, self.data_dir("s11"), []).start()
        socks = {}  # index -> [socket or None, next byte at, bytes received]
        endings = {"220 greeted": 0, "421 4.7.0 (cap: evicted or refused)": 0, "421 4.4.2 (timed out)": 0, "other": 0}
        stop = threading.Event()

        def open_socket(i, now):
            try:
                sock = socket.create_connection((HOST, srv.smtp_port), timeout=10)
                sock.setblocking(False)
                socks[i] = [sock, now + random.uniform(0, interval), b""]
            except OSError:
                socks[i] = [None, now + interval, b""]

        def note(data):
            if data.startswith(b"220"):
                endings["220 greeted"] += 1
                data = data.split(b"\r\n", 1)[1] if b"\r\n" in data else b""
            if data.startswith(b"421 4.7.0"):
                endings["421 4.7.0 (cap: evicted or refused)"] += 1
            elif data.startswith(b"421 4.4.2"):
                endings["421 4.4.2 (timed out)"] += 1
            elif data:
                endings["other"] += 1

        def trickle():
            while not stop.is_set():
                now = time.time()
                for i, entry in socks.items():
                    sock, at, seen = entry
                    if sock is None:
                        if now >= at:
                            open_socket(i, now)
                        continue
                    try:
                        while True:
                            data = sock.recv(4096)
                            if not data:
                                raise ConnectionResetError
                            entry[2] = seen = seen + data
                    except BlockingIOError:
                        pass
                    except OSError:
                        note(seen)
                        sock.close()
                        entry[0], entry[2] = None, b""  # reconnects on its next tick
                        continue
                    if now >= at:
                        try:
                            sock.send(b"N")
                        except OSError:
                            pass
                        entry[1] = at + interval
                stop.wait(0.5)

        latencies, codes = [], []
        try:
            t0 = time.time()
            for i in range(n):
                open_socket(i, t0)
            opened_in = time.time() - t0
            sampler = Sampler(srv)
            sampler.start()
            trickler = threading.Thread(target=trickle, daemon=True)
            trickler.start()
            for k in range(20):
                t = time.perf_counter()
                try:
                    with smtplib.SMTP(HOST, srv.smtp_port, timeout=10) as client:
                        client.ehlo("normal.test")
                        refused = client.sendmail("dev@held.test", ["qa@held.test"],
                                                  message(f"held-{k}@held.test", "dev@held.test", "qa@held.test", "held"))
                        codes.append(250 if not refused else 550)
                    latencies.append(time.perf_counter() - t)
                except (smtplib.SMTPException, OSError) as e:
                    codes.append(getattr(e, "smtp_code", None) or type(e).__name__)
                time.sleep(every)
            fig = sampler.finish()
            stop.set()
            trickler.join()
            log = open(srv.log_path, errors="replace").read()
        finally:
            stop.set()
            for entry in socks.values():
                if entry[0] is not None:
                    entry[0].close()
            srv.stop()
        served = sum(c == 250 for c in codes)
        figures = {"held_sockets": n, "byte_every_s": interval, "opened_in_s": round(opened_in, 1),
                   "server_max_fds": fig["max_fds"], "socket_endings": endings,
                   "normal_served": served, "normal_replies": codes,
                   "normal_p99_ms": ms(p99(latencies)), "normal_max_ms": ms(max(latencies) if latencies else None),
                   "api_p99_ms": fig["api_p99_ms"], "rss_max_kb": fig["rss_max_kb"],
                   "rss_series_kb": fig["rss_series_kb"]}
        checks = [
            # Past half the default cap (4,096) the listener is under stress.
            ("the held sockets put the listener under stress (> 2,048 sockets open in the server)",
             fig["max_fds"] > 2048),
            ("every message of the normal client answered 250 (20 of 20)", served == 20),
            ("each within 2 s (connect to QUIT)", bool(latencies) and max(latencies) < 2.0),
            ("file descriptors never ran out (no accept failure logged)", "accept failed" not in log),
        ]
        self.record(11, "sockets held open, default options", checks, figures,
                    note="" if self.scale_name == "full" else
                    "reduced scale: 3,000 sockets, past half the cap (stress timeouts; eviction at the cap "
                    "is the full scale's and tests/protocol.rs's), a message every 0.5 s")

    # ---- 1: flood, high cardinality

    def flood(self, port, total, recipients, connections, acked, lock, on_half=None, stop=None, tag="f"):
        """Send `total` messages over `connections` threads; acked: list of Message-IDs answered 250."""
        counter = iter(range(total))
        codes = {}
        half_done = threading.Event()

        def worker():
            c = None
            while stop is None or not stop.is_set():
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                mid = f"{tag}{i}-{random.getrandbits(40)}@flood.test"
                sender = f"user@s{i}-{random.getrandbits(24)}.senders.test"
                rcpt = f"r{random.randrange(recipients)}@inbox{random.randrange(recipients)}.test"
                try:
                    if c is None:
                        c = greet(port, timeout=30)
                    code, _ = c.send_mail(sender, [rcpt], message(mid, sender, rcpt, f"flood {i}", f"body {i} word{i}"))
                except (OSError, RuntimeError, ValueError):
                    code = "error"
                    if c:
                        c.close()
                    c = None
                with lock:
                    codes[code] = codes.get(code, 0) + 1
                    if code == 250:
                        acked.append(mid)
                        if on_half and len(acked) == total // 2:
                            on_half()
                if code == 421 and c:
                    c.close()
                    c = None
            if c:
                try:
                    c.cmd("QUIT")
                except OSError:
                    pass
                c.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return codes

    def scenario_1(self):
        s = self.s
        total = s["flood_messages"]
        srv = Server(self.binary, self.data_dir("s1"), ["--max-messages", str(total * 2),
                                                       "--max-connections", str(s["flood_connections"] + 50)]).start()
        acked, lock, half = [], threading.Lock(), {}
        try:
            ws = EventCounter(srv)
            ws.start()
            sampler = Sampler(srv, 0.2)
            sampler.start()
            normal = NormalClient(srv, 0.5, "s1")
            normal.start()
            t0 = time.time()
            codes = self.flood(srv.smtp_port, total, s["flood_recipients"], s["flood_connections"], acked, lock,
                               on_half=lambda: half.setdefault("rss", srv.rss()))
            elapsed = time.time() - t0
            end_rss = srv.rss()
            fig = sampler.finish()
            nfig = normal.finish()
            time.sleep(1.5)  # the stream's last coalescing interval
            frames = ws.finish()
            last_stats = ws.last_stats
            stored_ids = srv.message_ids()
            stored = srv.total()
            # At a normal rate every message still gets its own `new` (Mailpit's clients
            # wait for them): 40 messages at 10 a second, one connection, on a fresh stream.
            time.sleep(3)
            slow_ws = EventCounter(srv)
            slow_ws.start()
            time.sleep(0.5)
            slow_ids = []
            c = greet(srv.smtp_port)
            for i in range(40):
                mid = f"slow{i}@rate.test"
                code, _ = c.send_mail("a@rate.test", ["b@rate.test"], message(mid, "a@rate.test", "b@rate.test", f"slow {i}"))
                if code == 250:
                    slow_ids.append(mid)
                time.sleep(0.1)
            c.close()
            time.sleep(1.0)
            slow = slow_ws.finish()
            slow_announced = sum(1 for m in slow_ids if m in slow_ws.new_ids)
        finally:
            srv.stop()
        missing = [m for m in acked if m not in stored_ids]
        growth = (end_rss - half["rss"]) / half["rss"] * 100 if half.get("rss") else None
        figures = {"messages": total, "connections": s["flood_connections"], "recipients": s["flood_recipients"],
                   "seconds": round(elapsed, 1), "rate_per_s": round(total / elapsed), "replies": codes,
                   "acknowledged": len(acked), "stored": stored, "missing": len(missing),
                   "rss_half_kb": half.get("rss"), "rss_end_kb": end_rss,
                   "rss_growth_second_half_pct": round(growth, 1) if growth is not None else None,
                   "api_p99_ms": fig["api_p99_ms"], "api_errors": fig["api_errors"],
                   "websocket_frames": frames, "last_stats_total": (last_stats or {}).get("Total"),
                   "slow_rate_sent": len(slow_ids), "slow_rate_new_frames": slow_announced, "slow_rate_frames": slow,
                   **nfig, "rss_series_kb": fig["rss_series_kb"]}
        api_limit = 150 if self.scale_name == "full" else 500
        checks = [
            ("every acknowledged message stored", not missing and stored >= len(acked)),
            ("RSS grows under 10% between the half and the end", growth is not None and growth < 10),
            (f"GET /api/v1/messages p99 < {api_limit} ms", fig["api_p99_ms"] is not None and fig["api_p99_ms"] < api_limit),
            ("normal client served (none failed)", nfig["normal_failed"] == 0 and nfig["normal_delivered"] > 0),
            # A flood is coalesced: `new` frames up to the stream's rate, the rest as one
            # `stats` + `burst` (reload) per interval, so the UI is not stormed.
            ("WebSocket events coalesce in a flood (frames < 5% of the messages, `burst` frames sent)",
             frames["frames"] is not None and frames["frames"] < len(acked) * 0.05 and frames["types"].get("burst", 0) > 0),
            ("after the flood the stream's last `stats` has the stored total",
             last_stats is not None and last_stats.get("Total") == stored),
            ("at a normal rate (10/s) every message gets its own `new` frame",
             len(slow_ids) == 40 and slow_announced == 40 and slow["types"].get("burst", 0) == 0),
        ]
        self.record(1, "flood, high cardinality", checks, figures,
                    note="" if self.scale_name == "full" else "reduced scale: API p99 criterion 500 ms (debug build, 2 shared cores)")

    # ---- 6: crash during a flood

    def scenario_6(self):
        s = self.s
        d = self.data_dir("s6")
        srv = Server(self.binary, d, ["--max-messages", str(s["crash_messages"] * 2)]).start()
        smtp_port, http_port = srv.smtp_port, srv.http_port
        acked, lock, stop = [], threading.Lock(), threading.Event()
        result = {}

        def flood_until_done():
            sent = 0
            while not stop.is_set() and len(acked) < s["crash_messages"]:
                codes = self.flood(smtp_port, 200, 1000, 8, acked, lock, stop=stop, tag=f"c{sent}-")
                sent += 200
                for k, v in codes.items():
                    result[k] = result.get(k, 0) + v
                if codes.get(250, 0) == 0:
                    time.sleep(0.1)  # the server is down: wait for the restart

        flooder = threading.Thread(target=flood_until_done, daemon=True)
        flooder.start()
        kills = 0
        t0 = time.time()
        try:
            # The flood goes on (up to crash_messages) until the last kill and restart.
            interval = 1.5 if self.scale_name == "reduced" else 3.0
            while kills < s["crash_kills"] and time.time() - t0 < (60 if self.scale_name == "reduced" else 900):
                time.sleep(random.uniform(0.3, interval))
                srv.kill9()
                kills += 1
                srv = Server(self.binary, d, srv.args, smtp_port, http_port).start()
            time.sleep(0.5)  # some deliveries after the last restart
            stop.set()
            flooder.join(120)
            srv.stop()
            con = sqlite3.connect(os.path.join(d, "pigeonhole.db"))
            integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
            con.close()
            srv = Server(self.binary, d, srv.args, smtp_port, http_port).start()
            stored_ids = srv.message_ids()
        finally:
            stop.set()
            srv.stop()
        missing = [m for m in acked if m not in stored_ids]
        figures = {"kills": kills, "seconds": round(time.time() - t0, 1), "replies": {str(k): v for k, v in result.items()},
                   "not_acknowledged_attempts": sum(v for k, v in result.items() if k != 250),
                   "acknowledged": len(acked), "stored": len(stored_ids), "missing": len(missing),
                   "missing_examples": missing[:5], "integrity_check": integrity}
        checks = [
            (f"{s['crash_kills']} kill -9 done, each while deliveries were failing or going on",
             kills == s["crash_kills"] and figures["not_acknowledged_attempts"] > 0),
            ("PRAGMA integrity_check = ok", integrity == "ok"),
            ("no acknowledged message missing", not missing),
        ]
        self.record(6, "crash (kill -9 during a flood)", checks, figures)

    # ---- 9: retention under load

    def scenario_9(self):
        s = self.s
        cap, total = s["retention_cap"], s["retention_messages"]
        d = self.data_dir("s9")
        srv = Server(self.binary, d, ["--max-messages", str(cap)]).start()
        acked, lock = [], threading.Lock()
        sizes = {}

        def db_size():
            wal = os.path.join(d, "pigeonhole.db-wal")
            return os.path.getsize(os.path.join(d, "pigeonhole.db")), os.path.getsize(wal) if os.path.exists(wal) else 0

        try:
            sampler = Sampler(srv, 0.2)
            sampler.start()
            self.flood(srv.smtp_port, total // 2, 100, 10, acked, lock, tag="r1-")
            sizes["half"] = db_size()
            self.flood(srv.smtp_port, total - total // 2, 100, 10, acked, lock, tag="r2-")
            time.sleep(1.0)
            sizes["end"] = db_size()
            fig = sampler.finish()
            stored = srv.total()
            # FTS consistent: the newest message is found by a word only its body has;
            # the oldest (pruned) is not; a word every body has finds exactly the kept rows.
            def search(q):
                return srv.api("/api/v1/search?limit=1&query=" + urllib.request.quote(q))["messages_count"]
            page = srv.api("/api/v1/messages?limit=1")
            subj = page["messages"][0]["Subject"]  # "flood N"
            last_word = "word" + subj.split()[-1]
            found_newest = search(last_word)
            all_body = search("body")
        finally:
            srv.stop()
        con = sqlite3.connect(os.path.join(d, "pigeonhole.db"))
        rows = con.execute("SELECT count(*) FROM messages").fetchone()[0]
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.close()
        growth = (sizes["end"][0] - sizes["half"][0]) / sizes["half"][0] * 100
        wal_max = max(sizes["half"][1], sizes["end"][1])
        figures = {"messages_sent": total, "cap": cap, "acknowledged": len(acked), "api_total": stored, "rows": rows,
                   "db_bytes_half": sizes["half"][0], "db_bytes_end": sizes["end"][0], "db_growth_pct": round(growth, 1),
                   "wal_bytes_half": sizes["half"][1], "wal_bytes_end": sizes["end"][1],
                   "search_newest_word": found_newest, "search_common_word": all_body, "integrity_check": integrity,
                   "api_p99_ms": fig["api_p99_ms"], "rss_max_kb": fig["rss_max_kb"], "rss_series_kb": fig["rss_series_kb"]}
        checks = [
            ("row count capped", rows <= cap and stored <= cap),
            ("database file stable (grows < 10% over the second half)", growth < 10),
            ("WAL within its 64 MiB limit (+ one batch)", wal_max < 80 * 1024 * 1024),
            ("FTS finds the newest message", found_newest == 1),
            ("FTS holds exactly the kept rows (a word in every body)", all_body == stored),
            ("integrity_check ok", integrity == "ok"),
        ]
        self.record(9, "retention under load", checks, figures)

    # ---- 7: full disk

    def scenario_7(self):
        mnt = os.path.join(self.workdir, "s7-tmpfs")
        os.makedirs(mnt, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", mnt], capture_output=True, text=True)
        if r.returncode != 0:
            return self.skip(7, "full disk", f"cannot mount a tmpfs here ({r.stderr.strip() or 'mount failed'}): needs root")
        srv = None
        try:
            d = os.path.join(mnt, "data")
            srv = Server(self.binary, d)
            srv.log_path = os.path.join(self.workdir, "s7.log")
            srv.start()
            filler = os.path.join(mnt, "filler")
            # Fill all but ~3 MB, then deliver incompressible messages until refused.
            st = os.statvfs(mnt)
            free = st.f_bavail * st.f_frsize
            with open(filler, "wb") as f:
                f.write(os.urandom(max(0, free - 3 * 1024 * 1024)))
            acked, codes, refusal = [], {}, None
            c = greet(srv.smtp_port)
            for i in range(200):
                mid = f"disk{i}@full.test"
                body = "\r\n".join(os.urandom(57).hex() for _ in range(1500))  # ~170 KB, barely compressible
                try:
                    code, text = c.send_mail("a@full.test", ["b@full.test"], message(mid, "a@full.test", "b@full.test", f"disk {i}", body))
                except OSError:
                    code, text = "error", ""
                codes[code] = codes.get(code, 0) + 1
                if code == 250:
                    acked.append(mid)
                elif code is not None:
                    refusal = text
                    break
            # What the API says while the disk is full (the UI's banner reads it).
            info = srv.api("/api/v1/info")
            storage_full = srv.api("/api/v1/storage")
            stored_ids = srv.message_ids()
            # Space returns: the API says so by itself (the writer looks every second),
            # before any mail is sent; and delivery resumes.
            os.remove(filler)
            t_freed = time.time()
            storage_after = storage_full
            while time.time() - t_freed < 5:
                storage_after = srv.api("/api/v1/storage")
                if not storage_after.get("DiskFull"):
                    break
                time.sleep(0.1)
            cleared_s = round(time.time() - t_freed, 1)
            try:
                c.cmd("RSET")
                code_after, _ = c.send_mail("a@full.test", ["b@full.test"], message("after@full.test", "a@full.test", "b@full.test", "after", "space is back"))
            except OSError:
                c = greet(srv.smtp_port)
                code_after, _ = c.send_mail("a@full.test", ["b@full.test"], message("after@full.test", "a@full.test", "b@full.test", "after", "space is back"))
            c.close()
            # Stored mail undamaged: every acknowledged message is readable in full.
            undamaged = 0
            page = srv.api("/api/v1/messages?limit=1000")
            for m in page["messages"]:
                if m["MessageID"].startswith("disk"):
                    with urllib.request.urlopen(f"http://{HOST}:{srv.http_port}/api/v1/message/{m['ID']}/raw", timeout=30) as r:
                        if len(r.read()) > 100_000:
                            undamaged += 1
            srv.stop()
            con = sqlite3.connect(os.path.join(d, "pigeonhole.db"))
            integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
            con.close()
        finally:
            if srv:
                srv.stop()
            subprocess.run(["umount", mnt])
        figures = {"replies": {str(k): v for k, v in codes.items()}, "refusal": (refusal or "")[:80],
                   "acknowledged_before_full": len(acked), "stored": len(stored_ids & set(acked)),
                   "readable_in_full": undamaged, "after_space_returned": code_after, "integrity_check": integrity,
                   "info_while_full": {k: info.get(k) for k in ("Messages", "DatabaseSize")},
                   "storage_while_full": storage_full, "storage_after_freeing": storage_after,
                   "disk_full_cleared_after_s": cleared_s}
        checks = [
            ("a full disk is answered 452 4.3.1", (refusal or "").startswith("452") and "4.3.1" in (refusal or "")),
            ("every acknowledged message stored and readable in full", len(stored_ids & set(acked)) == len(acked) == undamaged),
            ("integrity_check ok", integrity == "ok"),
            ("delivery resumes once space returns (250)", code_after == 250),
            ("GET /api/v1/storage says the disk is full (what the UI's banner shows), naming the data folder",
             storage_full.get("DiskFull") is True and storage_full.get("DataDir") == d),
            ("... and no longer once space is freed, before any mail is sent (within 5 s)",
             storage_after.get("DiskFull") is False),
        ]
        self.record(7, "full disk", checks, figures, note="tmpfs of 20 MB filled to ~3 MB free with a file; "
                    "the UI's banner itself: ui/tests/diskfull.test.mjs")


def _scenario_8(self):
    """Slow disk / writer behind: another connection holds the database's write lock
    for a few seconds (under the writer's 5 s busy timeout) while many connections
    deliver large messages at once: the queue's byte budget (256 MiB) fills and SMTP
    answers 451 instead of holding more in memory; once the lock goes, delivery goes on."""
    s = self.s
    n, size = s["writer_connections"], s["writer_message_bytes"]
    d = self.data_dir("s8")
    srv = Server(self.binary, d, ["--max-connections", str(n + 50), "--max-message-size", str(size * 2)]).start()
    acked, codes, lock = [], {}, threading.Lock()
    try:
        c = greet(srv.smtp_port)
        c.send_mail("a@w.test", ["b@w.test"], message("warm@w.test", "a@w.test", "b@w.test", "warm"))
        c.close()
        time.sleep(0.5)
        base = srv.rss()
        sampler = Sampler(srv, 0.1)
        sampler.start()
        db = sqlite3.connect(os.path.join(d, "pigeonhole.db"), timeout=5, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        locked_at = time.time()
        body = "\r\n".join(("x" * 76 + str(i))[-76:] for i in range(size // 78))
        ready = threading.Barrier(n + 1)

        def sender(i):
            try:
                c = greet(srv.smtp_port, timeout=60)
            except (OSError, RuntimeError):
                ready.wait()
                return
            ready.wait()
            for k in range(2):
                mid = f"w{i}-{k}@writer.test"
                try:
                    code, _ = c.send_mail("a@writer.test", ["b@writer.test"], message(mid, "a@writer.test", "b@writer.test", f"big {i}", body))
                except OSError:
                    code = "error"
                with lock:
                    codes[code] = codes.get(code, 0) + 1
                    if code == 250:
                        acked.append(mid)
            c.close()

        threads = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        ready.wait()
        time.sleep(max(0, s["writer_lock_s"] - (time.time() - locked_at)))
        db.execute("COMMIT")
        db.close()
        for t in threads:
            t.join(300)
        fig = sampler.finish()
        time.sleep(0.5)
        stored_ids = srv.message_ids()
    finally:
        srv.stop()
    missing = [m for m in acked if m not in stored_ids]
    up_mb = round(((fig["rss_max_kb"] or 0) - base) / 1024, 1)
    bound_mb = 256 + 64 + n * 32 / 1024
    figures = {"connections": n, "message_bytes": size, "lock_held_s": s["writer_lock_s"],
               "replies": {str(k): v for k, v in codes.items()}, "acknowledged": len(acked), "missing": len(missing),
               "rss_base_kb": base, "rss_max_kb": fig["rss_max_kb"], "rss_up_mb": up_mb,
               "rss_bound_mb": round(bound_mb, 1),
               "api_p99_ms": fig["api_p99_ms"], "api_errors": fig["api_errors"], "rss_series_kb": fig["rss_series_kb"]}
    checks = [
        ("overload answered 451 (some refused, nothing but 250 and 451)", codes.get(451, 0) > 0 and set(codes) <= {250, 451}),
        ("every acknowledged message stored", not missing),
        ("delivery went on once the writer caught up (messages acknowledged)", len(acked) > 0),
        # One byte budget (256 MiB) covers every body, and the buffers of each session
        # receiving one, from its first byte to its commit; a session that cannot grow its
        # share is answered 451. What RSS may add beyond it: a fixed 64 MiB (the writer's
        # 16 MiB page cache, a large message's parse while prepared, one per core, the
        # allocator's slack) and 32 KB per connection (its task, session and transcript).
        (f"memory bounded by the byte budget (RSS up < 256 MiB + 64 MiB + 32 KB x {n} connections"
         f" = {bound_mb:.0f} MB)", up_mb < bound_mb),
    ]
    self.record(8, "slow disk / writer behind", checks, figures,
                note="the slow disk is simulated by another connection holding the write lock for a few seconds")


def _scenario_4(self):
    """Abusive client: bursts of bad commands (cut off at the error limit with 421) and
    a churn of connections from one address; a normal client is served meanwhile and
    no per-client state is left behind (RSS back near its start)."""
    s = self.s
    per_conn = 25  # more than the 20 bad commands a session may send
    bad_conns = s["abuse_bad_commands"] // per_conn
    srv = Server(self.binary, self.data_dir("s4"), ["--max-connections", "2000"]).start()
    outcomes, lock = {"cut_off": 0, "not_cut_off": 0, "error": 0}, threading.Lock()
    churn = {"greeted": 0, "error": 0}
    try:
        c = greet(srv.smtp_port)
        c.cmd("QUIT")
        c.close()
        time.sleep(0.3)
        base = srv.rss()
        sampler = Sampler(srv)
        sampler.start()
        normal = NormalClient(srv, 0.2, "s4")
        normal.start()
        t0 = time.time()

        def bad(count):
            for _ in range(count):
                try:
                    c = Smtp(srv.smtp_port, timeout=10)
                    c.reply()
                    c.sock.sendall(b"XYZZY nonsense\r\n" * per_conn)
                    last, replies = None, 0
                    while True:
                        code, _ = c.reply()
                        if code is None:
                            break
                        replies += 1
                        last = code
                    c.close()
                    key = "cut_off" if last == 421 and replies <= 21 else "not_cut_off"
                except OSError:
                    key = "error"
                with lock:
                    outcomes[key] += 1

        threads = [threading.Thread(target=bad, args=(bad_conns // 10,)) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        bad_seconds = time.time() - t0

        def churner(count):
            for _ in range(count):
                try:
                    sock = socket.create_connection((HOST, srv.smtp_port), timeout=10)
                    greeted = sock.recv(512).startswith(b"220")
                    # Reset rather than close: 100,000 closes a minute would leave this
                    # side's ports in TIME_WAIT.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    sock.close()
                    key = "greeted" if greeted else "error"
                except OSError:
                    key = "error"
                with lock:
                    churn[key] += 1

        t1 = time.time()
        threads = [threading.Thread(target=churner, args=(s["abuse_connections"] // 10,)) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        churn_seconds = time.time() - t1
        nfig = normal.finish()
        fig = sampler.finish()
        time.sleep(1.0)
        end = srv.rss()
    finally:
        srv.stop()
    figures = {"bad_commands": bad_conns * per_conn, "bad_connections": bad_conns, "bad_seconds": round(bad_seconds, 1),
               "outcomes": outcomes, "churn_connections": sum(churn.values()), "churn_seconds": round(churn_seconds, 1),
               "churn_per_minute": round(sum(churn.values()) / churn_seconds * 60), "churn": churn,
               "rss_base_kb": base, "rss_max_kb": fig["rss_max_kb"], "rss_end_kb": end,
               "api_p99_ms": fig["api_p99_ms"], **nfig, "rss_series_kb": fig["rss_series_kb"]}
    checks = [
        ("every abusive session cut off with 421 at the error limit", outcomes["cut_off"] == bad_conns),
        ("every churned connection greeted (none refused or reset)", churn["greeted"] == s["abuse_connections"]),
        ("no per-client state left (RSS after < start + 5 MB)", end - base < 5 * 1024),
        ("normal client unaffected (p99 < 500 ms, none failed)",
         nfig["normal_p99_ms"] is not None and nfig["normal_p99_ms"] < 500 and nfig["normal_failed"] == 0),
    ]
    self.record(4, "abusive client", checks, figures)


class DeadReceiver(threading.Thread):
    """A webhook receiver that accepts every connection, reads what comes and never
    answers: the worst a receiver can do without refusing (a refusal fails fast).
    Counts the connections accepted and the most open at once."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.accepted = self.max_open = 0
        self.stop_event = threading.Event()

    def run(self):
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        while not self.stop_event.is_set():
            for key, _ in sel.select(0.2):
                if key.fileobj is self.sock:
                    try:
                        conn, _ = self.sock.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ)
                    self.accepted += 1
                    self.max_open = max(self.max_open, len(sel.get_map()) - 1)
                    continue
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionError:
                    data = b""
                if not data:  # the client gave up (its timeout): forget the connection
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()

    def finish(self):
        self.stop_event.set()
        self.join()
        return {"accepted": self.accepted, "max_open": self.max_open}


def _scenario_12(self):
    """A webhook receiver that never answers: the same SMTP flood with no webhook and
    with `--webhook-url` pointing at a DeadReceiver (no rate limit: every message is
    offered at once), three of each. Ingest's rate must not drop and RSS must stay
    flat: the message queue is bounded, deliveries in flight are capped, the rest are
    dropped."""
    s = self.s
    total, connections = s["webhook_messages"], 20

    def run(name, args, settle=0):
        srv = Server(self.binary, self.data_dir(name), ["--max-messages", str(total * 2)] + args).start()
        acked, lock, half = [], threading.Lock(), {}
        try:
            sampler = Sampler(srv, 0.2)
            sampler.start()
            t0 = time.time()
            codes = self.flood(srv.smtp_port, total, 1000, connections, acked, lock,
                               on_half=lambda: half.setdefault("rss", srv.rss()), tag=name)
            elapsed = time.time() - t0
            end_rss = srv.rss()
            time.sleep(settle)  # past the first attempts' 10 s timeout: retries under way
            settled_rss = srv.rss()
            log = srv.api("/api/v1/webhooks/log?webhook=cli-1")
            fig = sampler.finish()
        finally:
            srv.stop()
        return {"rate_per_s": round(len(acked) / elapsed), "acknowledged": len(acked), "replies": codes,
                "rss_half_kb": half.get("rss"), "rss_end_kb": end_rss, "rss_settled_kb": settled_rss,
                "max_fds": fig["max_fds"], "log": log}

    # Interleaved, three of each, so a burst of load from elsewhere on the machine
    # hits both kinds alike. Each dead-receiver run is compared with the plain run
    # just before it (a shared machine drifts between pairs more than within one),
    # and the median of the three ratios is held to the bar.
    plains, hookeds, receivers = [], [], []
    for i in range(3):
        plains.append(run(f"s12-plain{i}", []))
        dead = DeadReceiver()
        dead.start()
        try:
            hookeds.append(run(f"s12-dead{i}", ["--webhook-url", f"http://{HOST}:{dead.port}/hook",
                                                "--webhook-limit", "0"], settle=12 if i == 0 else 0))
        finally:
            receivers.append(dead.finish())
    plain, hooked, receiver = plains[0], hookeds[0], receivers[0]
    plain_rates = [r["rate_per_s"] for r in plains]
    dead_rates = [r["rate_per_s"] for r in hookeds]
    paired = sorted(d / p for d, p in zip(dead_rates, plain_rates))
    noise = (max(plain_rates) - min(plain_rates)) / max(plain_rates)
    def growth_of(run):
        return (run["rss_end_kb"] - run["rss_half_kb"]) / run["rss_half_kb"] * 100

    # The flood itself grows RSS a little (SQLite's page cache, the allocator): the
    # plain runs' growth is the yardstick the dead receiver's run is held to.
    growth, plain_growth = growth_of(hooked), max(growth_of(r) for r in plains)
    settled = (hooked["rss_settled_kb"] - hooked["rss_end_kb"]) / hooked["rss_end_kb"] * 100
    over_plain = (hooked["rss_end_kb"] - plain["rss_end_kb"]) / plain["rss_end_kb"] * 100
    logged = hooked["log"]
    states, timeouts = {}, 0
    for d in logged:
        states[d["State"]] = states.get(d["State"], 0) + 1
        timeouts += sum(1 for a in d["Attempts"] if "no answer within" in (a.get("Error") or ""))
    figures = {"messages": total, "connections": connections,
               "rates_no_webhook_per_s": plain_rates, "rates_dead_webhook_per_s": dead_rates,
               "rate_ratios_dead_vs_plain_by_pair": [round(r, 2) for r in paired],
               "plain_runs_spread_pct": round(noise * 100, 1),
               "rss_no_webhook_end_kb": plain["rss_end_kb"], "rss_dead_half_kb": hooked["rss_half_kb"],
               "rss_dead_end_kb": hooked["rss_end_kb"], "rss_dead_settled_kb": hooked["rss_settled_kb"],
               "rss_dead_growth_second_half_pct": round(growth, 1),
               "rss_plain_growth_second_half_pct": round(plain_growth, 1),
               "rss_dead_over_plain_pct": round(over_plain, 1),
               "max_fds_plain": plain["max_fds"], "max_fds_dead": hooked["max_fds"],
               "receiver_connections_accepted": receiver["accepted"],
               "receiver_connections_max_open": receiver["max_open"], "log_entries": len(logged), "log_states": states,
               "attempts_timed_out": timeouts}
    checks = [
        ("every message acknowledged in each run", all(r["acknowledged"] == total for r in plains + hookeds)),
        ("ingest rate with the dead receiver within noise: the median of the runs' ratios to the plain run "
         "before each at least 0.85", paired[1] >= 0.85),
        ("RSS grows between the half and the end of the flood at most 5 points more than without a webhook",
         growth - plain_growth < 5),
        ("RSS does not grow while deliveries time out and are retried (12 s after the flood, under 5%)",
         settled < 5),
        ("RSS at the end within 15% of the run without a webhook", over_plain < 15),
        ("the delivery log is bounded (at most 1,000), nothing was delivered, attempts were cut by the timeout",
         0 < len(logged) <= 1000 and states.get("delivered", 0) == 0 and timeouts > 0),
        ("connections open to the receiver at once are bounded (at most 32, the worker's cap)",
         all(0 < r["max_open"] <= 32 for r in receivers)),
    ]
    self.record(12, "a webhook receiver that never answers", checks, figures,
                note="`--webhook-limit 0`; the default limit (5 a second) only makes the queue fill later")


Suite.scenario_8 = _scenario_8
Suite.scenario_4 = _scenario_4
Suite.scenario_12 = _scenario_12


class EventCounter(threading.Thread):
    """Counts the frames of the /api/events WebSocket (a minimal RFC 6455 client)."""

    def __init__(self, server, authorization=None):
        super().__init__(daemon=True)
        self.server, self.authorization = server, authorization
        self.frames, self.types = 0, {}
        self.new_ids, self.last_stats = set(), None  # MessageIDs announced one by one; the latest totals
        self.new_at = {}  # MessageID -> time.monotonic() of its event
        self.stop_event = threading.Event()
        self.error = None

    def run(self):
        import base64
        try:
            sock = socket.create_connection((HOST, self.server.http_port), timeout=10)
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET /api/events HTTP/1.1\r\nHost: {HOST}:{self.server.http_port}\r\n"
                          f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                          f"Sec-WebSocket-Version: 13\r\n"
                          + (f"Authorization: {self.authorization}\r\n" if self.authorization else "")
                          + "\r\n").encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(4096)
            head, buf = buf.split(b"\r\n\r\n", 1)
            if b" 101 " not in head.split(b"\r\n")[0]:
                raise RuntimeError(head[:100])
            sock.settimeout(0.2)
            while not self.stop_event.is_set():
                while len(buf) >= 2:
                    n = buf[1] & 0x7F
                    off = 2
                    if n == 126:
                        if len(buf) < 4:
                            break
                        n, off = int.from_bytes(buf[2:4], "big"), 4
                    elif n == 127:
                        if len(buf) < 10:
                            break
                        n, off = int.from_bytes(buf[2:10], "big"), 10
                    if len(buf) < off + n:
                        break
                    payload, buf = buf[off:off + n], buf[off + n:]
                    self.frames += 1
                    try:
                        event = json.loads(payload)
                        t = event.get("Type")
                        self.types[t] = self.types.get(t, 0) + 1
                        if t == "new":
                            self.new_ids.add(event["Data"].get("MessageID"))
                            self.new_at[event["Data"].get("MessageID")] = time.monotonic()
                        elif t == "stats":
                            self.last_stats = event["Data"]
                    except (ValueError, AttributeError, KeyError):
                        pass
                try:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                except socket.timeout:
                    pass
            sock.close()
        except (OSError, RuntimeError) as e:
            self.error = repr(e)

    def finish(self):
        self.stop_event.set()
        self.join(5)
        return {"frames": None if self.error else self.frames, "types": self.types, "error": self.error}


ORDER = [5, 10, 3, 2, 11, 1, 12, 6, 9, 7, 8, 4]


def command_line(doc, report_name, scale_variable, example):
    """The suites' shared command line: (args, scale, binary); binary is None, and
    that said, when there is no binary to run."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help=f"full scale (also {scale_variable}=full)")
    ap.add_argument("-k", help=f"only these scenarios, comma-separated (e.g. {example})")
    ap.add_argument("--report", default=os.path.join(ROOT, "artifacts", report_name))
    args = ap.parse_args()
    scale = "full" if args.full or os.environ.get(scale_variable) == "full" else "reduced"
    binary = os.environ.get("PIGEONHOLE_BIN") or os.path.join(ROOT, "target", "debug", "pigeonhole")
    if not os.access(binary, os.X_OK):
        print(f"no pigeonhole binary at {binary}: run `cargo build -p pigeonhole` or set PIGEONHOLE_BIN")
        print("0 passed, 1 failed")
        return args, scale, None
    return args, scale, binary


def main():
    args, scale, binary = command_line(__doc__, "resilience.json", "PIGEONHOLE_RESILIENCE", "5,10")
    if binary is None:
        return 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it too
    except (ValueError, OSError):
        pass
    wanted = [int(x) for x in args.k.split(",")] if args.k else ORDER
    workdir = tempfile.mkdtemp(prefix="pigeonhole-resilience.")
    suite = Suite(binary, scale, workdir)
    print(f"resilience suite: {scale} scale, binary {binary}, scenarios {wanted}")
    try:
        return run_scenarios(suite, wanted, args.report, scale, binary)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_scenarios(suite, wanted, report, scale, binary):
    """Run `suite`'s scenarios in the order `wanted`, write the JSON report, print
    the verdict line; 0 when none failed. (The team suite runs its own through it.)"""
    t0 = time.time()
    for n in wanted:
        ts = time.time()
        try:
            getattr(suite, f"scenario_{n}")()
        except Exception as e:  # a scenario that breaks is a failure, the others still run
            import traceback
            traceback.print_exc()
            suite.record(n, f"scenario {n}", [(f"ran to its end ({type(e).__name__}: {e})", False)], {})
        suite.results[-1]["seconds"] = round(time.time() - ts, 1)
    passed = sum(r["status"] == "PASS" for r in suite.results)
    failed = sum(r["status"] == "FAIL" for r in suite.results)
    skipped = sum(r["status"] == "SKIP" for r in suite.results)
    os.makedirs(os.path.dirname(report), exist_ok=True)
    with open(report, "w") as f:
        json.dump({"scale": scale, "binary": binary, "seconds": round(time.time() - t0, 1),
                   "passed": passed, "failed": failed, "skipped": skipped, "scenarios": suite.results}, f, indent=2)
    print(f"\nreport: {report} ({round(time.time() - t0)} s)")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
