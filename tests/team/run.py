#!/usr/bin/env python3
"""The team server's scenarios: three `pigeonhole serve` nodes on one PostgreSQL
database, behind HAProxy (TCP for SMTP, HTTP for the API), all on loopback.

Standard library only, beside Debian's `postgresql` and `haproxy` packages: the
suite makes its own PostgreSQL cluster (initdb and pg_ctl into a temp folder, a
loopback port, no system service; as the `postgres` user when run as root, since
initdb refuses root) and its own HAProxy, starts the nodes with
`--store postgres://…`, and tears everything down at the end. Each scenario
prints its figures and PASS/FAIL; the run ends with `N passed, N failed` and
writes a JSON report (artifacts/team.json).

    python3 tests/team/run.py              # reduced scale (CI)
    python3 tests/team/run.py --full       # full scale (or PIGEONHOLE_TEAM=full)
    python3 tests/team/run.py -k 1,4       # only scenarios 1 and 4

Scenarios: 1 a flood through the balancer (acknowledged == stored, exactly once;
any node answers for any message); 2 `kill -9` of a node mid-flood (every
acknowledged message present, the clients' retries through the balancer
succeed); 3 PostgreSQL stopped for 10 s mid-flood (451s meanwhile, nothing
acknowledged lost, recovery within 5 s of its return, RSS bounded); 4 the
latency from a message's 250 on one node to its event on another node's
WebSocket; 5 a user limited to one inbox cannot read another's mail through
any route, on any node.

The binary is target/debug/pigeonhole, or PIGEONHOLE_BIN.
"""

import base64
import glob
import hashlib
import importlib.util
import json
import os
import random
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# The resilience suite's parts (server process, raw SMTP client, WebSocket
# reader, reporting) serve here as they are.
_spec = importlib.util.spec_from_file_location("resilience", os.path.join(ROOT, "tests", "resilience", "run.py"))
resilience = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(resilience)
HOST = resilience.HOST

SCALES = {
    "reduced": {"nodes": 3, "flood_messages": 3000, "flood_connections": 12,
                "kill_messages": 3000, "outage_messages": 4000, "outage_s": 10,
                "latency_messages": 100},
    "full": {"nodes": 3, "flood_messages": 30000, "flood_connections": 60,
             "kill_messages": 20000, "outage_messages": 20000, "outage_s": 10,
             "latency_messages": 1000},
}

# How long a client keeps retrying one message (through the balancer) before it
# gives up on it; the outage scenario's database is away for 10 s of that.
RETRY_FOR_S = 60


# ---------------------------------------------------------------- the parts

class Postgres:
    """A PostgreSQL cluster of its own in `workdir`, on a loopback port."""

    def __init__(self, workdir):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                       key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
        if not found:
            raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: "
                               "install Debian's postgresql package (scripts/setup.sh does)")
        self.bindir = os.path.dirname(found[-1])
        self.dir = os.path.join(workdir, "postgres")
        self.data = os.path.join(self.dir, "data")
        self.port = resilience.free_port()
        os.makedirs(self.dir)
        # initdb refuses to run as root: the cluster is the postgres user's.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.run("initdb", "-A", "trust", "-U", "pigeonhole", "-E", "UTF8", "--no-sync", "-D", self.data)
        self.start()
        self.run("createdb", "-h", HOST, "-p", str(self.port), "-U", "pigeonhole", "pigeonhole")

    @property
    def url(self):
        return f"postgres://pigeonhole@{HOST}:{self.port}/pigeonhole"

    def run(self, tool, *args):
        result = subprocess.run(self.as_user + [os.path.join(self.bindir, tool), *args],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout

    def start(self):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses={HOST} -c max_connections=200"
        self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-o", options, "-w", "start")

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def sql(self, query):
        return self.run("psql", "-h", HOST, "-p", str(self.port), "-U", "pigeonhole", "-d", "pigeonhole",
                        "-At", "-c", query).strip()


class Haproxy:
    """HAProxy in front of the nodes: SMTP in TCP mode (a node that stops
    answering is taken out after one failed check), the API in HTTP mode
    (health from /readyz)."""

    def __init__(self, workdir, nodes):
        self.smtp_port, self.http_port = resilience.free_port(), resilience.free_port()
        self.config = os.path.join(workdir, "haproxy.cfg")
        smtp_servers = "\n".join(f"    server n{i} {HOST}:{n.smtp_port} check inter 300ms fall 1 rise 2"
                                 for i, n in enumerate(nodes, 1))
        http_servers = "\n".join(f"    server n{i} {HOST}:{n.http_port} check inter 300ms fall 1 rise 2"
                                 for i, n in enumerate(nodes, 1))
        with open(self.config, "w") as f:
            f.write(f"""global
    maxconn 4000
defaults
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch
frontend smtp
    mode tcp
    bind {HOST}:{self.smtp_port}
    default_backend smtp_nodes
backend smtp_nodes
    mode tcp
    balance roundrobin
    option tcp-check
    tcp-check expect string 220
{smtp_servers}
frontend http
    mode http
    bind {HOST}:{self.http_port}
    default_backend http_nodes
backend http_nodes
    mode http
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host {HOST}
    http-check expect status 200
{http_servers}
""")
        check = subprocess.run(["haproxy", "-c", "-q", "-f", self.config], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its configuration: {check.stderr.strip()}")
        self.log = open(os.path.join(workdir, "haproxy.log"), "ab")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                resilience.greet(self.smtp_port, timeout=2).close()
                api(self.http_port, "/readyz", timeout=2)
                return
            except (OSError, RuntimeError):
                time.sleep(0.1)
        raise RuntimeError("haproxy did not answer SMTP and /readyz within 10 s")

    def stop(self):
        resilience.terminate(self.proc, 10)
        self.log.close()


def api(port, path, auth=None, timeout=30):
    request = urllib.request.Request(f"http://{HOST}:{port}{path}")
    if auth:
        request.add_header("Authorization", auth)
    with urllib.request.urlopen(request, timeout=timeout) as r:
        body = r.read()
        return json.loads(body) if r.headers.get_content_type() == "application/json" else body


def stored_message_ids(port):
    """Every stored message's Message-ID (with repeats), a page at a time."""
    ids, start = [], 0
    while True:
        page = api(port, f"/api/v1/messages?limit=1000&start={start}")
        ids += [m["MessageID"] for m in page["messages"]]
        start += len(page["messages"])
        if not page["messages"] or start >= page["total"]:
            return ids


class Flood:
    """Messages sent through one SMTP port by several connections. A message not
    answered 250 (a 4xx, a dropped connection) is sent again, on a new
    connection, until it is or RETRY_FOR_S passes: what a real MTA does."""

    def __init__(self, port, total, connections, tag):
        self.port, self.total, self.connections, self.tag = port, total, connections, tag
        self.lock = threading.Lock()
        self.next = 0
        self.acked = {}  # Message-ID -> the store's ID from "queued as"
        self.codes = {}
        self.retried = 0
        self.given_up = 0
        self.first_250_after = {}  # a moment's name -> when the first 250 after it came
        self.marks = {}
        self.threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(connections)]

    def start(self):
        self.t0 = time.time()
        for t in self.threads:
            t.start()
        return self

    def mark(self, name):
        """Remember now, to time the first 250 after it."""
        with self.lock:
            self.marks[name] = time.time()

    def done_count(self):
        with self.lock:
            return len(self.acked)

    def join(self):
        for t in self.threads:
            t.join()
        self.seconds = time.time() - self.t0
        return self

    def worker(self):
        c = None
        while True:
            with self.lock:
                i, self.next = self.next, self.next + 1
            if i >= self.total:
                break
            mid = f"{self.tag}{i}-{random.getrandbits(40)}@team.test"
            rcpt = f"r{i % 7}@team.test"
            data = resilience.message(mid, "app@team.test", rcpt, f"{self.tag} {i}", f"body {i}")
            give_up_at = time.time() + RETRY_FOR_S
            attempts = 0
            while True:
                attempts += 1
                try:
                    if c is None:
                        c = resilience.greet(self.port, timeout=10)
                    code, text = c.send_mail("app@team.test", [rcpt], data)
                except (OSError, RuntimeError, ValueError):
                    code, text = "error", ""
                with self.lock:
                    self.codes[code] = self.codes.get(code, 0) + 1
                    if code == 250:
                        now = time.time()
                        for name, at in self.marks.items():
                            if name not in self.first_250_after and now > at:
                                self.first_250_after[name] = now
                        self.acked[mid] = text.rsplit(" ", 1)[-1]
                        self.retried += attempts > 1
                if code == 250:
                    break
                if c is not None and (code is None or code == "error" or code >= 421):
                    c.close()
                    c = None
                if time.time() > give_up_at:
                    with self.lock:
                        self.given_up += 1
                    break
                time.sleep(0.1)
        if c:
            try:
                c.cmd("QUIT")
            except OSError:
                pass
            c.close()


# ---------------------------------------------------------------- the suite

class TeamSuite(resilience.Suite):
    def __init__(self, binary, scale_name, workdir):
        super().__init__(binary, scale_name, workdir)
        self.s = SCALES[scale_name]
        self.pg = Postgres(workdir)
        self.nodes = [self.node(i) for i in range(1, self.s["nodes"] + 1)]
        self.balancer = Haproxy(workdir, self.nodes)

    def node(self, n, args=()):
        server = resilience.Server(self.binary, os.path.join(self.workdir, f"node{n}"),
                                   ["--store", self.pg.url, *args])
        return server.start(timeout=60)

    def restart(self, i, args=()):
        old = self.nodes[i]
        old.stop()
        self.nodes[i] = resilience.Server(self.binary, old.data, ["--store", self.pg.url, *args],
                                          smtp_port=old.smtp_port, http_port=old.http_port).start(timeout=60)

    def close(self):
        self.balancer.stop()
        for n in self.nodes:
            n.stop()
        self.pg.stop()

    def wipe(self):
        api_delete(self.balancer.http_port)

    def present(self, flood):
        """The flood's acknowledged messages as stored: (missing, duplicated)."""
        stored = stored_message_ids(self.balancer.http_port)
        counts = {}
        for mid in stored:
            counts[mid] = counts.get(mid, 0) + 1
        missing = [m for m in flood.acked if m not in counts]
        duplicated = [m for m, k in counts.items() if k > 1]
        return missing, duplicated, len(stored)

    # ---- 1: a flood through the balancer
    def scenario_1(self):
        self.wipe()
        flood = Flood(self.balancer.smtp_port, self.s["flood_messages"], self.s["flood_connections"], "f").start().join()
        missing, duplicated, stored = self.present(flood)
        # Any node answers for any message: a sample read back from each node directly.
        sample = random.sample(list(flood.acked.values()), min(20, len(flood.acked)))
        unreadable = 0
        for node in self.nodes:
            for sid in sample:
                try:
                    raw = api(node.http_port, f"/api/v1/message/{sid}/raw")
                    unreadable += not raw
                except (urllib.error.URLError, OSError):
                    unreadable += 1
        per_node = [api(n.http_port, "/api/v1/messages?limit=1")["total"] for n in self.nodes]
        self.record(1, "a flood through the balancer onto three nodes", [
            ("every message acknowledged (after retries)", len(flood.acked) == flood.total),
            ("every acknowledged message stored", not missing),
            ("nothing stored twice (acknowledged == stored, exactly once)", not duplicated and stored == len(flood.acked)),
            ("each node reads every sampled message", unreadable == 0),
            ("each node counts the same total", len(set(per_node)) == 1 and per_node[0] == stored),
        ], {"sent": flood.total, "acked": len(flood.acked), "stored": stored, "missing": len(missing),
            "duplicated": len(duplicated), "codes": flood.codes, "retried": flood.retried,
            "seconds": round(flood.seconds, 2), "msgs_per_s": round(len(flood.acked) / flood.seconds, 1),
            "totals_per_node": per_node})

    # ---- 2: kill -9 of a node mid-flood
    def scenario_2(self):
        self.wipe()
        flood = Flood(self.balancer.smtp_port, self.s["kill_messages"], self.s["flood_connections"], "k").start()
        while flood.done_count() < flood.total // 3:
            time.sleep(0.02)
        victim = self.nodes[1]
        flood.mark("kill")
        killed_at = time.time()
        victim.kill9()
        flood.join()
        missing, duplicated, stored = self.present(flood)
        first_after = flood.first_250_after.get("kill")
        # The node comes back on the same ports for the scenarios after this one.
        self.nodes[1] = resilience.Server(self.binary, victim.data, ["--store", self.pg.url],
                                          smtp_port=victim.smtp_port, http_port=victim.http_port).start(timeout=60)
        self.record(2, "kill -9 of a node mid-flood", [
            ("every message acknowledged (the retries through the balancer succeeded)", len(flood.acked) == flood.total),
            ("every acknowledged message stored", not missing),
        ], {"sent": flood.total, "acked": len(flood.acked), "stored": stored, "missing": len(missing),
            "stored_twice": len(duplicated), "codes": flood.codes, "retried": flood.retried,
            "first_250_after_kill_ms": resilience.ms(first_after - killed_at) if first_after else None,
            "seconds": round(flood.seconds, 2)},
            note="a message the node committed but was killed before answering 250 is sent again by its client "
                 "and stored twice; that is SMTP's at-least-once, counted above as stored_twice")

    # ---- 3: PostgreSQL stopped for 10 s mid-flood
    def scenario_3(self):
        self.wipe()
        outage = self.s["outage_s"]
        flood = Flood(self.balancer.smtp_port, self.s["outage_messages"], self.s["flood_connections"], "o").start()
        while flood.done_count() < flood.total // 4:
            time.sleep(0.02)
        rss_before = [resilience.rss_kb(n.pid) for n in self.nodes]
        self.pg.stop("fast")
        stopped_at = time.time()
        rss_max, not_ready, ready_checks = list(rss_before), 0, 0
        while time.time() - stopped_at < outage:
            for i, n in enumerate(self.nodes):
                rss_max[i] = max(rss_max[i], resilience.rss_kb(n.pid) or 0)
            for n in self.nodes:
                ready_checks += 1
                try:
                    api(n.http_port, "/readyz", timeout=3)
                except urllib.error.HTTPError as e:
                    not_ready += e.code == 503
                except OSError:
                    pass
            time.sleep(0.5)
        acked_during = flood.done_count()
        self.pg.start()
        flood.mark("return")
        returned_at = time.time()
        flood.join()
        missing, duplicated, stored = self.present(flood)
        recovered = flood.first_250_after.get("return")
        recovery_s = None if recovered is None else round(recovered - returned_at, 2)
        refused = sum(v for k, v in flood.codes.items() if isinstance(k, int) and 400 <= k < 500)
        self.record(3, f"PostgreSQL stopped for {outage} s mid-flood", [
            ("4xx answers while the database was away", refused > 0 and 451 in flood.codes),
            ("/readyz said not ready during the outage", not_ready > 0),
            ("every acknowledged message stored", not missing),
            ("every message acknowledged in the end (the clients' retries)", len(flood.acked) == flood.total),
            ("ingest resumed within 5 s of the database's return", recovery_s is not None and recovery_s <= 5),
            ("RSS bounded: no node grew by more than 100 MB during the outage",
             all(m - b < 100_000 for m, b in zip(rss_max, rss_before))),
        ], {"sent": flood.total, "acked": len(flood.acked), "acked_before_return": acked_during,
            "stored": stored, "missing": len(missing), "stored_twice": len(duplicated), "codes": flood.codes,
            "recovery_s": recovery_s, "not_ready_answers": f"{not_ready}/{ready_checks}",
            "rss_before_kb": rss_before, "rss_max_kb": rss_max, "seconds": round(flood.seconds, 2)})

    # ---- 4: cross-node event latency
    def scenario_4(self):
        self.wipe()
        sender_node, watcher_node = self.nodes[0], self.nodes[2]
        watcher = resilience.EventCounter(watcher_node)
        watcher.start()
        time.sleep(0.5)
        latencies, missed, missed_at = [], 0, []
        c = resilience.greet(sender_node.smtp_port)
        for i in range(self.s["latency_messages"]):
            # Paced below the WebSocket's announcing rate (past 50 at once, 20 a
            # second, new mail is coalesced into `burst` frames), so that every
            # message has its own `new` event to time.
            time.sleep(0.06)
            mid = f"lat{i}-{random.getrandbits(40)}@team.test"
            data = resilience.message(mid, "app@team.test", "r@team.test", f"latency {i}")
            code, _ = c.send_mail("app@team.test", ["r@team.test"], data)
            acked_at = time.monotonic()
            if code != 250:
                missed += 1
                continue
            deadline = acked_at + 2
            while mid not in watcher.new_at and time.monotonic() < deadline:
                time.sleep(0.001)
            if mid in watcher.new_at:
                latencies.append(max(0.0, watcher.new_at[mid] - acked_at))
            else:
                missed += 1
                missed_at.append(i)
        c.close()
        frames = watcher.finish()
        latencies.sort()
        pick = lambda q: resilience.ms(latencies[min(len(latencies) - 1, int(len(latencies) * q))]) if latencies else None
        buckets = [5, 10, 20, 50, 100, 200, 500, 2000]
        histogram = {f"<={b}ms": sum(1 for x in latencies if x * 1000 <= b) for b in buckets}
        self.record(4, "a message's 250 on node 1 to its event on node 3's WebSocket", [
            ("every message's event reached the other node", missed == 0 and frames["error"] is None),
            ("p99 within 200 ms", latencies and latencies[int(len(latencies) * 0.99) - 1] <= 0.2),
        ], {"messages": self.s["latency_messages"], "missed": missed, "p50_ms": pick(0.5), "p90_ms": pick(0.9),
            "p99_ms": pick(0.99), "max_ms": resilience.ms(latencies[-1]) if latencies else None,
            "cumulative_histogram": histogram, "missed_messages": missed_at[:10], "event_types": frames["types"],
            "ws_error": frames["error"]})


    # ---- 5: a user limited to one inbox, through every route, on every node
    def scenario_5(self):
        self.wipe()
        token = "ph_" + os.urandom(32).hex()
        users, tokens = os.path.join(self.workdir, "users"), os.path.join(self.workdir, "tokens")
        with open(users, "w") as f:
            f.write("alice:alice-pw:alpha\nboss:boss-pw\n")
        with open(tokens, "w") as f:
            f.write(f"ci:{hashlib.sha256(token.encode()).hexdigest()}:alpha\n")
        for i in range(len(self.nodes)):
            self.restart(i, ["--ui-auth-file", users, "--api-tokens-file", tokens])
        alice = "Basic " + base64.b64encode(b"alice:alice-pw").decode()
        boss = "Basic " + base64.b64encode(b"boss:boss-pw").decode()
        ci = f"Bearer {token}"
        # alice's WebSocket on node 3 while mail arrives on node 1.
        watcher = resilience.EventCounter(self.nodes[2], authorization=alice)
        watcher.start()
        time.sleep(0.5)
        sent = {"alpha": [], "beta": []}
        for inbox in sent:
            with smtplib.SMTP(HOST, self.nodes[0].smtp_port, timeout=30) as smtp:
                smtp.login(inbox, "any")
                for i in range(3):
                    mid = f"{inbox}{i}-{random.getrandbits(40)}@team.test"
                    smtp.sendmail("app@team.test", ["r@team.test"], resilience.message(
                        mid, "app@team.test", "r@team.test", f"secret of {inbox} {i}"))
                    sent[inbox].append(mid)
        time.sleep(1)
        events = watcher.finish()
        ports = [n.http_port for n in self.nodes] + [self.balancer.http_port]
        everything = api(ports[0], "/api/v1/messages?limit=50", boss)
        by_inbox = {m["MessageID"]: m["ID"] for m in everything["messages"]}
        beta_id = by_inbox[sent["beta"][0]]
        alpha_id = by_inbox[sent["alpha"][0]]
        # Every GET route of the OpenAPI document that takes a message ID.
        document = api(ports[0], "/api/v1/openapi.json", boss)
        routes = sorted(path for path, ops in document["paths"].items()
                        if "get" in ops and "{ID}" in path.replace("{id}", "{ID}"))
        leaks, wrong_status, seen_lists = [], [], []
        for port in ports:
            for who, auth in (("alice", alice), ("ci token", ci)):
                listed = api(port, "/api/v1/messages?limit=50", auth)
                seen_lists.append((listed["total"], sorted(m["MessageID"] for m in listed["messages"])))
                found = api(port, "/api/v1/search?query=inbox%3Abeta", auth)
                if found["messages_count"]:
                    leaks.append(f"{who} on :{port} found inbox:beta")
                for route in routes:
                    path = route.replace("{ID}", beta_id).replace("{id}", beta_id)
                    request = urllib.request.Request(f"http://{HOST}:{port}{path}")
                    request.add_header("Authorization", auth)
                    try:
                        with urllib.request.urlopen(request, timeout=30) as r:
                            wrong_status.append(f"{who} {path} on :{port}: {r.status}")
                            if b"secret of beta" in r.read():
                                leaks.append(f"{who} read {path} on :{port}")
                    except urllib.error.HTTPError as e:
                        if e.code != 404:
                            wrong_status.append(f"{who} {path} on :{port}: {e.code}")
                        if b"secret of beta" in e.read():
                            leaks.append(f"{who} read {path}'s error on :{port}")
        own = api(ports[-1], f"/api/v1/message/{alpha_id}", alice)
        alpha_sorted = sorted(sent["alpha"])
        for i in range(len(self.nodes)):
            self.restart(i)
        self.record(5, "a user and a CI token limited to one inbox, every route on every node", [
            ("alice and the token list exactly their inbox's messages, with its totals, on every node and the balancer",
             all(total == 3 and ids == alpha_sorted for total, ids in seen_lists)),
            ("every message route answers 404 for another inbox's message", not wrong_status),
            ("no other inbox's content anywhere", not leaks),
            ("alice reads her own inbox's message", own.get("MessageID") == sent["alpha"][0]),
            ("alice's WebSocket on node 3 got her inbox's events from node 1, and none of the other's",
             all(m in watcher.new_at for m in sent["alpha"]) and not any(m in watcher.new_at for m in sent["beta"])),
        ], {"routes_checked": len(routes), "ports": len(ports), "wrong_status": wrong_status[:10],
            "leaks": leaks[:10], "ws_frames": events["frames"], "ws_error": events["error"]})


def api_delete(port):
    request = urllib.request.Request(f"http://{HOST}:{port}/api/v1/messages", method="DELETE")
    with urllib.request.urlopen(request, timeout=60) as r:
        r.read()


ORDER = [1, 4, 2, 3, 5]


def main():
    args, scale, binary = resilience.command_line(__doc__, "team.json", "PIGEONHOLE_TEAM", "1,4")
    if binary is None:
        return 1
    wanted = [int(x) for x in args.k.split(",")] if args.k else ORDER
    workdir = tempfile.mkdtemp(prefix="pigeonhole-team.")
    os.chmod(workdir, 0o755)  # the postgres user makes its cluster in here
    print(f"team suite: {scale} scale, binary {binary}, scenarios {wanted}")
    try:
        suite = TeamSuite(binary, scale, workdir)
    except (RuntimeError, OSError) as e:
        print(f"could not set up the team (PostgreSQL, HAProxy, nodes): {e}")
        print("0 passed, 1 failed")
        return 1
    try:
        return resilience.run_scenarios(suite, wanted, args.report, scale, binary)
    finally:
        suite.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
