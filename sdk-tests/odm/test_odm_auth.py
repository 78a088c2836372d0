"""Authentication of the ODM routes: every way the odm-api SDK can send a token."""

from __future__ import annotations

import json

import pytest
from odm_api.exceptions import UnauthorizedException

from odm_helpers import AUTH_SCHEMES, USERS_PATH, Actor, assert_uuid, group_body, uniq, user_body


@pytest.fixture
def actor_with(roster, admin):
    """actor_with(token, scheme) -> Actor; closed after the test."""
    made: list[Actor] = []

    def make(token, scheme="genestack"):
        a = Actor(roster.base_url, token, scheme=scheme)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
def test_admin_token_accepted_in_every_header_form(roster, admin, actor_with, scheme):
    a = actor_with(roster.admin_token, scheme)
    listed = a.users.find_users_with_http_info(filter=f'userName eq "{roster.admin_user}"')
    assert listed.status_code == 200
    assert [u.id for u in listed.data.resources] == [admin.id]
    assert a.users.get_user(admin.id).user_name == roster.admin_user


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
def test_cli_issued_token_accepted_in_every_header_form(roster, make_actor, actor_with, scheme):
    # A plain user needs no permission to create a group, and becomes its member.
    user = make_actor("auth")
    a = actor_with(user.token, scheme)
    g = a.groups.create_group(group_body(uniq("auth-group")))
    assert_uuid(g.id)
    assert [m.value for m in g.members] == [user.id]


def test_authorization_scheme_is_case_insensitive(roster, admin):
    status, _, body = roster.http(
        "GET", f"{USERS_PATH}/{admin.id}", headers={"Authorization": f"bearer {roster.admin_token}"}
    )
    assert status == 200, body
    assert body["id"] == admin.id


def test_the_same_token_in_both_headers_is_one_credential(roster, admin):
    headers = {"Genestack-API-Token": roster.admin_token, "Authorization": f"Bearer {roster.admin_token}"}
    status, _, body = roster.http("GET", f"{USERS_PATH}/{admin.id}", headers=headers)
    assert status == 200, body
    assert body["id"] == admin.id


@pytest.mark.parametrize("valid_header", ["Genestack-API-Token", "Authorization"])
def test_two_different_tokens_are_401(roster, admin, valid_header):
    """A valid token next to a wrong one is refused: which one was meant is not guessed
    (THREAT-MODEL.md, conflicting credentials). The body is still ODM's BaseErrorResponse."""
    headers = {"Genestack-API-Token": "wrong-token", "Authorization": "Bearer wrong-token"}
    headers[valid_header] = roster.admin_token if valid_header != "Authorization" else f"Bearer {roster.admin_token}"
    status, _, body = roster.http("GET", f"{USERS_PATH}/{admin.id}", headers=headers)
    assert status == 401, body
    assert body["error"]["message"]


# Calls that need a valid token, each taking (actor, an existing user id).
CALLS = {
    "create_user": lambda a, uid: a.users.create_user(user_body(uniq("noauth"))),
    "find_users": lambda a, uid: a.users.find_users(),
    "get_user": lambda a, uid: a.users.get_user(uid),
    "find_groups": lambda a, uid: a.groups.find_groups(),
    "create_group": lambda a, uid: a.groups.create_group(group_body("nope")),
    "delete_group": lambda a, uid: a.groups.delete_group(uid),
}


def _assert_401(e: UnauthorizedException) -> None:
    assert e.status == 401
    body = json.loads(e.body)
    assert isinstance(body["error"]["message"], str)
    assert e.data is not None and e.data.error.message == body["error"]["message"]


@pytest.mark.parametrize("call", CALLS)
def test_no_token_is_401_with_base_error_body(roster, admin, actor_with, call):
    api = actor_with(None)
    with pytest.raises(UnauthorizedException) as info:
        CALLS[call](api, admin.id)
    _assert_401(info.value)
    assert "Genestack-API-Token" in json.loads(info.value.body)["error"]["message"]


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
@pytest.mark.parametrize("call", ["find_users", "get_user", "create_group"])
def test_wrong_token_is_401(roster, admin, actor_with, scheme, call):
    api = actor_with("0" * 40, scheme)
    with pytest.raises(UnauthorizedException) as info:
        CALLS[call](api, admin.id)
    _assert_401(info.value)


def test_nothing_created_without_a_token(roster, admin, actor_with):
    name = uniq("noauth")
    with pytest.raises(UnauthorizedException):
        actor_with(None).users.create_user(user_body(name))
    assert admin.users.find_users(filter=f'userName eq "{name}"').total_results == 0
