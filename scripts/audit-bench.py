#!/usr/bin/env python3
"""The audit API on a large trail: fills audit_log with N synthetic rows (default
10,000,000) straight into the database, then times GET /api/v1/audit filtered each way it
can be (newest page, actor, action, target, a time window, a deep keyset page), sequential
requests, and prints p50/p99 per query. Python's standard library and psql only.

  scripts/audit-bench.py [--rows N] [--binary target/release/roster]
                         [--database-url postgres://postgres@127.0.0.1:5432/audit_bench]

The SQLite default is a new file in a temporary directory; a PostgreSQL URL must name an
existing, empty database. The server shares the machine's cores with this script.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid

ACTIONS = ["user.create", "user.update", "user.delete", "group.update", "token.issue",
           "permission.grant", "user.password", "group.create", "oauth-client.create", "mail.retry"]
ACTORS = 1000
TARGET_EVERY = 10
BASE_AT = 1_700_000_000_000_000
STEP_US = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def actor(i: int) -> str:
    return str(uuid.UUID(int=i % ACTORS + 1))


def target(i: int) -> str:
    return str(uuid.UUID(int=(i // TARGET_EVERY) + 10_000))


def start(binary: str, env: dict, port: int, cwd: str) -> subprocess.Popen:
    p = subprocess.Popen([binary, "serve"], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(cwd, "server.log"), "ab"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise SystemExit("roster did not start; see server.log")


def stop(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)


def fill_sqlite(path: str, n: int) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    chunk = 50_000
    for lo in range(0, n, chunk):
        rows = [(BASE_AT + i * STEP_US, actor(i), ACTIONS[i % len(ACTIONS)], target(i), f"req-{i}")
                for i in range(lo, min(n, lo + chunk))]
        db.executemany("INSERT INTO audit_log (at, actor, action, target, request_id) VALUES (?, ?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


def fill_postgres(url: str, n: int) -> None:
    acts = "ARRAY[" + ",".join(f"'{a}'" for a in ACTIONS) + "]"
    sql = f"""
    INSERT INTO audit_log (at, actor, action, target, request_id)
    SELECT {BASE_AT} + g::bigint * {STEP_US},
           lpad(to_hex(g % {ACTORS} + 1), 32, '0')::uuid::text,
           ({acts})[g % {len(ACTIONS)} + 1],
           lpad(to_hex(g / {TARGET_EVERY} + 10000), 32, '0')::uuid::text,
           'req-' || g
      FROM generate_series(0, {n - 1}) g;
    ANALYZE audit_log;"""
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--binary", default="target/release/roster")
    ap.add_argument("--database-url", default="")
    ap.add_argument("--requests", type=int, default=200)
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    tmp = tempfile.mkdtemp(prefix="roster-audit-bench-")
    url = a.database_url or f"sqlite://{tmp}/audit.db"
    port = free_port()
    token = "audit-bench-token-" + uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
    env.update(ROSTER_LISTEN=f"127.0.0.1:{port}", ROSTER_DATABASE_URL=url, ROSTER_BOOTSTRAP_ADMIN="admin",
               ROSTER_BOOTSTRAP_PASSWORD="audit-bench-password", ROSTER_BOOTSTRAP_TOKEN=token,
               ROSTER_SECRET_KEY="cm9zdGVyLWJlbmNoLWtleS1ub3QtYS1zZWNyZXQtISE=", ROSTER_ACCESS_LOG="off",
               NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    stop(start(binary, env, port, tmp))  # migrated and bootstrapped
    t = time.monotonic()
    if url.startswith("postgres"):
        fill_postgres(url, a.rows)
    else:
        fill_sqlite(url.removeprefix("sqlite://"), a.rows)
    print(f"filled {a.rows:,} audit rows in {time.monotonic() - t:.1f} s ({url.split('?')[0]})")
    server = start(binary, env, port, tmp)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    rng = random.Random(7)

    def get(query: str) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/audit?{query}",
                                     headers={"Authorization": f"Bearer {token}"})
        with opener.open(req, timeout=60) as r:
            return json.loads(r.read())

    mid_seq = a.rows // 2

    def window() -> str:
        i = rng.randrange(a.rows - 3_600_000) if a.rows > 3_600_000 else 0
        since, until = BASE_AT + i * STEP_US, BASE_AT + (i + 3_600_000) * STEP_US
        return f"since={since}&until={until}&count=100"

    queries = {
        "newest page (count=100)": lambda: "count=100",
        "actor=<one of 1,000>": lambda: f"actor={actor(rng.randrange(ACTORS))}&count=100",
        "action=<one of 10>": lambda: f"action={rng.choice(ACTIONS)}&count=100",
        "target=<one of N/10>": lambda: f"target={target(rng.randrange(a.rows))}",
        "1 h window (3.6M rows)": window,
        "deep keyset page (before=N/2)": lambda: f"before={rng.randrange(mid_seq - 1000, mid_seq + 1000)}&count=100",
        "action + deep keyset": lambda: f"action={rng.choice(ACTIONS)}&before={mid_seq}&count=100",
    }
    print(f"{'query':34} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  rows")
    for name, q in queries.items():
        times, rows = [], 0
        get(q())  # warm
        for _ in range(a.requests):
            t0 = time.perf_counter()
            body = get(q())
            times.append((time.perf_counter() - t0) * 1000)
            rows = len(body["items"])
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"{name:34} {statistics.median(times):8.2f} {p99:8.2f} {times[-1]:8.2f}  {rows}")
    stop(server)


if __name__ == "__main__":
    main()
