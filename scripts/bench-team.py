#!/usr/bin/env python3
"""The team server's throughput, in one run on one machine: one node on
PostgreSQL against one node on SQLite, three nodes against one, and what a
message costs each part (the figures ARCHITECTURE.md's scaling model is made of).

1. `../shared/bench/peers.sh` (smtp-source, its workloads small-1c and
   small-20c, smtp-sink as the ceiling) against one `pigeonhole serve` on SQLite
   (as it runs by default, and with `--fsync`: every commit synced, as
   PostgreSQL does) and one on PostgreSQL, taking turns round by round so that
   drift of a shared machine hits them alike; each round's PostgreSQL node gets a
   fresh database. Prints msgs/s per round and the median ratios.
2. Per-message costs on PostgreSQL, from one small-20c load and the indexing of
   its text after it: WAL bytes (pg_current_wal_lsn), transactions
   (pg_stat_database.xact_commit, so messages per commit), CPU of the node and of
   all PostgreSQL processes.
3. HAProxy (TCP) in front of one node and in front of three, on one database:
   msgs/s of the same smtp-source load through each, in turns.

PostgreSQL and HAProxy are started here as tests/team/run.py starts them (its
parts are reused). Needs a release build and postfix's smtp-source:

    cargo build --release -p pigeonhole
    python3 scripts/bench-team.py [--rounds 3] [--scale 1]
"""

import argparse
import csv
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
_spec = importlib.util.spec_from_file_location("team", os.path.join(REPO, "tests", "team", "run.py"))
team = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(team)
resilience = team.resilience
HOST = team.HOST
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"


def cpu_seconds(pids):
    """utime + stime of these processes, in seconds."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total


def postgres_pids(pg):
    """The postmaster and its children (backends, WAL writer, checkpointer …)."""
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        master = int(f.readline())
    pids = [master]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def smtp_source(port, messages, sessions, size=2048):
    """One timed smtp-source load (as peers.sh runs it); msgs/s of accepted mail."""
    start = time.perf_counter()
    result = subprocess.run([SMTP_SOURCE, "-s", str(sessions), "-l", str(size), "-m", str(messages), "-d",
                             "-f", "bench@team.test", "-t", "r@team.test", f"{HOST}:{port}"],
                            capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"smtp-source failed: {result.stderr.strip()}")
    return messages / seconds


def peers_round(args, workdir, binary, name, store_args, csv_path):
    """peers.sh against one fresh node (per workload), its rows appended to csv_path."""
    http_port = resilience.free_port()
    smtp_port = resilience.free_port()
    data = os.path.join(workdir, f"peers-{name}")
    command = (f"{binary} serve --smtp $HOST:$PORT --http {HOST}:{http_port} "
               f"--data {data}-$RANDOM {' '.join(store_args)}")
    env = dict(os.environ, TARGET=f"{HOST}:{smtp_port}", TARGET_CMD=command, TARGET_NAME=name,
               TARGET_API=f"http://{HOST}:{http_port}", CSV=csv_path, SCALE=str(args.scale),
               WORKLOADS="small-1c:2048:1:2000 small-20c:2048:20:4000")
    subprocess.run(["bash", args.peers, "target", "smtp-sink"], env=env, check=True,
                   stdout=subprocess.DEVNULL if not args.verbose else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=int, default=1, help="peers.sh SCALE: multiply every message count")
    ap.add_argument("--binary", default=os.path.join(REPO, "target", "release", "pigeonhole"))
    ap.add_argument("--peers", default=os.path.join(REPO, "..", "shared", "bench", "peers.sh"))
    ap.add_argument("--verbose", action="store_true", help="show peers.sh's own tables")
    args = ap.parse_args()
    for needed, what in ((args.binary, "cargo build --release -p pigeonhole"),
                         (args.peers, "the shared bench harness"), (SMTP_SOURCE, "postfix's smtp-source")):
        if not os.path.exists(needed):
            sys.exit(f"missing {needed}: {what}")
    workdir = tempfile.mkdtemp(prefix="pigeonhole-bench-team.")
    os.chmod(workdir, 0o755)
    pg = team.Postgres(workdir)
    try:
        # ---- 1: one node on PostgreSQL vs one on SQLite, through peers.sh
        csv_path = os.path.join(workdir, "peers.csv")
        for r in range(args.rounds):
            database = f"round{r}"
            pg.run("createdb", "-h", HOST, "-p", str(pg.port), "-U", "pigeonhole", database)
            postgres_url = pg.url.rsplit("/", 1)[0] + "/" + database
            # SQLite by default syncs at checkpoints, not every commit (a killed
            # process loses nothing, a power cut may); PostgreSQL syncs every
            # commit. `--fsync` makes SQLite do so too: the like-for-like pair.
            order = [("sqlite", []), ("sqlite-fsync", ["--fsync"]), ("postgres", ["--store", postgres_url])]
            for name, store_args in (order if r % 2 == 0 else order[::-1]):
                print(f"round {r + 1}/{args.rounds}: peers.sh against one node on {name} …", flush=True)
                peers_round(args, workdir, args.binary, name, store_args, csv_path)
        # Each peers.sh run appends its own header line: those are not rows.
        rows = [row for row in csv.DictReader(open(csv_path)) if row["server"] != "server"]
        print("\n1. one node, peers.sh (msgs/s per round; smtp-sink = the load generator's ceiling)")
        for workload in ("small-1c", "small-20c"):
            rates = {s: [float(x["msgs_s"]) for x in rows if x["server"] == s and x["workload"] == workload]
                     for s in ("sqlite", "sqlite-fsync", "postgres", "smtp-sink")}
            print(f"   {workload}: sqlite {rates['sqlite']}  sqlite --fsync {rates['sqlite-fsync']}  "
                  f"postgres {rates['postgres']}  smtp-sink {rates['smtp-sink']}")
            for against in ("sqlite", "sqlite-fsync"):
                ratios = [p / q for p, q in zip(rates["postgres"], rates[against]) if q]
                if ratios:
                    print(f"   {workload}: postgres / {against} median {statistics.median(ratios):.2f} "
                          f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
        notes = [x["note"] for x in rows if x["note"]]
        if notes:
            print(f"   peers.sh notes: {notes}")

        # ---- 2: what a message costs on PostgreSQL
        pg.run("createdb", "-h", HOST, "-p", str(pg.port), "-U", "pigeonhole", "costs")
        costs_url = pg.url.rsplit("/", 1)[0] + "/costs"
        node = resilience.Server(args.binary, os.path.join(workdir, "costs"), ["--store", costs_url]).start()
        smtp_source(node.smtp_port, 200, 4)  # warm up
        messages = 4000 * args.scale

        def snapshot():
            wal, commits = pg.sql("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, "
                                  "(SELECT xact_commit FROM pg_stat_database WHERE datname = 'costs')").split("|")
            return float(wal), int(commits), cpu_seconds([node.pid]), cpu_seconds(postgres_pids(pg))

        def pending():
            return int(pg.run("psql", "-h", HOST, "-p", str(pg.port), "-U", "pigeonhole", "-d", "costs", "-At", "-c",
                              "SELECT count(*) FROM text_pending").strip())

        before = snapshot()
        rate = smtp_source(node.smtp_port, messages, 20)
        # Until the flood's text is in the trigram index (the writer moves it once
        # idle): that work is part of what a message costs.
        deadline = time.monotonic() + 60
        while pending() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # the last commits' WAL
        after = snapshot()
        node.stop()
        wal, commits, node_cpu, pg_cpu = (a - b for a, b in zip(after, before))
        print(f"\n2. per message on PostgreSQL (small-20c, {messages} messages, {rate:.0f} msgs/s):")
        print(f"   WAL {wal / messages:.0f} bytes; {commits} transactions ({messages / max(commits, 1):.1f} messages "
              f"per commit; the readiness probe's and reads' transactions included)")
        print(f"   CPU: node {node_cpu / messages * 1000:.3f} ms, PostgreSQL {pg_cpu / messages * 1000:.3f} ms "
              f"(the text's move into the trigram index after the flood included)")

        # ---- 3: three nodes vs one, behind HAProxy
        pg.run("createdb", "-h", HOST, "-p", str(pg.port), "-U", "pigeonhole", "nodes")
        nodes_url = pg.url.rsplit("/", 1)[0] + "/nodes"
        nodes = [resilience.Server(args.binary, os.path.join(workdir, f"node{i}"), ["--store", nodes_url]).start()
                 for i in range(3)]
        for name in ("one", "three"):
            os.makedirs(os.path.join(workdir, name))
        one, three = team.Haproxy(os.path.join(workdir, "one"), nodes[:1]), None
        results = {"one": [], "three": []}
        try:
            three = team.Haproxy(os.path.join(workdir, "three"), nodes)
            for r in range(args.rounds):
                for name, balancer in ((("one", one), ("three", three)) if r % 2 == 0 else
                                       (("three", three), ("one", one))):
                    results[name].append(smtp_source(balancer.smtp_port, messages, 20))
        finally:
            for balancer in (one, three):
                if balancer:
                    balancer.stop()
            for node in nodes:
                node.stop()
        ratio = [t / o for t, o in zip(results["three"], results["one"])]
        print("\n3. HAProxy in front of one node vs three nodes (small-20c through the balancer, msgs/s):")
        print(f"   one: {[round(x) for x in results['one']]}  three: {[round(x) for x in results['three']]}  "
              f"three / one median {statistics.median(ratio):.2f}")
        print(f"\nmachine: {os.cpu_count()} cores; load average now {os.getloadavg()[0]:.2f}")
    finally:
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
