"""cvat-sdk 2.80.0's low-level client (`ApiClient(Configuration(username=, password=))`, HTTP
Basic on every request) against Roster's /api/users/{self,id}: retrieve_self, retrieve,
partial_update (also with no body), destroy; the full and the basic shape of a user; the
groups Roster's permissions show as; who may change what; usernames made elsewhere that
CVAT's rule refuses; and bad PATCH bodies. What a call changed is checked on SCIM."""

from __future__ import annotations

import json
import secrets

import pytest
from cvat_sdk import make_client
from cvat_sdk.api_client import models
from cvat_sdk.api_client.exceptions import (
    ApiException,
    ApiValueError,
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)

from conftest import (
    ADMIN_PASSWORD,
    BASIC_KEYS,
    FULL_KEYS,
    STRING_KEYS,
    USERNAME_RE,
    admin_auth,
    all_users,
    error_json,
    as_person,
    get_user,
    grant,
    make_people,
    new_person,
    raw_json,
    rendered,
    scim,
    scim_email,
    scim_user,
    send,
    uniq,
)


def patch(**fields) -> models.PatchedUserRequest:
    return models.PatchedUserRequest(**fields)


def keys_seen(api, user_id: int) -> set:
    """The keys of GET /api/users/{id} as this client gets them (the raw body)."""
    _, resp = api.users_api.retrieve(user_id, _parse_response=False)
    assert resp.status == 200
    return set(raw_json(resp))


def names_on_scim(roster, person) -> tuple:
    u = scim_user(roster, person)
    return u["userName"], u.get("name", {}).get("givenName", ""), u.get("name", {}).get("familyName", ""), scim_email(u)


def test_the_admin_over_basic_reads_themself_in_the_full_shape(roster, admin_api):
    me, resp = admin_api.users_api.retrieve_self()
    assert resp.status == 200
    assert me.username == roster.admin_user
    assert isinstance(me.id, int) and me.url == f"{roster.base_url}/api/users/{me.id}"
    assert (me.groups, me.is_staff, me.is_superuser, me.is_active) == (["admin"], True, True, True)
    _, raw = admin_api.users_api.retrieve_self(_parse_response=False)
    body = raw_json(raw)
    assert FULL_KEYS <= set(body), body
    assert all(isinstance(body[k], str) for k in STRING_KEYS), body

    again, _ = admin_api.users_api.retrieve(me.id)
    assert (again.id, again.username, again.email) == (me.id, me.username, me.email)
    # The same account on SCIM.
    status, _, found = scim(roster, "GET", f'/Users?filter=userName%20eq%20%22{roster.admin_user}%22')
    assert status == 200 and found["totalResults"] == 1, found
    assert scim_email(found["Resources"][0]) == me.email


def test_a_user_reads_themself_fully_and_others_in_the_basic_shape(roster, admin_api, connect):
    bare, other = make_people(roster, [{"username": uniq("bare"), "email": None},
                                       {"username": uniq("other"), "first": "Olga"}])
    api = as_person(connect, bare)
    me, _ = api.users_api.retrieve_self()
    assert (me.id, me.username, me.first_name, me.last_name, me.email) == (bare.id, bare.username, "", "", "")
    assert (me.groups, me.is_staff, me.is_superuser) == (["user"], False, False)
    assert keys_seen(api, bare.id) >= FULL_KEYS
    assert keys_seen(api, other.id) == BASIC_KEYS
    seen, _ = api.users_api.retrieve(other.id)
    assert (seen.id, seen.username, seen.first_name) == (other.id, other.username, "Olga")
    # On a list page too: themself full, the others basic; and the admin sees both full.
    both = json.dumps({"in": [{"var": "id"}, [bare.id, other.id]]})
    _, resp = api.users_api.list(filter=both, _parse_response=False)
    by_id = {u["id"]: u for u in raw_json(resp)["results"]}
    assert set(by_id[bare.id]) >= FULL_KEYS and set(by_id[other.id]) == BASIC_KEYS
    assert keys_seen(admin_api, other.id) >= FULL_KEYS
    # Strings are never null, also for a user with no names and no email.
    status, _, body = get_user(roster, bare.id)
    assert status == 200 and all(isinstance(body[k], str) for k in STRING_KEYS), body
    # Basic takes the email as the login too.
    by_email = connect(username=other.email, password=other.password)
    assert by_email.users_api.retrieve_self()[0].id == other.id


@pytest.mark.parametrize(
    "permissions,groups,is_staff,is_superuser",
    [
        ((), ["user"], False, False),
        (("manage-groups",), ["business"], False, False),
        (("manage-organization", "manage-groups"), ["admin"], True, True),
        (("manage-organization",), ["user"], True, None),  # is_superuser: not part of the contract
    ],
    ids=["none", "manage-groups", "both", "manage-organization"],
)
def test_groups_and_staff_follow_roster_permissions(roster, admin_api, connect, permissions, groups, is_staff, is_superuser):
    p = new_person(roster, "perm")
    grant(roster, p, *permissions)
    for api in (admin_api, as_person(connect, p)):
        u, _ = api.users_api.retrieve(p.id)
        assert (u.groups, u.is_staff) == (groups, is_staff)
        if is_superuser is not None:
            assert u.is_superuser is is_superuser


def test_partial_update_changes_names_and_email_and_an_empty_patch_changes_nothing(roster, admin_api):
    p = new_person(roster, "grace", first="G", last="H")
    u, resp = admin_api.users_api.partial_update(
        p.id, patched_user_request=patch(first_name="Grace", last_name="Hopper", email="grace@example.org"))
    assert resp.status == 200
    assert (u.id, u.username, u.first_name, u.last_name, u.email) == (p.id, p.username, "Grace", "Hopper", "grace@example.org")
    assert names_on_scim(roster, p) == (p.username, "Grace", "Hopper", "grace@example.org")

    # No body at all (Content-Length: 0 with Content-Type: application/json) is {}.
    u, resp = admin_api.users_api.partial_update(p.id)
    assert resp.status == 200 and (u.first_name, u.last_name) == ("Grace", "Hopper")
    status, _, body = send(roster, "PATCH", f"/api/users/{p.id}", headers=admin_auth(roster), body={})
    assert status == 200 and body["first_name"] == "Grace", body
    assert names_on_scim(roster, p) == (p.username, "Grace", "Hopper", "grace@example.org")


def test_a_new_username_is_the_real_user_name_and_usernames_are_unique_ignoring_case(roster, admin_api):
    a, b = make_people(roster, [{"username": uniq("first")}, {"username": uniq("second")}])
    new = uniq("Renamed.me")
    u, _ = admin_api.users_api.partial_update(a.id, patched_user_request=patch(username=new))
    assert u.username == new
    assert scim_user(roster, a)["userName"] == new
    with pytest.raises(ApiException) as e:
        admin_api.users_api.partial_update(b.id, patched_user_request=patch(username=new.upper()))
    assert e.value.status == 400
    assert error_json(e.value) == {"username": ["A user with that username already exists."]}
    assert scim_user(roster, b)["userName"] == b.username
    # The SDK itself refuses to send a username outside CVAT's rule.
    with pytest.raises(ApiValueError):
        patch(username="has space")


def test_the_admin_sets_groups_and_the_new_group_is_what_the_user_can_do(roster, admin_api, connect):
    p, target = make_people(roster, [{"username": uniq("promoted")}, {"username": uniq("target")}])
    api = as_person(connect, p)
    assert keys_seen(api, target.id) == BASIC_KEYS
    u, _ = admin_api.users_api.partial_update(p.id, patched_user_request=patch(groups=["business"]))
    assert (u.groups, u.is_staff) == (["business"], False)
    u, _ = admin_api.users_api.partial_update(p.id, patched_user_request=patch(groups=["admin"]))
    assert (u.groups, u.is_staff, u.is_superuser) == (["admin"], True, True)
    # Now an admin: reads others in full and changes them.
    assert keys_seen(api, target.id) >= FULL_KEYS
    api.users_api.partial_update(target.id, patched_user_request=patch(first_name="Changed"))
    assert scim_user(roster, target)["name"]["givenName"] == "Changed"
    u, _ = admin_api.users_api.partial_update(p.id, patched_user_request=patch(groups=["user"]))
    assert (u.groups, u.is_staff, u.is_superuser) == (["user"], False, False)
    with pytest.raises(ForbiddenException):
        api.users_api.partial_update(target.id, patched_user_request=patch(first_name="Again"))
    # Roster keeps no worker group: refused, nothing changes.
    with pytest.raises(ApiException) as e:
        admin_api.users_api.partial_update(p.id, patched_user_request=patch(groups=["worker"]))
    assert e.value.status == 400 and isinstance(error_json(e.value), dict)
    assert admin_api.users_api.retrieve(p.id)[0].groups == ["user"]


def test_destroy_answers_204_and_the_user_is_gone_everywhere(roster, admin_api):
    p = new_person(roster, "doomed")
    data, resp = admin_api.users_api.destroy(p.id)
    assert data is None and resp.status == 204
    with pytest.raises(NotFoundException) as e:
        admin_api.users_api.retrieve(p.id)
    assert error_json(e.value) == {"detail": "Not found."}
    assert scim(roster, "GET", f"/Users/{p.uuid}")[0] == 404
    assert p.id not in {u["id"] for u in all_users(roster)}
    with pytest.raises(NotFoundException):
        admin_api.users_api.destroy(p.id)
    with pytest.raises(NotFoundException):
        admin_api.users_api.partial_update(p.id, patched_user_request=patch(first_name="Ghost"))
    # Ids no one ever had, and paths that are no id.
    with pytest.raises(NotFoundException) as e:
        admin_api.users_api.retrieve(987654321)
    assert error_json(e.value) == {"detail": "Not found."}
    for path in ("/api/users/abc", "/api/users/-1", "/api/users/99999999999999999999999"):
        status, _, body = send(roster, "GET", path, headers=admin_auth(roster))
        assert status in (400, 404) and isinstance(body, dict), (path, status, body)


def test_a_plain_user_changes_their_own_names_and_email_only(roster, connect):
    me, other = make_people(roster, [{"username": uniq("plain")}, {"username": uniq("neighbour"), "first": "Nina"}])
    api = as_person(connect, me)
    u, _ = api.users_api.partial_update(me.id, patched_user_request=patch(first_name="Pat", last_name="Plain",
                                                                          email="pat@example.net"))
    assert (u.first_name, u.last_name, u.email) == ("Pat", "Plain", "pat@example.net")
    assert names_on_scim(roster, me) == (me.username, "Pat", "Plain", "pat@example.net")
    with pytest.raises(ForbiddenException):
        api.users_api.partial_update(other.id, patched_user_request=patch(first_name="Hacked"))
    with pytest.raises(ForbiddenException):
        api.users_api.destroy(other.id)
    assert scim_user(roster, other)["name"]["givenName"] == "Nina"
    # Without credentials nothing at all.
    with pytest.raises(UnauthorizedException):
        connect().users_api.retrieve_self()
    with pytest.raises(UnauthorizedException):
        connect(username=me.username, password=me.password + "x").users_api.retrieve_self()


@pytest.mark.parametrize(
    "fields",
    [{"is_superuser": True}, {"is_staff": True}, {"groups": ["admin"]}, {"groups": ["business"]}, {"is_active": False}],
    ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()),
)
def test_a_plain_user_cannot_raise_or_disable_themself(roster, admin_api, connect, fields):
    p = new_person(roster, "climber", first="Cli")
    with pytest.raises(ForbiddenException):
        as_person(connect, p).users_api.partial_update(p.id, patched_user_request=patch(first_name="Changed", **fields))
    u, _ = admin_api.users_api.retrieve(p.id)
    assert (u.groups, u.is_staff, u.is_superuser, u.is_active, u.first_name) == (["user"], False, False, True, "Cli")
    assert scim_user(roster, p)["active"] is True


@pytest.mark.parametrize(
    "user_name",
    ["ada lovelace", "o'brien/ops team", "x" * 140 + " and then some more", "pipe|name" + "y" * 150],
    ids=["space", "quote-slash-space", "space-past-150", "long"],
)
def test_a_user_name_made_elsewhere_is_shown_valid_and_every_page_parses(roster, admin_api, user_name):
    first = "Ada" + secrets.token_hex(3)
    p = new_person(roster, username=user_name, first=first)
    shown = rendered(user_name)
    assert USERNAME_RE.match(shown) and len(shown) <= 150
    u, _ = admin_api.users_api.retrieve(p.id)
    assert u.username == shown
    page, _ = admin_api.users_api.list(search=first)
    assert [(x.id, x.username) for x in page.results] == [(p.id, shown)]
    page, _ = admin_api.users_api.list(page_size=100, sort="-id")
    assert shown in {x.username for x in page.results}
    with make_client(roster.base_url, credentials=(roster.admin_user, ADMIN_PASSWORD)) as client:
        assert shown in {x.username for x in client.users.list()}
        assert client.users.retrieve(p.id).username == shown
    # The stored userName is untouched until a PATCH sets a valid one.
    assert scim_user(roster, p)["userName"] == user_name
    fixed = uniq("fixed.name")
    admin_api.users_api.partial_update(p.id, patched_user_request=patch(username=fixed))
    assert scim_user(roster, p)["userName"] == fixed
    assert admin_api.users_api.retrieve(p.id)[0].username == fixed


BAD_PATCHES = [
    ({"username": "has space"}, "username"),
    ({"username": ""}, "username"),
    ({"username": "x" * 151}, "username"),
    ({"username": "slash/ed"}, "username"),
    ({"username": ["x"]}, "username"),
    ({"username": None}, "username"),
    ({"first_name": "x" * 151}, "first_name"),
    ({"last_name": "x" * 151}, "last_name"),
    ({"first_name": None}, "first_name"),
    ({"last_name": {"a": 1}}, "last_name"),
    ({"email": "a" * 243 + "@example.com"}, "email"),
    ({"email": ["a@example.com"]}, "email"),
    ({"is_active": "maybe"}, "is_active"),
    ({"is_staff": [True]}, "is_staff"),
    ({"groups": "admin"}, "groups"),
    ({"groups": ["worker"]}, "groups"),
    ({"groups": ["admin", "nonsense"]}, "groups"),
    ({"groups": [1]}, "groups"),
]


@pytest.mark.parametrize("body,key", BAD_PATCHES, ids=[f"{k}-{i}" for i, (_, k) in enumerate(BAD_PATCHES)])
def test_a_bad_patch_body_is_400_with_a_json_body_and_changes_nothing(roster, body, key):
    p = new_person(roster, "target", first="Tess", last="Target")
    before = scim_user(roster, p)
    status, _, got = send(roster, "PATCH", f"/api/users/{p.id}", headers=admin_auth(roster), body=body)
    assert status == 400, got
    assert isinstance(got, dict) and got, got
    after = scim_user(roster, p)
    assert (after["userName"], after["name"], after["active"]) == (before["userName"], before["name"], before["active"])
    assert get_user(roster, p.id)[2]["groups"] == ["user"]


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b'"first_name"', b"null", b'{"first_name": "a"} trailing', b"\xff\xfe"],
    ids=["truncated", "array", "string", "null", "trailing", "not-utf8"],
)
def test_a_patch_body_that_is_no_json_object_is_400(roster, raw):
    p = new_person(roster, "target", first="Tess")
    status, _, got = send(roster, "PATCH", f"/api/users/{p.id}", headers=admin_auth(roster), raw=raw)
    assert status == 400, got
    assert isinstance(got, dict), got
    assert scim_user(roster, p)["name"]["givenName"] == "Tess"
