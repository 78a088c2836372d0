"""The CVAT SDK's read checks on a moved directory: users made on an embedded SQLite server,
`roster export`, `roster import` into an empty database (PostgreSQL in the PostgreSQL half of
the run), and a server on the target: cvat-sdk 2.80.0 lists the same users with the same
ids over Basic, each user signs in with their old password (low level and `make_client`),
and an API token made on the source still works."""

from __future__ import annotations

from cvat_sdk import make_client

from conftest import ADMIN_PASSWORD, Roster, harness, low_level, make_people, uniq


def test_the_sdk_reads_a_directory_moved_to_another_database():
    source = Roster()
    source.env["ROSTER_RATE_LIMIT_PASSWORDS"] = "off"
    source.env["ROSTER_DATABASE_URL"] = f"sqlite://{source.dir / 'source.db'}"
    source.start()
    target = None
    try:
        people = make_people(source, [
            {"username": uniq("moved"), "first": f"First{i}", "last": f"Last{i}"} for i in range(12)
        ])
        token = source.issue_token(people[0].username)
        with low_level(source, username=source.admin_user, password=ADMIN_PASSWORD) as c:
            before, _ = c.users_api.list(page_size=100)
        dump = source.dir / "directory.jsonl"
        source.cli("export", "--output", str(dump))

        target = Roster()
        target.env.update(
            ROSTER_RATE_LIMIT_PASSWORDS="off",
            ROSTER_DATABASE_URL=harness.fresh_database_url(target.dir),
            ROSTER_SECRET_KEY_FILE=str(source.dir / "data" / "secret.key"),
            ROSTER_BOOTSTRAP_TOKEN=source.admin_token,
        )
        res = source.cli_raw("import", str(dump), env=target.env)
        assert res.returncode == 0, res.stderr
        target.admin_token = source.admin_token
        target.start()

        with low_level(target, username=target.admin_user, password=ADMIN_PASSWORD) as c:
            after, _ = c.users_api.list(page_size=100)
        assert after.count == before.count == len(people) + 1
        assert [(u.id, u.username, u.first_name, u.last_name) for u in after.results] == [
            (u.id, u.username, u.first_name, u.last_name) for u in before.results
        ]
        for p in people:
            with low_level(target, username=p.username, password=p.password) as c:
                me, _ = c.users_api.retrieve_self()
            assert (me.id, me.username) == (p.id, p.username)
        p = people[-1]
        with make_client(target.base_url, credentials=(p.username, p.password)) as client:
            assert client.users.retrieve_current_user().id == p.id
            assert len(client.users.list()) == len(people) + 1
        with low_level(target, access_token=token) as c:
            me, _ = c.users_api.retrieve_self()
        assert me.username == people[0].username
    finally:
        if target is not None:
            target.stop()
        source.stop()
