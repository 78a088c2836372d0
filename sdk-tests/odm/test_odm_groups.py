"""ODM Groups through odm_api.GroupsApi: create_group, find_groups, get_group, patch_group, delete_group."""

from __future__ import annotations

import uuid

import odm_api
import pytest
from odm_api.exceptions import ApiException, BadRequestException, ForbiddenException, NotFoundException

from odm_helpers import (
    GROUP_SCHEMA,
    LIST_SCHEMA,
    assert_uuid,
    expect_error,
    group_body,
    group_patch,
    listed_ids,
    member_filter,
    member_ids,
    member_roles,
    op,
    page_through,
    uniq,
)


@pytest.fixture
def owner(make_actor):
    """A plain user (no permissions) who creates groups and so is their admin."""
    return make_actor("owner")


def new_group(actor, prefix: str = "group", **kwargs):
    return actor.groups.create_group(group_body(uniq(prefix), **kwargs))


def add_member(actor, group_id: str, user_id: str, role: str | None = None) -> None:
    value = {"value": user_id} if role is None else {"value": user_id, "role": role}
    actor.groups.patch_group(group_id, group_patch(op("add", path="members", value=value)))


def group_state(admin, group_id: str) -> dict:
    """What a failed request must leave untouched (read with the manage-groups admin)."""
    g = admin.groups.get_group(group_id)
    return {"group": g.model_dump(), "roles": member_roles(admin, group_id)}


# -- create_group ----------------------------------------------------------------------

def test_create_group_returns_201_and_makes_the_creator_its_admin(roster, admin, owner):
    body = group_body(uniq("Curators"), external_id=uniq("gx"), members=[])
    res = owner.groups.create_group_with_http_info(body)
    assert res.status_code == 201
    g = res.data
    assert_uuid(g.id)
    assert g.schemas == [GROUP_SCHEMA]
    assert (g.display_name, g.external_id) == (body.display_name, body.external_id)
    assert g.meta is not None and g.meta.resource_type == "Group"
    assert g.meta.created is not None and g.meta.last_modified is not None

    [member] = g.members
    assert member.value == owner.id
    assert member.display == owner.display_name
    assert member.ref.startswith("http") and member.ref.endswith(f"/api/v1/scim/Users/{owner.id}"), member.ref
    assert member_roles(owner, g.id) == {owner.id: "admin"}
    assert owner.groups.get_group(g.id).model_dump() == g.model_dump()
    assert admin.groups.get_group(g.id).model_dump() == g.model_dump()


def test_create_group_with_members_is_400(owner, make_actor):
    other = make_actor("would-be-member")
    name = uniq("withmembers")
    member = odm_api.CreateGroupRequestMembersInner(value=other.id, ref=f"/api/v1/scim/Users/{other.id}")
    expect_error(BadRequestException, owner.groups.create_group, group_body(name, members=[member]), status=400)
    assert owner.groups.find_groups(filter=f'displayName eq "{name}"').total_results == 0


def test_same_display_name_twice_makes_two_groups(owner):
    name = uniq("twins")
    first = owner.groups.create_group_with_http_info(group_body(name))
    second = owner.groups.create_group_with_http_info(group_body(name))
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.data.id != second.data.id
    found = owner.groups.find_groups(filter=f'displayName eq "{name}"')
    assert found.total_results == 2
    assert set(listed_ids(found)) == {first.data.id, second.data.id}


# -- find_groups -----------------------------------------------------------------------

def test_plain_user_sees_only_groups_they_belong_to(admin, make_actor):
    a, b = make_actor("alice"), make_actor("bob")
    ga, gb = new_group(a, "ga"), new_group(b, "gb")

    res = a.groups.find_groups_with_http_info()
    assert res.status_code == 200
    assert res.data.schemas == [LIST_SCHEMA]
    assert (res.data.total_results, listed_ids(res.data)) == (1, [ga.id])
    assert listed_ids(b.groups.find_groups()) == [gb.id]
    # A display-name filter does not reveal other people's groups either.
    assert a.groups.find_groups(filter=f'displayName eq "{gb.display_name}"').total_results == 0

    add_member(a, ga.id, b.id)
    assert set(listed_ids(b.groups.find_groups())) == {ga.id, gb.id}

    # The bootstrap admin has manage-groups and sees both.
    everything = listed_ids(admin.groups.find_groups(count=1000))
    assert {ga.id, gb.id} <= set(everything)


def test_manage_groups_permission_sees_and_manages_every_group(owner, make_actor):
    g = new_group(owner, "managed")
    manager = make_actor("manager", permissions=["manage-groups"])

    assert listed_ids(manager.groups.find_groups(filter=f'displayName eq "{g.display_name}"')) == [g.id]
    assert manager.groups.get_group(g.id).id == g.id
    res = manager.groups.patch_group_with_http_info(g.id, group_patch(op("replace", value={"displayName": "Renamed"})))
    assert res.status_code == 204
    assert owner.groups.get_group(g.id).display_name == "Renamed"
    assert manager.groups.delete_group_with_http_info(g.id).status_code == 204
    expect_error(NotFoundException, owner.groups.get_group, g.id, status=404)


@pytest.mark.parametrize("template", ['displayName eq "{}"', 'DISPLAYNAME EQ "{}"', 'displayname Eq "{}"'])
def test_find_groups_by_display_name(owner, template):
    wanted, _other = new_group(owner, "wanted"), new_group(owner, "other")
    page = owner.groups.find_groups(filter=template.format(wanted.display_name))
    assert (page.total_results, page.start_index, page.items_per_page) == (1, 1, 1)
    assert page.resources[0].model_dump() == wanted.model_dump()


def test_find_groups_without_match_is_an_empty_list(admin):
    page = admin.groups.find_groups(filter=f'displayName eq "{uniq("nothing")}"')
    assert page.total_results == 0
    assert page.resources == []


@pytest.mark.parametrize("filter_", [
    'displayName co "grp"',
    'displayName sw "grp"',
    'displayName ne "grp"',
    'displayName pr',
    'displayName eq "a" or displayName eq "b"',
    'displayName eq "a" and displayName eq "b"',
    'externalId eq "gx"',
    'displayName eq',
])
def test_find_groups_unsupported_filter_is_400_invalid_filter(admin, filter_):
    expect_error(BadRequestException, admin.groups.find_groups, filter=filter_, status=400, scim_type="invalidFilter")


def test_excluded_attributes_members(admin, owner, make_actor):
    g = new_group(owner, "excl")
    add_member(owner, g.id, make_actor("excl-member").id)
    new_group(owner, "excl")

    mine = owner.groups.find_groups(excluded_attributes="members")
    assert mine.total_results == 2
    assert all(grp.members is None for grp in mine.resources)
    assert all(grp.display_name for grp in mine.resources)
    assert all(grp.members is None for grp in admin.groups.find_groups(excluded_attributes="members", count=1000).resources)

    single = owner.groups.get_group_with_http_info(g.id, excluded_attributes="members")
    assert single.status_code == 200
    assert single.data.members is None
    assert "members" not in single.raw_data.decode()
    assert single.data.display_name == g.display_name


def test_other_excluded_attributes_are_ignored(owner):
    g = new_group(owner, "keep")
    got = owner.groups.get_group(g.id, excluded_attributes="displayName")
    assert got.model_dump() == g.model_dump()
    [listed] = owner.groups.find_groups(filter=f'displayName eq "{g.display_name}"', excluded_attributes="externalId").resources
    assert listed.model_dump() == g.model_dump()


def test_find_groups_paging(fresh_admin):
    created = {fresh_admin.groups.create_group(group_body(uniq("pg"))).id for _ in range(5)}

    default = fresh_admin.groups.find_groups()
    assert (default.total_results, default.start_index, default.items_per_page) == (5, 1, 5)
    assert set(listed_ids(default)) == created

    ids = page_through(fresh_admin.groups.find_groups, total=5, count=2)
    assert len(ids) == 5 and set(ids) == created

    past_end = fresh_admin.groups.find_groups(start_index=6, count=2)
    assert (past_end.total_results, past_end.start_index, past_end.items_per_page) == (5, 6, 0)
    assert not past_end.resources


# -- get_group -------------------------------------------------------------------------

def test_get_group_as_plain_member(owner, make_actor):
    g = new_group(owner, "visible")
    member = make_actor("member")
    add_member(owner, g.id, member.id)
    res = member.groups.get_group_with_http_info(g.id)
    assert res.status_code == 200
    assert res.data.id == g.id
    assert member_ids(res.data) == {owner.id, member.id}


def test_get_group_not_a_member_is_404(owner, make_actor):
    g = new_group(owner, "hidden")
    outsider = make_actor("outsider")
    expect_error(NotFoundException, outsider.groups.get_group, g.id, status=404)


def test_get_group_unknown_id_is_404(admin):
    expect_error(NotFoundException, admin.groups.get_group, str(uuid.uuid4()), status=404)


def test_get_group_malformed_id_is_400(admin):
    expect_error(BadRequestException, admin.groups.get_group, "not-a-uuid", status=400)


# -- patch_group -----------------------------------------------------------------------

def test_patch_group_replaces_display_name_and_external_id(owner):
    g = new_group(owner, "before", external_id="old-ext")
    res = owner.groups.patch_group_with_http_info(
        g.id, group_patch(op("replace", value={"displayName": "After", "externalId": "new-ext"}))
    )
    assert res.status_code == 204
    assert res.data is None
    got = owner.groups.get_group(g.id)
    assert (got.display_name, got.external_id) == ("After", "new-ext")
    assert member_ids(got) == {owner.id}

    owner.groups.patch_group(g.id, group_patch(op("replace", path="displayName", value={"displayName": "Path Form"})))
    assert owner.groups.get_group(g.id).display_name == "Path Form"


def test_patch_group_adds_and_removes_members(owner, make_actor):
    g = new_group(owner, "team")
    u1, u2 = make_actor("m1"), make_actor("m2")

    res = owner.groups.patch_group_with_http_info(g.id, group_patch(op("add", path="members", value={"value": u1.id})))
    assert res.status_code == 204
    # The other form the SDK can send: no path, a members array inside the value object.
    owner.groups.patch_group(g.id, group_patch(op("add", value={"members": [{"value": u2.id}]})))

    got = owner.groups.get_group(g.id)
    assert member_ids(got) == {owner.id, u1.id, u2.id}
    by_id = {m.value: m for m in got.members}
    assert by_id[u1.id].display == u1.display_name
    assert by_id[u1.id].ref.endswith(f"/api/v1/scim/Users/{u1.id}")
    assert member_roles(owner, g.id) == {owner.id: "admin", u1.id: "member", u2.id: "member"}

    res = owner.groups.patch_group_with_http_info(g.id, group_patch(op("remove", path=member_filter(u1.id))))
    assert res.status_code == 204
    assert member_ids(owner.groups.get_group(g.id)) == {owner.id, u2.id}


def test_group_admin_promotes_a_member(owner, make_actor):
    g = new_group(owner, "promo")
    deputy, third = make_actor("deputy"), make_actor("third")
    add_member(owner, g.id, deputy.id)
    expect_error(ForbiddenException, deputy.groups.patch_group, g.id,
                 group_patch(op("add", path="members", value={"value": third.id})), status=403)

    add_member(owner, g.id, deputy.id, role="admin")  # an existing member: the role changes
    assert member_roles(owner, g.id) == {owner.id: "admin", deputy.id: "admin"}

    # The new admin can now do what admins do.
    add_member(deputy, g.id, third.id)
    assert member_roles(deputy, g.id) == {owner.id: "admin", deputy.id: "admin", third.id: "member"}
    assert deputy.groups.delete_group_with_http_info(g.id).status_code == 204


def test_patch_group_as_plain_member_is_403(admin, owner, make_actor):
    g = new_group(owner, "locked")
    member = make_actor("member")
    add_member(owner, g.id, member.id)
    before = group_state(admin, g.id)
    expect_error(ForbiddenException, member.groups.patch_group, g.id,
                 group_patch(op("replace", value={"displayName": "Hijacked"})), status=403)
    assert group_state(admin, g.id) == before


def test_patch_group_as_non_member_is_403_or_404(admin, owner, make_actor, record_property):
    g = new_group(owner, "locked")
    outsider = make_actor("outsider")
    before = group_state(admin, g.id)
    with pytest.raises(ApiException) as info:
        outsider.groups.patch_group(g.id, group_patch(op("replace", value={"displayName": "Hijacked"})))
    record_property("non_member_patch_status", info.value.status)
    print(f"patch_group by a non-member answered {info.value.status}")
    assert info.value.status in (403, 404), info.value.body
    assert type(info.value) is {403: ForbiddenException, 404: NotFoundException}[info.value.status]
    assert group_state(admin, g.id) == before


@pytest.mark.parametrize("patch_op", [
    op("replace", value={"id": "3f0c5c5e-0000-4000-8000-000000000000"}),
    op("replace", path="id", value={"id": "3f0c5c5e-0000-4000-8000-000000000000"}),
], ids=["no-path", "path"])
def test_patch_group_id_is_400(admin, owner, patch_op):
    g = new_group(owner, "fixed-id")
    before = group_state(admin, g.id)
    expect_error(BadRequestException, owner.groups.patch_group, g.id, group_patch(patch_op), status=400)
    assert group_state(admin, g.id) == before


def test_patch_group_adding_unknown_user_is_400_and_atomic(admin, owner, make_actor):
    g = new_group(owner, "atomic")
    u = make_actor("valid")
    before = group_state(admin, g.id)
    body = group_patch(
        op("replace", value={"displayName": "Should Not Stick"}),
        op("add", path="members", value={"value": u.id}),
        op("add", path="members", value={"value": str(uuid.uuid4())}),
    )
    expect_error(BadRequestException, owner.groups.patch_group, g.id, body, status=400)
    assert group_state(admin, g.id) == before


def test_patch_group_unknown_attributes_are_ignored(admin, owner):
    g = new_group(owner, "ignore")
    before = group_state(admin, g.id)
    res = owner.groups.patch_group_with_http_info(g.id, group_patch(op("replace", value={"description": "x"})))
    assert res.status_code == 204
    after = group_state(admin, g.id)
    assert after["group"]["display_name"] == before["group"]["display_name"]
    assert after["roles"] == before["roles"]


def test_patch_unknown_group_is_404(admin):
    expect_error(NotFoundException, admin.groups.patch_group, str(uuid.uuid4()),
                 group_patch(op("replace", value={"displayName": "x"})), status=404)


def test_patch_group_malformed_id_is_400(admin):
    expect_error(BadRequestException, admin.groups.patch_group, "not-a-uuid",
                 group_patch(op("replace", value={"displayName": "x"})), status=400)


# -- delete_group ----------------------------------------------------------------------

def test_delete_group_by_its_admin_keeps_members_active(admin, owner, make_actor):
    g = new_group(owner, "doomed")
    member = make_actor("survivor")
    add_member(owner, g.id, member.id)

    res = owner.groups.delete_group_with_http_info(g.id)
    assert res.status_code == 204
    assert res.data is None
    expect_error(NotFoundException, owner.groups.get_group, g.id, status=404)
    expect_error(NotFoundException, admin.groups.get_group, g.id, status=404)
    assert g.id not in listed_ids(admin.groups.find_groups(count=1000))
    for user in (owner, member):
        got = admin.users.get_user_with_http_info(user.id)
        assert got.status_code == 200 and got.data.active is True


@pytest.mark.parametrize("relation", ["plain-member", "non-member"])
def test_delete_group_needs_group_admin(admin, owner, make_actor, relation):
    g = new_group(owner, "protected")
    caller = make_actor(relation)
    if relation == "plain-member":
        add_member(owner, g.id, caller.id)
    before = group_state(admin, g.id)
    expect_error(ForbiddenException, caller.groups.delete_group, g.id, status=403)
    assert group_state(admin, g.id) == before


def test_delete_unknown_group_is_404(admin):
    expect_error(NotFoundException, admin.groups.delete_group, str(uuid.uuid4()), status=404)


def test_delete_group_malformed_id_is_400(admin):
    expect_error(BadRequestException, admin.groups.delete_group, "not-a-uuid", status=400)
