"""Moving a directory: `roster export` of a running SQLite server, `roster import` into an
empty database (PostgreSQL when ROSTER_TEST_DATABASE_URL names one, else a new SQLite file),
then a server on the target answers as the source did: the same ids, passwords, API tokens,
groups and filters work, new users get new ids, and the import is in the audit trail. A
second import into the now non-empty target is refused; a merge adds only rows that are not
there and refuses a row that is there with other values, changing nothing."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def harness(roster) -> dict:
    """../conftest.py's module globals (its helpers), whatever pytest named the module."""
    return type(roster).start.__globals__


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_export_then_import_into_an_empty_database_keeps_everything_working(roster):
    h = harness(roster)
    cls = type(roster)
    source = cls()
    # The source is the embedded default whatever this half of the run tests.
    source.env["ROSTER_DATABASE_URL"] = f"sqlite://{source.dir / 'source.db'}"
    source.start()
    target = None
    try:
        admin = bearer(source.admin_token)
        tag = secrets.token_hex(3)
        people = {}
        for i in range(5):
            name, pw = f"mv-{tag}-{i}", f"pw-{secrets.token_hex(10)}"
            body = {"schemas": [SCIM_USER], "userName": name, "password": pw,
                    "name": {"givenName": "Moved", "familyName": f"User {i}"},
                    "emails": [{"value": f"{name}@example.com", "primary": True}]}
            status, _, u = source.http("POST", "/scim/v2/Users", headers=admin, body=body)
            assert status == 201, u
            people[name] = (u["id"], pw)
        status, _, g = source.http("POST", "/scim/v2/Groups", headers=admin, body={
            "schemas": [SCIM_GROUP], "displayName": f"movers-{tag}",
            "members": [{"value": uid} for uid, _ in list(people.values())[:3]]})
        assert status == 201, g
        first = next(iter(people))
        token = source.issue_token(first)
        ids = {}
        for name in people:
            status, _, page = source.http("GET", f"/api/users?username={name}", headers=admin)
            assert status == 200 and page["count"] == 1, page
            ids[name] = page["results"][0]["id"]

        dump = source.dir / "directory.jsonl"
        out = source.cli("export", "--output", str(dump))
        assert "exported" in out.stderr
        assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600
        lines = dump.read_text().splitlines()
        assert json.loads(lines[0])["format"] == "roster-export"
        for _, pw in people.values():
            assert pw not in dump.read_text(), "an export holds hashes, never a password"

        # The target: an empty database that no server has started on.
        target = cls()
        target_url = h["fresh_database_url"](target.dir)
        env = {**target.env, "ROSTER_DATABASE_URL": target_url,
               # The sealed secrets open with the source's server key.
               "ROSTER_SECRET_KEY_FILE": str(source.dir / "data" / "secret.key"),
               "ROSTER_BOOTSTRAP_TOKEN": source.admin_token}
        res = source.cli_raw("import", str(dump), env=env)
        assert res.returncode == 0, res.stderr
        assert "imported" in res.stderr
        again = source.cli_raw("import", str(dump), env=env)
        assert again.returncode != 0 and "not empty" in again.stderr, again.stderr
        # A merge of the same export finds every row there already and adds nothing.
        merged = source.cli_raw("import", "--merge", str(dump), env=env)
        assert merged.returncode == 0, merged.stderr
        assert "imported 0 rows" in merged.stderr and f"{len(lines) - 1} rows were there already" in merged.stderr, merged.stderr
        # A row that differs fails the whole merge: nothing is overwritten.
        changed = source.dir / "changed.jsonl"
        changed.write_text(dump.read_text().replace('"given_name":"Moved"', '"given_name":"Changed"', 1))
        refused = source.cli_raw("import", "--merge", str(changed), env=env)
        assert refused.returncode != 0 and "another given_name" in refused.stderr, refused.stderr
        # A later export of the same directory brings only its new rows.
        status, _, later = source.http("POST", "/scim/v2/Users", headers=admin,
                                       body={"schemas": [SCIM_USER], "userName": f"later-{tag}"})
        assert status == 201, later
        dump2 = source.dir / "directory-later.jsonl"
        source.cli("export", "--output", str(dump2))
        merged = source.cli_raw("import", "--merge", str(dump2), env=env)
        assert merged.returncode == 0, merged.stderr

        target.env.update(env)
        target.admin_token = source.admin_token
        target.start()
        for name, (uid, pw) in people.items():
            status, _, u = target.http("GET", f"/scim/v2/Users/{uid}", headers=admin)
            assert status == 200 and u["userName"] == name and u["emails"][0]["value"] == f"{name}@example.com", u
            # The password (its argon2id hash moved) and the CVAT id.
            status, _, me = target.http("GET", "/api/users/self", headers=basic(name, pw))
            assert status == 200 and me["id"] == ids[name], me
        status, _, u = target.http("GET", f"/scim/v2/Users/{later['id']}", headers=admin)
        assert status == 200 and u["userName"] == f"later-{tag}", u
        status, _, u = target.http("GET", f"/scim/v2/Users/{people[first][0]}", headers=admin)
        assert u["name"]["givenName"] == "Moved", "the refused merge changed nothing"
        status, _, me = target.http("GET", "/scim/v2/Me", headers=bearer(token))
        assert status == 200 and me["userName"] == first, me
        status, _, got = target.http("GET", f"/scim/v2/Groups/{g['id']}", headers=admin)
        assert status == 200 and {m["value"] for m in got["members"]} == {uid for uid, _ in list(people.values())[:3]}
        # Filters find the moved rows through the target's own indexes.
        status, _, page = target.http("GET", f"/scim/v2/Users?filter=emails.value%20eq%20%22{first}@example.com%22", headers=admin)
        assert status == 200 and page["totalResults"] == 1, page
        status, _, page = target.http("GET", f"/api/users?search=mv-{tag}&page_size=100", headers=admin)
        assert status == 200 and page["count"] == len(people), page
        # New rows get new ids after the moved ones.
        status, _, u = target.http("POST", "/scim/v2/Users", headers=admin,
                                   body={"schemas": [SCIM_USER], "userName": f"after-{tag}"})
        assert status == 201, u
        status, _, page = target.http("GET", f"/api/users?username=after-{tag}", headers=admin)
        assert page["results"][0]["id"] > max(ids.values())
        status, _, audit = target.http("GET", "/api/v1/audit?action=directory.import", headers=admin)
        assert status == 200 and len(audit["items"]) == 3, audit  # the import and two merges
    finally:
        if target is not None:
            target.stop()
        source.stop()
