"""`roster backup FILE`: SQLite's online backup of a running server's database while writes
go on. The copy must be one consistent state (every user in it has the audit row of its own
transaction, every email index row its user), pass SQLite's integrity check, be private
(0600), and open as a Roster database again. SQLite only: PostgreSQL is backed up with its
own tools."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import stat
import threading
import urllib.request

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("ROSTER_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="roster backup copies the embedded SQLite database",
)

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def post_user(r, name: str) -> int:
    body = json.dumps({"schemas": [SCIM_USER], "userName": name, "emails": [{"value": f"{name}@example.com"}]}).encode()
    req = urllib.request.Request(
        r.base_url + "/scim/v2/Users", data=body, method="POST",
        headers={"Authorization": f"Bearer {r.admin_token}", "Content-Type": "application/scim+json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as resp:
        return resp.status


def test_a_backup_taken_under_writes_is_one_consistent_private_database(fresh_roster):
    r = fresh_roster
    tag = secrets.token_hex(3)
    for i in range(50):
        assert post_user(r, f"pre-{tag}-{i}") == 201
    stop = threading.Event()
    written = [0]

    def writer(w: int):
        i = 0
        while not stop.is_set():
            assert post_user(r, f"bk-{tag}-{w}-{i}") == 201
            written[0] += 1
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        dest = r.dir / "backup.db"
        out = r.cli("backup", str(dest))
        assert "backed up" in out.stderr
        during = written[0]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert during > 0, "the writers had not started when the backup ran"
    assert written[0] > during, "writes went on while the backup ran"

    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    db = sqlite3.connect(dest)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    users = {row[0] for row in db.execute("SELECT id FROM users WHERE user_name <> 'admin'")}
    created = {row[0] for row in db.execute("SELECT target FROM audit_log WHERE action = 'user.create'")}
    # One consistent state: a user and the audit row of its transaction are both in or both out.
    assert users == created, (len(users - created), len(created - users))
    assert len(users) > 50
    orphans = db.execute(
        "SELECT COUNT(*) FROM user_emails e WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.seq = e.user_seq)"
    ).fetchone()[0]
    assert orphans == 0
    n = db.execute("SELECT COUNT(*) FROM users WHERE user_name LIKE ?", (f"pre-{tag}-%",)).fetchone()[0]
    assert n == 50
    db.close()

    # A backup is refused over an existing file, and the copy opens as a Roster database.
    res = r.cli_raw("backup", str(dest))
    assert res.returncode != 0 and "cannot create" in res.stderr
    env = {**r.env, "ROSTER_DATABASE_URL": f"sqlite://{dest}"}
    res = r.cli_raw("token", "list", "--user", "admin", env=env)
    assert res.returncode == 0, res.stderr
