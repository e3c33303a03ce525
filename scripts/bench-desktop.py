#!/usr/bin/env python3
"""The desktop app benchmark: size, cold start, idle memory.

    python3 scripts/bench-desktop.py [--messages 10000] [--runs 5] [--no-build]

Builds the release binaries (unless --no-build), seeds a temporary data folder with
N varied messages (`pigeonhole serve` on free ports, smtplib on 4 connections, until
the API counts N; SIGTERM), then measures `target/release/pigeonhole-desktop`:

* binary size: pigeonhole-desktop as built and stripped (`strip -o`), and pigeonhole;
* cold start, from just before the app is spawned: until an SMTP connection gets its
  220 greeting (a connect every 2 ms); until a window titled exactly "Pigeonhole" is
  mapped (`xdotool search --onlyvisible` every 10 ms); until the UI's script has
  connected its event stream (`/api/events`) and until the list request it used
  (`GET /api/v1/messages?start=0…`, the last one answered: the page's preload comes
  first) was answered, both from the engine's own request log (`tower_http=debug`)
  timed as it is written. "Cold" is the process: the page cache is warm;
* idle memory 10 s after that: VmRSS of the app process, and separately the sum over
  its child processes (WebKitWebProcess, WebKitNetworkProcess), with PSS beside them;
* a clean exit: SIGTERM, exit status 0 within 10 s, no child process left;
* as a baseline, the engine alone (`pigeonhole serve`) on the same data: SMTP 220
  after launch and idle VmRSS after the requests the UI makes.

Each run has its own Xvfb display, free ports, a temporary HOME (no real settings),
GSETTINGS_BACKEND=memory and a private D-Bus session bus (as on a desktop: the
single-instance check uses it; --no-dbus runs without one). A launch that fails
before SMTP is up is reported and run again (once per run asked for, at most).
Prints a table (median, min and max over the runs) and writes everything to
artifacts/bench-desktop.json, each run's log to artifacts/bench-desktop-logs/.
--data DIR keeps the seeded folder for the next invocation; --env NAME=VALUE passes
extra environment to the app, for experiments.

Python standard library only; needs Xvfb and xdotool (scripts/setup.sh installs them).
"""

import argparse
import datetime
import email.message
import email.utils
import json
import os
import platform
import random
import re
import select
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
DESKTOP = os.path.join(RELEASE, "pigeonhole-desktop")
ENGINE = os.path.join(RELEASE, "pigeonhole")
ARTIFACTS = os.path.join(ROOT, "artifacts")

TARGETS = {"window_s": 1.0, "smtp_s": 0.3, "app_rss_mb": 120.0}
IDLE_S = 10.0
SEEDED_MARKER = "bench-seeded.json"
LAUNCH_TIMEOUT_S = 60.0


def say(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def fail(message):
    print(f"bench-desktop: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def need(tool, hint):
    path = shutil.which(tool)
    if not path:
        fail(f"{tool} is not installed ({hint}; scripts/setup.sh installs it)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- build and sizes


def build():
    say("building release binaries: cargo build --release -p pigeonhole-desktop -p pigeonhole "
        "(about 10 minutes from scratch on 2 cores; cargo's progress follows)")
    started = time.monotonic()
    done = subprocess.run(["cargo", "build", "--release", "-p", "pigeonhole-desktop", "-p", "pigeonhole"], cwd=ROOT)
    if done.returncode != 0:
        fail("the release build failed")
    say(f"build done in {time.monotonic() - started:.0f} s")


def sizes():
    for path in (DESKTOP, ENGINE):
        if not os.path.exists(path):
            fail(f"{path} is missing: build it (drop --no-build)")
    with tempfile.TemporaryDirectory() as tmp:
        stripped = os.path.join(tmp, "pigeonhole-desktop")
        subprocess.run([need("strip", "apt-get install binutils"), "-o", stripped, DESKTOP], check=True)
        stripped_size = os.path.getsize(stripped)
    return {
        "desktop_bytes": os.path.getsize(DESKTOP),
        "desktop_stripped_bytes": stripped_size,
        "engine_bytes": os.path.getsize(ENGINE),
    }


# ---------------------------------------------------------------- seeding

WORDS = ("invoice order account password reset welcome newsletter report weekly summary shipping "
         "confirm meeting update receipt alert security token verify team project release notes "
         "customer support ticket payment reminder trial subscription billing export import").split()


def make_message(i):
    """Message `i`: a few KB of text (some with HTML), every 8th with an attachment."""
    rng = random.Random(i)
    msg = email.message.EmailMessage()
    user, domain = rng.choice(["noreply", "billing", "alerts", "team", "support"]), rng.choice(["shop", "app", "corp"])
    sender = f"{user}@{domain}.example"
    msg["From"] = email.utils.formataddr((rng.choice(["Shop", "App Alerts", "Billing", "Team"]), sender))
    msg["To"] = f"user{rng.randrange(50)}@example.test"
    if i % 5 == 0:
        msg["Cc"] = f"cc{rng.randrange(20)}@example.test"
    msg["Subject"] = f"#{i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize()
    msg["Date"] = email.utils.formatdate(time.time() - (10_000 - i) * 60, localtime=False)
    msg["Message-ID"] = f"<bench-{i}@pigeonhole.test>"
    paragraphs = []
    for _ in range(rng.randint(4, 24)):
        paragraphs.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(15, 40))).capitalize() + ".")
    if i % 7 == 0:
        paragraphs.append(f"Your code is {rng.randrange(100000, 999999)}. Visit https://app.example/verify?t={i}")
    text = "\n\n".join(paragraphs)
    msg.set_content(text)
    if i % 3 == 0:
        html = "".join(f"<p>{p}</p>" for p in paragraphs)
        msg.add_alternative(f"<html><body><h1>{msg['Subject']}</h1>{html}"
                            f"<a href=\"https://app.example/{i}\">Open</a></body></html>", subtype="html")
    if i % 8 == 0:
        payload = rng.randbytes(rng.randint(2_000, 30_000))
        kind = rng.choice([("application", "pdf", "pdf"), ("image", "png", "png"), ("text", "csv", "csv")])
        if kind[0] == "text":
            msg.add_attachment(payload.hex(), subtype=kind[1], filename=f"report-{i}.{kind[2]}")
        else:
            msg.add_attachment(payload, maintype=kind[0], subtype=kind[1], filename=f"file-{i}.{kind[2]}")
    return sender, [msg["To"]] + ([msg["Cc"]] if msg["Cc"] else []), msg.as_bytes()


def read_addresses(proc, deadline_s=30.0):
    """The `smtp listening on` / `http listening on` lines of an engine's stdout."""
    found = {}
    deadline = time.monotonic() + deadline_s
    while len(found) < 2:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            fail("the engine did not print its addresses within 30 s")
        line = proc.stdout.readline()
        if not line:
            fail(f"the engine exited ({proc.wait()}) before printing its addresses")
        m = re.match(r"(smtp|http) listening on (\S+)", line.decode(errors="replace"))
        if m:
            host, port = m.group(2).rsplit(":", 1)
            found[m.group(1)] = (host, int(port))
    return found


def api_total(http):
    with urllib.request.urlopen(f"http://{http[0]}:{http[1]}/api/v1/messages?limit=1", timeout=10) as r:
        return json.load(r)["total"]


def seed(data, count, connections=4):
    say(f"seeding {data} with {count} messages: pigeonhole serve on free ports, "
        f"{connections} parallel SMTP connections")
    proc = subprocess.Popen([ENGINE, "serve", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", data],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    try:
        addrs = read_addresses(proc)
        sent = [0]
        lock = threading.Lock()
        errors = []
        started = time.monotonic()

        def deliver(worker):
            try:
                smtp = smtplib.SMTP(*addrs["smtp"], timeout=60)
                for i in range(worker, count, connections):
                    sender, rcpts, raw = make_message(i)
                    smtp.sendmail(sender, rcpts, raw)
                    with lock:
                        sent[0] += 1
                        if sent[0] % 1000 == 0:
                            say(f"  {sent[0]}/{count} delivered ({sent[0] / (time.monotonic() - started):.0f}/s)")
                smtp.quit()
            except Exception as err:  # noqa: BLE001 (reported below)
                errors.append(f"connection {worker}: {err!r}")

        threads = [threading.Thread(target=deliver, args=(w,)) for w in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            fail("seeding failed: " + "; ".join(errors))
        say(f"  delivered {count} in {time.monotonic() - started:.1f} s; waiting for the API to count them")
        deadline = time.monotonic() + 60
        while (total := api_total(addrs["http"])) != count:
            if time.monotonic() > deadline:
                fail(f"the API counts {total} messages, not {count}")
            time.sleep(0.2)
        say(f"  GET /api/v1/messages?limit=1 reports total={total}; stopping the engine (SIGTERM)")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail("the seeding engine did not stop within 30 s of SIGTERM")
    if code != 0:
        fail(f"the seeding engine exited {code} on SIGTERM")
    size = database_bytes(data)
    say(f"  seeded: database {size / 1e6:.1f} MB")
    return size


def database_bytes(data):
    return sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data) if f.startswith("pigeonhole.db"))


# ---------------------------------------------------------------- the engine alone


def engine_baseline(seeded, work, runs):
    """`pigeonhole serve` on the same data: SMTP 220 after launch and idle VmRSS after
    the requests the UI makes, to tell the engine's share from the window's."""
    say(f"baseline: the engine alone (pigeonhole serve) on the same data, {runs} runs")
    results = []
    for n in range(1, runs + 1):
        data = os.path.join(work, f"engine-{n}")
        shutil.copytree(seeded, data)
        smtp_port, http_port = free_port(), free_port()
        t0 = time.monotonic()
        proc = subprocess.Popen([ENGINE, "serve", "--smtp", f"127.0.0.1:{smtp_port}", "--http",
                                 f"127.0.0.1:{http_port}", "--data", data],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            smtp_s = None
            while smtp_s is None and time.monotonic() - t0 < 30:
                try:
                    with socket.create_connection(("127.0.0.1", smtp_port), timeout=5) as s:
                        if s.recv(512).startswith(b"220"):
                            smtp_s = time.monotonic() - t0
                            s.sendall(b"QUIT\r\n")
                except OSError:
                    time.sleep(0.002)
            if smtp_s is None:
                fail("the engine alone did not greet on SMTP within 30 s")
            for path in ("/", "/api/v1/messages?start=0&limit=100", "/api/v1/inboxes", "/api/v1/webui",
                         "/api/v1/intake"):
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}{path}", timeout=10) as r:
                    r.read()
            time.sleep(2)
            mem = memory(proc.pid)
            results.append({"smtp_s": smtp_s, "rss_mb": mem["VmRSS"] / 1024, "anon_mb": mem["RssAnon"] / 1024})
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(data, ignore_errors=True)
    summary = {key: summarize(results, key) for key in ("smtp_s", "rss_mb", "anon_mb")}
    say(f"  engine alone: SMTP 220 after {summary['smtp_s']['median'] * 1000:.0f} ms (median), "
        f"VmRSS {summary['rss_mb']['median']:.1f} MB (anon {summary['anon_mb']['median']:.1f} MB)")
    return {"summary": summary, "runs": results}


# ---------------------------------------------------------------- one run


def start_xvfb():
    """An Xvfb display of our own. -noreset: an X server resets when its last client
    leaves, and a connection made during the reset fails; before the app connects,
    the xdotool polls are the only clients, so without it GTK sometimes could not open
    the display ("Failed to initialize GTK", about 1 launch in 15)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [need("Xvfb", "apt-get install xvfb"), "-displayfd", str(write_fd), "-screen", "0", "1400x900x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 20
    while not number.endswith(b"\n"):
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            proc.kill()
            fail("Xvfb did not report its display within 20 s")
        chunk = os.read(read_fd, 64)
        if not chunk:
            fail("Xvfb exited before reporting its display")
        number += chunk
    os.close(read_fd)
    return proc, ":" + number.decode().strip()


def start_dbus(env):
    """A private session bus; what it starts on demand (the accessibility bus) gets
    `env` too, so the temporary HOME."""
    daemon = shutil.which("dbus-daemon")
    if not daemon:
        return None, None
    proc = subprocess.Popen([daemon, "--session", "--nofork", "--nopidfile", "--print-address=1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    address = proc.stdout.readline().decode().strip()
    if not address:
        fail("dbus-daemon did not print its address")
    return proc, address


def descendants(pid):
    """PIDs of every process below `pid`."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def memory(pid):
    """VmRSS and its parts from /proc/PID/status, PSS and friends from smaps_rollup (kB)."""
    info = {}
    with open(f"/proc/{pid}/comm") as f:
        info["name"] = f.read().strip()
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM", "Threads"):
                info[key] = int(value.split()[0])
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Pss", "Pss_Anon", "Pss_File", "Private_Dirty", "Private_Clean", "Shared_Clean"):
                    info[key] = int(value.split()[0])
    except OSError:
        pass
    return info


class Watch:
    """Timestamps (seconds after `t0`) of the app's milestones, from four threads:
    SMTP polls, window polls, and the app's stderr and stdout (kept in `log_path`)."""

    LIST_REQUEST = re.compile(r"uri=/api/v1/(messages|search)\?[^ }]*start=0")

    def __init__(self, t0, proc, smtp_port, display, log_path):
        self.t0, self.proc, self.smtp_port, self.display = t0, proc, smtp_port, display
        self.times = {}
        self.list_done = []
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.log = open(log_path, "w")
        self.log_lock = threading.Lock()
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self.smtp, self.window, self.stderr,
                                                                          self.stdout)]
        for t in self.threads:
            t.start()

    def mark(self, name, at=None):
        with self.lock:
            self.times.setdefault(name, (at or time.monotonic()) - self.t0)

    def running(self):
        return not self.done.is_set() and self.proc.poll() is None

    def smtp(self):
        while self.running():
            try:
                with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=5) as s:
                    greeting = b""
                    while not greeting.endswith(b"\n"):
                        chunk = s.recv(512)
                        if not chunk:
                            break
                        greeting += chunk
                    if greeting.startswith(b"220"):
                        self.mark("smtp_s")
                        s.sendall(b"QUIT\r\n")
                        return
            except OSError:
                pass
            time.sleep(0.002)

    def window(self):
        xdotool = need("xdotool", "apt-get install xdotool")
        env = dict(os.environ, DISPLAY=self.display)
        while self.running():
            found = subprocess.run([xdotool, "search", "--onlyvisible", "--name", "^Pigeonhole$"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            if found.returncode == 0 and found.stdout.strip():
                self.mark("window_s")
                return
            time.sleep(0.01)

    def stderr(self):
        ansi = re.compile(r"\x1b\[[0-9;]*m")
        for raw in self.proc.stderr:
            now = time.monotonic()
            line = ansi.sub("", raw.decode(errors="replace"))
            with self.log_lock:
                self.log.write(f"+{now - self.t0:8.3f}s {line}")
            if "finished processing request" in line:
                if self.LIST_REQUEST.search(line):
                    # The first is the page's preload; the one the UI used is the
                    # last (taken after the idle time: no mail arrives meanwhile).
                    self.mark("list_first_s", now)
                    with self.lock:
                        self.list_done.append(now - self.t0)
                elif "uri=/api/events " in line:
                    self.mark("ui_events_s", now)

    def stdout(self):
        for raw in self.proc.stdout:
            now = time.monotonic()
            line = raw.decode(errors="replace")
            with self.log_lock:
                self.log.write(f"+{now - self.t0:8.3f}s [stdout] {line}")
            if line.startswith("smtp listening on"):
                self.mark("engine_bound_s", now)

    def wait_for(self, names, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(n in self.times for n in names):
                    return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.01)
        return False


def one_run(number, data, use_dbus, logs, extra_env, cache, idle_s=IDLE_S):
    """Launch the app once and measure it; `cache` is the XDG cache folder the runs
    share (Mesa's shader cache: warm after the first launch, as on a desktop)."""
    xvfb, display = start_xvfb()
    home = tempfile.mkdtemp(prefix="pigeonhole-bench-home-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIGEONHOLE_", "DBUS_", "XDG_", "WAYLAND"))}
    env.update(DISPLAY=display, HOME=home, XDG_CACHE_HOME=cache)
    dbus, bus = start_dbus(env) if use_dbus else (None, None)
    smtp_port, http_port = free_port(), free_port()
    env.update(GSETTINGS_BACKEND="memory", NO_COLOR="1",
               PIGEONHOLE_SMTP=f"127.0.0.1:{smtp_port}", PIGEONHOLE_HTTP=f"127.0.0.1:{http_port}",
               PIGEONHOLE_DATA=data, PIGEONHOLE_LOG="info,tower_http=debug")
    if bus:
        env["DBUS_SESSION_BUS_ADDRESS"] = bus
    env.update(extra_env)
    result = {"run": number}
    log_path = os.path.join(logs, f"run-{number}.log")
    proc = None
    try:
        # Let Xvfb settle so that its start-up is not charged to the app.
        time.sleep(0.5)
        t0 = time.monotonic()
        proc = subprocess.Popen([DESKTOP], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=home)
        watch = Watch(t0, proc, smtp_port, display, log_path)
        milestones = ["smtp_s", "window_s", "list_first_s", "ui_events_s"]
        ok = watch.wait_for(milestones, LAUNCH_TIMEOUT_S)
        result.update(watch.times)
        if not ok:
            missing = ", ".join(n for n in milestones if n not in watch.times)
            code = proc.poll()
            result["error"] = (f"the app exited ({code}) before {missing}" if code is not None
                               else f"not seen within {LAUNCH_TIMEOUT_S:.0f} s: {missing}")
            time.sleep(0.2)
            with watch.log_lock:
                watch.log.flush()
            with open(log_path) as f:
                result["log_tail"] = f.read()[-2000:]
            say(f"  run {number}: FAILED: {result['error']}; log: {log_path}")
            return result
        say(f"  run {number}: SMTP 220 at {watch.times['smtp_s'] * 1000:.0f} ms, window at "
            f"{watch.times['window_s'] * 1000:.0f} ms, UI connected its event stream at "
            f"{watch.times['ui_events_s'] * 1000:.0f} ms; "
            + (f"idling {idle_s:.0f} s before reading memory" if idle_s else "warm-up only: not counted"))
        if not idle_s:
            proc.send_signal(signal.SIGTERM)
            try:
                result["exit_code"] = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                result["error"] = "did not exit within 10 s of SIGTERM"
            return result
        time.sleep(idle_s)
        with watch.lock:
            result["list_s"] = watch.list_done[-1]
            result["list_requests"] = list(watch.list_done)
        app = memory(proc.pid)
        children = []
        for pid in descendants(proc.pid):
            try:
                children.append(dict(memory(pid), pid=pid))
            except OSError:
                pass
        result["app"] = app
        result["children"] = children
        result["app_rss_mb"] = app["VmRSS"] / 1024
        result["app_pss_mb"] = app.get("Pss", 0) / 1024
        result["children_rss_mb"] = sum(c["VmRSS"] for c in children) / 1024
        result["children_pss_mb"] = sum(c.get("Pss", 0) for c in children) / 1024
        result["total_pss_mb"] = result["app_pss_mb"] + result["children_pss_mb"]
        say(f"  run {number}: app VmRSS {result['app_rss_mb']:.1f} MB (anon {app.get('RssAnon', 0) / 1024:.1f}, "
            f"file {app.get('RssFile', 0) / 1024:.1f}), children VmRSS {result['children_rss_mb']:.1f} MB ("
            + ", ".join(f"{c['name']} {c['VmRSS'] / 1024:.0f}" for c in children) + "); SIGTERM")
        stopped = time.monotonic()
        children_pids = [c["pid"] for c in children]
        proc.send_signal(signal.SIGTERM)
        try:
            result["exit_code"] = proc.wait(timeout=10)
            result["exit_s"] = time.monotonic() - stopped
        except subprocess.TimeoutExpired:
            result["exit_code"] = None
            result["error"] = "did not exit within 10 s of SIGTERM"
        # The web processes go with the app.
        deadline = time.monotonic() + 5
        while (left := [p for p in children_pids if os.path.exists(f"/proc/{p}")]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if left:
            result["error"] = f"child processes left after the app exited: {left}"
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        say(f"  run {number}: exit {result['exit_code']} after {result.get('exit_s', 10) * 1000:.0f} ms")
        watch.done.set()
        return result
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        # The web processes belong to the app; anything left over goes with the display.
        for p in (dbus, xvfb):
            if p:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(home, ignore_errors=True)


# ---------------------------------------------------------------- report


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True).stdout.strip() != ""
    return {"nproc": os.cpu_count(), "cpu": model, "mem_gb": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "commit": commit + ("+dirty" if dirty else ""),
            "loadavg_1m_end": os.getloadavg()[0]}


def summarize(runs, key):
    values = [r[key] for r in runs if key in r]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages in the data folder (default 10000)")
    parser.add_argument("--runs", type=int, default=5, help="cold starts to measure (default 5)")
    parser.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    parser.add_argument("--no-dbus", action="store_true", help="no private D-Bus session bus for the app")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the app, for experiments (repeatable)")
    parser.add_argument("--data", metavar="DIR", help="keep the seeded data folder in DIR and reuse it next time "
                        "(seeded when empty; each run uses a copy)")
    args = parser.parse_args()
    extra_env = dict(kv.split("=", 1) for kv in args.env)

    need("Xvfb", "apt-get install xvfb")
    need("xdotool", "apt-get install xdotool")
    if not args.no_build:
        build()
    binary = sizes()
    say(f"sizes: pigeonhole-desktop {binary['desktop_bytes'] / 1e6:.1f} MB as built, "
        f"{binary['desktop_stripped_bytes'] / 1e6:.1f} MB stripped; pigeonhole {binary['engine_bytes'] / 1e6:.1f} MB")

    os.makedirs(ARTIFACTS, exist_ok=True)
    logs = os.path.join(ARTIFACTS, "bench-desktop-logs")
    os.makedirs(logs, exist_ok=True)
    work = tempfile.mkdtemp(prefix="pigeonhole-bench-")
    try:
        seeded = args.data or os.path.join(work, "seeded")
        marker = os.path.join(seeded, SEEDED_MARKER)
        if args.data and os.path.exists(marker) and json.load(open(marker)).get("messages") == args.messages:
            say(f"using the data folder {args.data} as seeded before ({args.messages} messages)")
            db_bytes = database_bytes(args.data)
        else:
            if args.data and os.path.exists(args.data) and os.listdir(args.data):
                fail(f"{args.data} is not empty and was not seeded with {args.messages} messages by this script")
            os.makedirs(seeded, exist_ok=True)
            db_bytes = seed(seeded, args.messages)
            with open(marker, "w") as f:
                json.dump({"messages": args.messages}, f)
        engine = engine_baseline(seeded, work, args.runs)
        runs = []
        cache = os.path.join(work, "cache")
        os.makedirs(cache)
        # One launch first, not counted: the binary's pages and Mesa's shader cache
        # are then as warm as on a desktop's second launch.
        say("warm-up launch (not counted)")
        data = os.path.join(work, "warm-up")
        shutil.copytree(seeded, data)
        warm_up = one_run(0, data, not args.no_dbus, logs, extra_env, cache, idle_s=0)
        shutil.rmtree(data, ignore_errors=True)
        if "smtp_s" not in warm_up:
            say(f"  the warm-up launch failed: {warm_up.get('error')}")
        load_before = os.getloadavg()[0]
        failed = []
        n = 0
        while len(runs) < args.runs:
            n += 1
            # Each run starts from the same seeded folder: a fresh copy (the app writes
            # to its folder: the lock, WAL), in the page cache as a real reopen would be.
            data = os.path.join(work, f"run-{n}")
            shutil.copytree(seeded, data)
            say(f"run {n} ({len(runs) + 1}/{args.runs}): Xvfb, "
                f"{'no D-Bus' if args.no_dbus else 'a private D-Bus'}, "
                f"launching pigeonhole-desktop on {args.messages} messages")
            result = one_run(n, data, not args.no_dbus, logs, extra_env, cache)
            shutil.rmtree(data, ignore_errors=True)
            # A launch that never got going (GTK could not open the fresh display,
            # say) is reported and run again, once per run asked for at most.
            if "smtp_s" not in result and len(failed) < args.runs:
                failed.append(result)
                say(f"  run {n} did not start; running it again (the failure is kept in the report)")
                continue
            runs.append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    good = [r for r in runs if "error" not in r]
    keys = [("smtp_s", "SMTP 220 after launch", "ms", 1000, TARGETS["smtp_s"]),
            ("window_s", "window visible", "ms", 1000, TARGETS["window_s"]),
            ("list_s", "UI's list request served", "ms", 1000, None),
            ("ui_events_s", "UI's event stream connected", "ms", 1000, None),
            ("engine_bound_s", "engine bound (listening line)", "ms", 1000, None),
            ("app_rss_mb", "idle VmRSS, app process", "MB", 1, TARGETS["app_rss_mb"]),
            ("children_rss_mb", "idle VmRSS, WebKit children (sum)", "MB", 1, None),
            ("app_pss_mb", "idle PSS, app process", "MB", 1, None),
            ("total_pss_mb", "idle PSS, app + children", "MB", 1, None),
            ("exit_s", "exit after SIGTERM", "ms", 1000, None)]
    summary = {}
    lines = [f"{'measure':36} {'median':>9} {'min':>9} {'max':>9}  target",
             f"{'-' * 36} {'-' * 9} {'-' * 9} {'-' * 9}  ------"]
    for key, label, unit, scale, target in keys:
        s = summarize(good, key)
        summary[key] = s
        if s is None:
            lines.append(f"{label:36} {'-':>9}")
            continue
        fmt = (lambda v: f"{v * scale:.0f} {unit}") if unit == "ms" else (lambda v: f"{v:.1f} {unit}")
        verdict = ""
        if target is not None:
            met = s["median"] < target
            verdict = (f"< {target * scale:.0f} {unit}: " if unit == "ms" else f"< {target:.0f} {unit}: ") + (
                "met" if met else "MISSED")
        lines.append(f"{label:36} {fmt(s['median']):>9} {fmt(s['min']):>9} {fmt(s['max']):>9}  {verdict}")
    exits = [r.get("exit_code") for r in runs]
    lines.append(f"{'clean exit (0) after SIGTERM':36} {sum(1 for c in exits if c == 0)}/{len(runs)} runs")
    if failed:
        lines.append(f"{'launches that failed and were re-run':36} {len(failed)}: "
                     + "; ".join(f["error"] for f in failed))
    lines.append("")
    lines.append(f"{'engine alone: SMTP 220 after launch':36} "
                 + " ".join(f"{engine['summary']['smtp_s'][k] * 1000:>6.0f} ms" for k in ("median", "min", "max")))
    lines.append(f"{'engine alone: idle VmRSS':36} "
                 + " ".join(f"{engine['summary']['rss_mb'][k]:>6.1f} MB" for k in ("median", "min", "max")))
    lines.append("")
    lines.append(f"pigeonhole-desktop: {binary['desktop_bytes'] / 1e6:.1f} MB as built, "
                 f"{binary['desktop_stripped_bytes'] / 1e6:.1f} MB stripped; "
                 f"pigeonhole (engine): {binary['engine_bytes'] / 1e6:.1f} MB")
    host = machine()
    host["loadavg_1m_start"] = load_before
    lines.append(f"{args.messages} messages" + (f" ({db_bytes / 1e6:.0f} MB database)" if db_bytes else "")
                 + f", {len(good)}/{len(runs)} runs ok; {host['nproc']} cores, {host['cpu']}, commit {host['commit']}; "
                 f"load average {load_before:.1f} before the runs, {host['loadavg_1m_end']:.1f} after")
    print()
    print("\n".join(lines), flush=True)

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": host,
        "messages": args.messages,
        "database_bytes": db_bytes,
        "dbus": not args.no_dbus,
        "extra_env": extra_env,
        "engine_alone": engine,
        "idle_s": IDLE_S,
        "targets": TARGETS,
        "sizes": binary,
        "summary": summary,
        "runs": runs,
        "failed_launches": failed,
        "warm_up": warm_up,
    }
    out = os.path.join(ARTIFACTS, "bench-desktop.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    say(f"wrote {out} (logs in {logs})")
    if len(good) != len(runs) or any(c != 0 for c in exits):
        sys.exit(1)


if __name__ == "__main__":
    main()
