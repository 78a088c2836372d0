"""Crash safety: 1,000 concurrent writes against a real `roster serve`, SIGKILL in the middle,
a restart on the same database, then every write that was acknowledged with a 2xx is there,
whole, with its audit row, and nothing is half-written (SQLite, and PostgreSQL when
ROSTER_TEST_DATABASE_URL names one).

The writes are user creations (a user, their email index rows and an audit row in one
transaction) and membership adds to one group (a membership row, the group's version and an
audit row); the kill lands while both kinds are in flight."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

WRITES = 1000
WORKERS = 32
SCIM = "urn:ietf:params:scim:schemas:core:2.0:"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def call(base: str, token: str, method: str, path: str, body=None, timeout=10):
    """(status, parsed body); status 0 when the connection failed (no answer)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return 0, None


def test_acknowledged_writes_survive_a_sigkill_and_nothing_is_half_written(fresh_roster):
    r = fresh_roster
    base, token = r.base_url, r.admin_token
    tag = secrets.token_hex(3)
    status, group = call(base, token, "POST", "/scim/v2/Groups", {"schemas": [SCIM + "Group"], "displayName": f"crash-{tag}"})
    assert status == 201, status
    # Users to add to the group concurrently (made before the storm, acknowledged).
    members = []
    for i in range(40):
        s, u = call(base, token, "POST", "/scim/v2/Users", {"schemas": [SCIM + "User"], "userName": f"m-{tag}-{i}"})
        assert s == 201, s
        members.append(u["id"])

    acked_users: dict[str, str] = {}  # userName -> id
    tried_users: set[str] = set()
    acked_members: set[str] = set()
    lock = threading.Lock()
    started = threading.Event()
    done = [0]

    def write(i: int):
        if i % 25 == 0 and i // 25 < len(members):
            uid = members[i // 25]
            body = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]}
            s, _ = call(base, token, "PATCH", f"/scim/v2/Groups/{group['id']}?excludedAttributes=members", body)
            with lock:
                if 200 <= s < 300:
                    acked_members.add(uid)
        else:
            name = f"w-{tag}-{i}"
            body = {
                "schemas": [SCIM + "User"],
                "userName": name,
                "name": {"givenName": "Crash", "familyName": f"Test {i}"},
                "emails": [{"value": f"{name}@example.com", "primary": True}],
            }
            with lock:
                tried_users.add(name)
            s, u = call(base, token, "POST", "/scim/v2/Users", body)
            with lock:
                if 200 <= s < 300:
                    acked_users[name] = u["id"]
        with lock:
            done[0] += 1
            if done[0] >= 150:
                started.set()

    pool = ThreadPoolExecutor(WORKERS)
    futures = [pool.submit(write, i) for i in range(WRITES)]
    # Kill once a good share is acknowledged and the rest still in flight.
    assert started.wait(60), "the writes did not get going"
    r.proc.kill()
    r.proc.wait()
    for f in futures:
        f.result()
    pool.shutdown()
    acked_before = len(acked_users)
    assert 100 <= acked_before < WRITES - len(members), (
        f"the kill should land mid-storm: {acked_before} of {WRITES} acknowledged"
    )

    # Restart on the same database (the harness keeps its settings; no bootstrap runs again).
    r.proc = None
    r._stderr.close()
    r.start()

    for name, uid in acked_users.items():
        s, u = call(base, token, "GET", f"/scim/v2/Users/{uid}")
        assert s == 200, f"acknowledged user {name} ({uid}) is gone after the crash"
        assert u["userName"] == name
        assert u["emails"][0]["value"] == f"{name}@example.com"
        assert u["name"]["familyName"].startswith("Test ")

    # Every user that exists now is whole: found by its email through the index (its
    # email rows were written with it), and it has its audit row.
    found: dict[str, str] = {}
    start = 1
    while True:
        s, page = call(base, token, "GET", f'/scim/v2/Users?filter=userName%20sw%20%22w-{tag}-%22&startIndex={start}&count=500')
        assert s == 200
        for u in page.get("Resources", []):
            found[u["userName"]] = u["id"]
        if start + 500 > page["totalResults"]:
            break
        start += 500
    assert set(acked_users) <= set(found)
    assert set(found) <= tried_users
    for name, uid in found.items():
        s, page = call(base, token, "GET", f'/scim/v2/Users?filter=emails.value%20eq%20%22{name}@example.com%22')
        assert s == 200 and [u["id"] for u in page["Resources"]] == [uid], name
    audited: set[str] = set()
    before = ""
    while True:
        s, page = call(base, token, "GET", f"/api/v1/audit?action=user.create&count=1000{before}")
        assert s == 200
        audited.update(row["target"] for row in page["items"])
        if not page["next"]:
            break
        before = f"&before={page['next']}"
    missing_audit = [n for n, uid in found.items() if uid not in audited]
    assert not missing_audit, f"users without their audit row: {missing_audit[:5]}"

    # Acknowledged membership adds are there.
    s, g = call(base, token, "GET", f"/scim/v2/Groups/{group['id']}")
    assert s == 200
    have = {m["value"] for m in g.get("members", [])}
    assert acked_members <= have, acked_members - have

    # And the server takes writes again.
    s, _ = call(base, token, "POST", "/scim/v2/Users", {"schemas": [SCIM + "User"], "userName": f"after-{tag}"})
    assert s == 201
