"""Fixtures for the `odm-api` suite (venv: ../requirements-odm.txt)."""

from __future__ import annotations

import pytest

from odm_helpers import Actor, uniq, user_body


def admin_actor(roster) -> Actor:
    """The bootstrap admin (every permission), authenticated with the bootstrap token."""
    admin = Actor(roster.base_url, roster.admin_token, user_name=roster.admin_user)
    found = admin.users.find_users(filter=f'userName eq "{roster.admin_user}"')
    assert found.total_results == 1, f"bootstrap admin not listed: {found}"
    admin.id = found.resources[0].id
    admin.display_name = found.resources[0].display_name
    return admin


def new_actor(roster, admin: Actor, prefix: str = "user", *, permissions=(), scheme: str = "genestack",
              display_name: str | None = None) -> Actor:
    """A user created by the admin through create_user, with a token issued by the CLI."""
    user = admin.users.create_user(user_body(uniq(prefix), display_name))
    for p in permissions:
        roster.grant(user.user_name, p)
    token = roster.issue_token(user.user_name)
    return Actor(roster.base_url, token, user_id=user.id, user_name=user.user_name,
                 display_name=user.display_name, scheme=scheme)


@pytest.fixture(scope="module")
def admin(roster):
    a = admin_actor(roster)
    yield a
    a.close()


@pytest.fixture
def make_user(admin):
    """make_user(prefix="user", display_name=None, **user_body kwargs) -> created user (SDK model)."""

    def make(prefix: str = "user", display_name: str | None = None, **kwargs):
        return admin.users.create_user(user_body(uniq(prefix), display_name, **kwargs))

    return make


@pytest.fixture
def make_actor(roster, admin):
    """make_actor(prefix, permissions=(), scheme=...) -> Actor for a new user with its own token."""
    actors: list[Actor] = []

    def make(prefix: str = "user", **kwargs) -> Actor:
        a = new_actor(roster, admin, prefix, **kwargs)
        actors.append(a)
        return a

    yield make
    for a in actors:
        a.close()


@pytest.fixture
def fresh_admin(fresh_roster):
    """The admin of a server of the test's own (for exact totals and paging)."""
    a = admin_actor(fresh_roster)
    yield a
    a.close()
