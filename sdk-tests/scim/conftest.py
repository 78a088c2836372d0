"""Fixtures for the standard SCIM 2.0 suite (`/scim/v2`; venv: ../requirements-scim.txt).

The server comes from ../conftest.py (`roster`: one fresh `roster serve` per test module,
bootstrap admin with every permission, `roster.admin_token`).
"""

from __future__ import annotations

import pytest

from scim_helpers import GROUP_SCHEMA, USER_SCHEMA, EnterpriseUserModel, IdP, uniq

BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

# What every server of this suite holds before its first test: more users, and more groups,
# than one page of filter.maxResults (1,000). A check that lists without paging still finds
# what it just created because `/scim/v2` lists the newest first (and a list without `count`
# is a page of 1,000, not 100).
SEEDED_USERS = 1100
SEEDED_GROUPS = 1100


def _bulk(roster, operations: list[dict]) -> list[str]:
    """Runs the operations (all POSTs) in one BulkRequest; returns the created ids."""
    status, _, body = roster.http(
        "POST", "/scim/v2/Bulk",
        headers={"Authorization": f"Bearer {roster.admin_token}", "Content-Type": "application/scim+json"},
        body={"schemas": [BULK_SCHEMA], "failOnErrors": 1, "Operations": operations},
    )
    assert status == 200, f"seeding: Bulk answered {status}: {body}"
    failed = [op for op in body["Operations"] if not str(op.get("status", "")).startswith("201")]
    assert not failed, f"seeding: {failed[:3]}"
    return [op["location"].rsplit("/", 1)[-1] for op in body["Operations"]]


@pytest.fixture(scope="module", autouse=True)
def seeded_directory(roster):
    """Fills the module's server with SEEDED_USERS users (half in one of the groups) and
    SEEDED_GROUPS groups through /Bulk, before any test of the module runs."""
    tag = uniq("seed")
    users = [
        {"method": "POST", "path": "/Users", "bulkId": f"u{i}",
         "data": {"schemas": [USER_SCHEMA], "userName": f"{tag}-user-{i:04d}",
                  "emails": [{"value": f"{tag}-{i:04d}@seed.example", "type": "work"}]}}
        for i in range(SEEDED_USERS)
    ]
    user_ids = []
    for start in range(0, len(users), 500):
        user_ids += _bulk(roster, users[start:start + 500])
    groups = [
        {"method": "POST", "path": "/Groups", "bulkId": f"g{i}",
         "data": {"schemas": [GROUP_SCHEMA], "displayName": f"{tag}-group-{i:04d}"}}
        for i in range(SEEDED_GROUPS)
    ]
    group_ids = []
    for start in range(0, len(groups), 500):
        group_ids += _bulk(roster, groups[start:start + 500])
    # Half the users in the first group, so every list of users also renders `groups`.
    members = [{"value": u} for u in user_ids[::2]]
    status, _, body = roster.http(
        "PATCH", f"/scim/v2/Groups/{group_ids[0]}?excludedAttributes=members",
        headers={"Authorization": f"Bearer {roster.admin_token}", "Content-Type": "application/scim+json"},
        body={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "add", "path": "members", "value": members}]},
    )
    assert status == 200, f"seeding members: {status} {body}"
    status, _, listed = roster.http(
        "GET", "/scim/v2/Users?count=0", headers={"Authorization": f"Bearer {roster.admin_token}"})
    assert status == 200 and listed["totalResults"] > SEEDED_USERS, listed
    return tag


@pytest.fixture(scope="module")
def idp(roster):
    """An identity provider's SCIM client (scim2-client) for the bootstrap admin's token."""
    client = IdP(roster)
    yield client
    client.close()


@pytest.fixture(scope="module")
def scim(idp):
    """The scim2-client `SyncSCIMClient` itself (base URL `<server>/scim/v2`, Bearer admin token)."""
    return idp.scim


@pytest.fixture
def make_user(idp):
    """make_user(prefix="user", **attrs) -> id of a user created with a plain RFC 7643 body."""

    def make(prefix: str = "user", **attrs) -> str:
        name = uniq(prefix)
        body = {
            "schemas": [USER_SCHEMA],
            "userName": name,
            "displayName": f"Display {name}",
            "active": True,
            "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
            **attrs,
        }
        _, user = idp.send("POST", "/Users", body, expect=201, model=EnterpriseUserModel)
        return user.id

    return make

