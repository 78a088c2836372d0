"""ODM Users through odm_api.UsersApi: create_user, find_users, get_user, patch_user, delete_user."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import pytest
from odm_api.exceptions import (
    BadRequestException,
    ConflictException,
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)

from odm_helpers import (
    LIST_SCHEMA,
    USER_SCHEMA,
    USERS_PATH,
    assert_uuid,
    email,
    expect_error,
    header,
    listed_ids,
    op,
    page_through,
    raw_json,
    uniq,
    user_body,
    user_patch,
)

JSON_CONTENT_TYPE = re.compile(r"^application/(json|[\w.-]+\+json)\s*(;|$)", re.I)


def assert_user_matches(user, body) -> None:
    """The user returned by the server carries what `body` (a CreateUserRequest) asked for."""
    assert_uuid(user.id)
    assert user.schemas == [USER_SCHEMA]
    assert user.user_name == body.user_name
    assert user.display_name == body.display_name
    assert user.external_id == body.external_id
    assert user.active is body.active
    assert [(e.type, e.value) for e in user.emails] == [(e.type, e.value) for e in body.emails]
    assert user.meta is not None
    assert user.meta.resource_type == "User"
    assert user.meta.created is not None and user.meta.last_modified is not None
    assert user.meta.last_modified >= user.meta.created


def find_by_name(admin, user_name: str):
    return admin.users.find_users(filter=f'userName eq "{user_name}"')


# -- create_user -----------------------------------------------------------------------

def test_create_user_returns_201_and_the_full_user(admin):
    body = user_body(uniq("bjensen"), "Barbara Jensen", external_id=uniq("ext"))
    res = admin.users.create_user_with_http_info(body)
    assert res.status_code == 201
    content_type = header(res, "Content-Type")
    assert content_type and JSON_CONTENT_TYPE.match(content_type), content_type
    assert_user_matches(res.data, body)
    assert res.data.emails[0].primary is True
    # It is really stored: get_user returns the same user.
    again = admin.users.get_user(res.data.id)
    assert again.model_dump() == res.data.model_dump()


def test_create_user_with_only_the_required_fields(admin):
    body = user_body(uniq("minimal"), "Minimal", emails=[])
    created = admin.users.create_user_with_http_info(body)
    assert created.status_code == 201
    assert_user_matches(created.data, body)
    assert created.data.emails == []
    assert created.data.external_id is None


def test_create_user_twice_with_same_username_upserts_case_insensitively(admin):
    name = uniq("bjensen")
    first = admin.users.create_user(user_body(name, "First Name", external_id="e1"))
    res = admin.users.create_user_with_http_info(
        user_body(name.upper(), "Second Name", external_id="e2", emails=[email(f"second-{name}@example.com")])
    )
    assert res.status_code == 201
    assert res.data.id == first.id
    assert res.data.display_name == "Second Name"
    assert res.data.external_id == "e2"
    assert [e.value for e in res.data.emails] == [f"second-{name}@example.com"]
    assert res.data.user_name.lower() == name.lower()
    # Still one user, carrying the update.
    found = find_by_name(admin, name)
    assert found.total_results == 1
    assert found.resources[0].id == first.id
    assert admin.users.get_user(first.id).display_name == "Second Name"


def test_upsert_applies_active_and_reactivates_a_deleted_user(admin, make_user):
    user = make_user("reactivate")
    admin.users.delete_user(user.id)
    expect_error(NotFoundException, admin.users.get_user, user.id, status=404)

    res = admin.users.create_user_with_http_info(user_body(user.user_name, "Back Again", active=True))
    assert res.status_code == 201
    assert res.data.id == user.id
    assert res.data.active is True
    assert admin.users.get_user(user.id).display_name == "Back Again"
    assert listed_ids(find_by_name(admin, user.user_name)) == [user.id]


def test_upsert_with_active_false_deactivates(admin, make_user):
    user = make_user("upsert-off")
    res = admin.users.create_user_with_http_info(user_body(user.user_name, user.display_name, active=False))
    assert res.status_code == 201
    assert res.data.id == user.id
    assert res.data.active is False
    expect_error(NotFoundException, admin.users.get_user, user.id, status=404)
    assert find_by_name(admin, user.user_name).total_results == 0


def test_create_user_with_two_emails_is_400(admin):
    name = uniq("twomail")
    body = user_body(name, emails=[email(f"a-{name}@example.com"), email(f"b-{name}@example.com", primary=False)])
    expect_error(BadRequestException, admin.users.create_user, body, status=400)
    assert find_by_name(admin, name).total_results == 0


def test_create_user_with_a_password_is_400(roster, admin):
    # The SDK model has no password field; send the body the SDK would send, plus one.
    name = uniq("withpw")
    body = user_body(name).to_dict()
    body["password"] = "s3cret-Passw0rd"
    status, _, err = roster.http(
        "POST", USERS_PATH, headers={"Genestack-API-Token": admin.token, "Accept": "application/scim+json"}, body=body
    )
    assert status == 400, err
    assert err["status"] == "400"
    assert find_by_name(admin, name).total_results == 0


# -- find_users ------------------------------------------------------------------------

def test_find_users_by_username(admin, make_user):
    wanted, _other = make_user("findme"), make_user("other")
    res = admin.users.find_users_with_http_info(filter=f'userName eq "{wanted.user_name}"')
    assert res.status_code == 200
    page = res.data
    assert page.schemas == [LIST_SCHEMA]
    assert (page.total_results, page.start_index, page.items_per_page) == (1, 1, 1)
    assert page.resources[0].model_dump() == wanted.model_dump()
    assert "Resources" in raw_json(res)  # capital R, or the SDK silently sees no resources


@pytest.mark.parametrize("template", [
    'USERNAME EQ "{name}"',
    'username Eq "{name}"',
    'userName eq "{name}"',
])
def test_find_users_attribute_and_operator_are_case_insensitive(admin, make_user, template):
    user = make_user("ci")
    page = admin.users.find_users(filter=template.format(name=user.user_name))
    assert listed_ids(page) == [user.id]


def test_find_users_by_work_email(admin, make_user):
    user, _other = make_user("mail"), make_user("mail")
    addr = user.emails[0].value
    page = admin.users.find_users(filter=f'emails[type eq "work" and value eq "{addr}"]')
    assert page.total_results == 1
    assert listed_ids(page) == [user.id]


def test_find_users_email_and_username_combined(admin, make_user):
    a, b = make_user("combo"), make_user("combo")
    a_mail = a.emails[0].value
    both = admin.users.find_users(filter=f'emails[type eq "work" and value eq "{a_mail}"] and userName eq "{a.user_name}"')
    assert listed_ids(both) == [a.id]
    crossed = admin.users.find_users(
        filter=f'EMAILS[TYPE EQ "work" AND VALUE EQ "{a_mail}"] AND USERNAME EQ "{b.user_name}"'
    )
    assert crossed.total_results == 0


def test_find_users_without_match_is_an_empty_list(admin):
    page = admin.users.find_users(filter=f'userName eq "{uniq("nobody")}"')
    assert page.total_results == 0
    assert page.resources == []


def test_find_users_lists_only_active_users(admin, make_user):
    active, inactive = make_user("listed"), make_user("unlisted", active=False)
    everyone = admin.users.find_users(count=1000)
    ids = listed_ids(everyone)
    assert active.id in ids and admin.id in ids
    assert inactive.id not in ids
    assert all(u.active for u in everyone.resources)
    assert find_by_name(admin, inactive.user_name).total_results == 0


def test_filter_parameter_name_is_case_sensitive(roster, admin, make_user):
    make_user("param")
    everyone = admin.users.find_users(count=1000).total_results
    q = quote(f'userName eq "{uniq("nobody")}"')
    status, _, body = roster.http("GET", f"{USERS_PATH}?FILTER={q}&count=1000",
                                  headers={"Genestack-API-Token": admin.token})
    assert status == 200, body
    assert body["totalResults"] == everyone


@pytest.mark.parametrize("filter_", [
    'userName co "adm"',
    'userName sw "adm"',
    'userName ew "min"',
    'userName ne "admin"',
    'userName pr',
    'userName gt "a"',
    'userName eq "admin" or userName eq "x"',
    'not (userName eq "admin")',
    'userName eq',
])
def test_find_users_unsupported_filter_is_400_invalid_filter(admin, filter_):
    expect_error(BadRequestException, admin.users.find_users, filter=filter_, status=400, scim_type="invalidFilter")


def test_find_users_paging(fresh_admin):
    created = [fresh_admin.users.create_user(user_body(uniq("page"))).id for _ in range(5)]
    everyone = {fresh_admin.id, *created}

    default = fresh_admin.users.find_users()
    assert (default.total_results, default.start_index, default.items_per_page) == (6, 1, 6)
    assert set(listed_ids(default)) == everyone

    ids = page_through(fresh_admin.users.find_users, total=6, count=4)
    assert len(ids) == 6 and set(ids) == everyone
    ids = page_through(fresh_admin.users.find_users, total=6, count=2)
    assert len(ids) == 6 and set(ids) == everyone

    past_end = fresh_admin.users.find_users(start_index=7, count=2)
    assert (past_end.total_results, past_end.start_index, past_end.items_per_page) == (6, 7, 0)
    assert not past_end.resources


def test_find_users_default_count_is_100_and_count_is_capped_at_1000(fresh_admin):
    for i in range(1001):
        fresh_admin.users.create_user(user_body(f"bulk-{i:04d}"))
    total = 1002  # with the bootstrap admin

    default = fresh_admin.users.find_users()
    assert (default.total_results, default.start_index, default.items_per_page) == (total, 1, 100)
    assert len(default.resources) == 100

    for asked in (1000, 5000):
        page = fresh_admin.users.find_users(count=asked)
        assert (page.total_results, page.items_per_page, len(page.resources)) == (total, 1000, 1000), asked

    tail = fresh_admin.users.find_users(start_index=1001, count=5000)
    assert (tail.start_index, tail.items_per_page, len(tail.resources)) == (1001, 2, 2)


# -- get_user --------------------------------------------------------------------------

def test_get_user(admin, make_user):
    user = make_user("get", external_id=uniq("ext"))
    res = admin.users.get_user_with_http_info(user.id)
    assert res.status_code == 200
    assert res.data.model_dump() == user.model_dump()


def test_get_user_unknown_id_is_404(admin):
    expect_error(NotFoundException, admin.users.get_user, str(uuid.uuid4()), status=404)


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "12345", "u 1/x"])
def test_get_user_malformed_id_is_400(admin, bad_id):
    expect_error(BadRequestException, admin.users.get_user, bad_id, status=400)


def test_get_deleted_user_is_404(admin, make_user):
    user = make_user("gone")
    admin.users.delete_user(user.id)
    expect_error(NotFoundException, admin.users.get_user, user.id, status=404)


# -- patch_user ------------------------------------------------------------------------

def test_patch_user_replace_without_path(admin, make_user):
    user = make_user("patch")
    res = admin.users.patch_user_with_http_info(
        user.id, user_patch(op("replace", value={"displayName": "Babs", "externalId": "ext-9"}))
    )
    assert res.status_code == 200
    assert res.data.id == user.id
    assert (res.data.display_name, res.data.external_id) == ("Babs", "ext-9")
    assert res.data.user_name == user.user_name
    assert res.data.meta.last_modified >= user.meta.last_modified
    assert res.data.meta.created == user.meta.created
    assert admin.users.get_user(user.id).model_dump() == res.data.model_dump()


def test_patch_user_replace_with_path(admin, make_user):
    user = make_user("patchpath")
    res = admin.users.patch_user_with_http_info(
        user.id, user_patch(op("replace", path="displayName", value={"displayName": "Path Form"}))
    )
    assert res.status_code == 200
    assert res.data.display_name == "Path Form"
    assert admin.users.get_user(user.id).display_name == "Path Form"


def test_patch_user_add_and_remove(admin, make_user):
    user = make_user("addrm")
    added = admin.users.patch_user(user.id, user_patch(op("add", value={"externalId": "added-ext"})))
    assert added.external_id == "added-ext"
    removed = admin.users.patch_user_with_http_info(user.id, user_patch(op("remove", path="externalId")))
    assert removed.status_code == 200
    assert removed.data.external_id is None
    assert admin.users.get_user(user.id).external_id is None


def test_patch_user_renames(admin, make_user):
    user = make_user("rename")
    new_name = uniq("renamed")
    res = admin.users.patch_user(user.id, user_patch(op("replace", path="userName", value={"userName": new_name})))
    assert res.user_name == new_name
    assert listed_ids(find_by_name(admin, new_name)) == [user.id]
    assert find_by_name(admin, user.user_name).total_results == 0


def test_patch_user_active_false_then_true(admin, make_user):
    user = make_user("toggle")
    off = admin.users.patch_user_with_http_info(user.id, user_patch(op("replace", value={"active": False})))
    assert off.status_code == 200
    assert off.data.active is False
    expect_error(NotFoundException, admin.users.get_user, user.id, status=404)

    on = admin.users.patch_user(user.id, user_patch(op("replace", path="active", value={"active": True})))
    assert on.active is True
    assert admin.users.get_user(user.id).active is True


@pytest.mark.parametrize("patch_op", [
    op("replace", value={"id": "3f0c5c5e-0000-4000-8000-000000000000"}),
    op("replace", path="id", value={"id": "3f0c5c5e-0000-4000-8000-000000000000"}),
], ids=["no-path", "path"])
def test_patch_user_id_is_400_mutability(admin, make_user, patch_op):
    user = make_user("patchid")
    expect_error(BadRequestException, admin.users.patch_user, user.id, user_patch(patch_op),
                 status=400, scim_type="mutability")
    assert admin.users.get_user(user.id).model_dump() == user.model_dump()


def test_patch_user_emails_is_400(admin, make_user):
    user = make_user("patchmail")
    body = user_patch(op("replace", value={"emails": [{"type": "work", "value": f"new-{user.user_name}@example.com"}]}))
    expect_error(BadRequestException, admin.users.patch_user, user.id, body, status=400)
    assert admin.users.get_user(user.id).emails == user.emails


@pytest.mark.parametrize("patch_op", [
    op("replace", path="name.familyName", value={"familyName": "Jensen"}),
    op("replace", value={"name": {"familyName": "Jensen"}}),
    op("add", value={"nickName": "Babs"}),
], ids=["path", "no-path", "add"])
def test_patch_user_unknown_attributes_are_ignored(admin, make_user, patch_op):
    user = make_user("unknown")
    res = admin.users.patch_user_with_http_info(user.id, user_patch(patch_op))
    assert res.status_code == 200
    assert res.data.id == user.id
    assert res.data.display_name == user.display_name
    assert res.data.user_name == user.user_name


def test_patch_user_is_atomic(admin, make_user):
    user = make_user("atomic")
    body = user_patch(
        op("replace", value={"displayName": "Should Not Stick"}),
        op("replace", path="id", value={"id": str(uuid.uuid4())}),
    )
    expect_error(BadRequestException, admin.users.patch_user, user.id, body, status=400)
    assert admin.users.get_user(user.id).model_dump() == user.model_dump()


def test_patch_user_atomic_on_conflict(admin, make_user):
    user, other = make_user("atomic2"), make_user("taken")
    body = user_patch(
        op("replace", value={"displayName": "Should Not Stick"}),
        op("replace", value={"userName": other.user_name}),
    )
    expect_error(ConflictException, admin.users.patch_user, user.id, body, status=409, scim_type="uniqueness")
    assert admin.users.get_user(user.id).model_dump() == user.model_dump()


@pytest.mark.parametrize("case", [str, str.upper], ids=["same-case", "other-case"])
def test_patch_user_rename_to_taken_username_is_409(admin, make_user, case):
    user, other = make_user("mover"), make_user("holder")
    body = user_patch(op("replace", path="userName", value={"userName": case(other.user_name)}))
    expect_error(ConflictException, admin.users.patch_user, user.id, body, status=409, scim_type="uniqueness")
    assert admin.users.get_user(user.id).user_name == user.user_name


def test_patch_deactivated_user(admin, make_user):
    user = make_user("dormant")
    admin.users.delete_user(user.id)
    res = admin.users.patch_user_with_http_info(user.id, user_patch(op("replace", value={"displayName": "Dormant"})))
    assert res.status_code == 200
    assert (res.data.active, res.data.display_name) == (False, "Dormant")
    expect_error(NotFoundException, admin.users.get_user, user.id, status=404)

    revived = admin.users.patch_user(user.id, user_patch(op("replace", value={"active": True})))
    assert (revived.active, revived.display_name) == (True, "Dormant")
    assert admin.users.get_user(user.id).display_name == "Dormant"


def test_patch_unknown_user_is_404(admin):
    body = user_patch(op("replace", value={"displayName": "Nobody"}))
    expect_error(NotFoundException, admin.users.patch_user, str(uuid.uuid4()), body, status=404)


def test_patch_malformed_id_is_400(admin):
    body = user_patch(op("replace", value={"displayName": "Nobody"}))
    expect_error(BadRequestException, admin.users.patch_user, "not-a-uuid", body, status=400)


# -- delete_user -----------------------------------------------------------------------

def test_delete_user_deactivates(admin, make_user):
    user = make_user("delete")
    res = admin.users.delete_user_with_http_info(user.id)
    assert res.status_code == 204
    assert res.data is None
    expect_error(NotFoundException, admin.users.get_user, user.id, status=404)
    assert find_by_name(admin, user.user_name).total_results == 0
    assert user.id not in listed_ids(admin.users.find_users(count=1000))
    # Still there, deactivated: patch works and shows it.
    patched = admin.users.patch_user(user.id, user_patch(op("replace", value={"externalId": "after-delete"})))
    assert (patched.id, patched.active, patched.external_id) == (user.id, False, "after-delete")


def test_delete_unknown_user_is_404(admin):
    expect_error(NotFoundException, admin.users.delete_user, str(uuid.uuid4()), status=404)


def test_delete_malformed_id_is_400(admin):
    expect_error(BadRequestException, admin.users.delete_user, "not-a-uuid", status=400)


def test_deleted_users_token_stops_working(admin, make_actor):
    user = make_actor("leaver")
    assert user.groups.find_groups_with_http_info().status_code == 200
    admin.users.delete_user(user.id)
    with pytest.raises(UnauthorizedException) as info:
        user.groups.find_groups()
    assert info.value.status == 401


# -- permissions -----------------------------------------------------------------------

USER_METHODS = {
    "create_user": lambda api, target: api.create_user(user_body(uniq("forbidden"))),
    "find_users": lambda api, target: api.find_users(),
    "get_user": lambda api, target: api.get_user(target.id),
    "patch_user": lambda api, target: api.patch_user(target.id, user_patch(op("replace", value={"displayName": "X"}))),
    "delete_user": lambda api, target: api.delete_user(target.id),
}


@pytest.mark.parametrize("method", USER_METHODS)
def test_user_methods_need_manage_organization(admin, make_user, make_actor, method):
    plain = make_actor("plain")
    target = make_user("target")
    expect_error(ForbiddenException, USER_METHODS[method], plain.users, target, status=403)
    assert admin.users.get_user(target.id).model_dump() == target.model_dump()


def test_manage_groups_alone_does_not_allow_user_methods(make_user, make_actor):
    group_admin = make_actor("gadmin", permissions=["manage-groups"])
    expect_error(ForbiddenException, group_admin.users.find_users, status=403)


def test_granted_manage_organization_allows_user_methods(make_user, make_actor):
    org_admin = make_actor("orgadmin", permissions=["manage-organization"])
    target = make_user("target")
    assert org_admin.users.get_user(target.id).id == target.id
    assert listed_ids(org_admin.users.find_users(filter=f'userName eq "{target.user_name}"')) == [target.id]
    created = org_admin.users.create_user_with_http_info(user_body(uniq("by-orgadmin")))
    assert created.status_code == 201
    assert org_admin.users.delete_user_with_http_info(created.data.id).status_code == 204
