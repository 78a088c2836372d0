"""Fixtures for the standard SCIM 2.0 suite (`/scim/v2`; venv: ../requirements-scim.txt).

The server comes from ../conftest.py (`roster`: one fresh `roster serve` per test module,
bootstrap admin with every permission, `roster.admin_token`).
"""

from __future__ import annotations

import pytest

from scim_helpers import USER_SCHEMA, EnterpriseUserModel, IdP, uniq


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

