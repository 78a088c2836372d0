"""Organizations as cvat-sdk 2.80.0 asks for them: `org=<slug>`, `org_id=<int>` and the
`X-Organization` header (`x_organization=`, and the high-level `client.organization_slug` /
`organization_context` / `list(org_id=...)`) narrow list and retrieve to the members.
Organizations are made with `roster org create|list|delete` and filled through SCIM
(PATCH /scim/v2/Groups/<uuid>), which also shows the slug in Roster's group extension."""

from __future__ import annotations

import secrets
import uuid

import pytest
from cvat_sdk import make_client
from cvat_sdk.api_client.exceptions import NotFoundException

from conftest import (
    ADMIN_PASSWORD,
    ROSTER_GROUP_EXT,
    add_members,
    create_org,
    error_json,
    list_page,
    make_people,
    org_rows,
    remove_member,
    scim,
    uniq,
)


def new_slug() -> str:
    return "org-" + secrets.token_hex(3)


def ids(users) -> set[int]:
    return {u.id for u in users}


@pytest.fixture(scope="module")
def team(roster):
    """An organization with two members, and one user outside it."""
    org = create_org(roster, new_slug(), name="The Team")
    inside_a, inside_b, outside = make_people(
        roster, [{"username": uniq("member")}, {"username": uniq("member")}, {"username": uniq("outsider")}])
    add_members(roster, org, inside_a, inside_b)
    return org, [inside_a, inside_b], outside


def test_roster_org_create_list_delete_and_the_scim_group(roster):
    slug = new_slug()
    out = roster.cli("org", "create", slug, "--name", "Acme Research").stdout
    group = out.strip()
    assert len(out.strip().splitlines()) == 1 and str(uuid.UUID(group)) == group, out
    org = org_rows(roster)[slug]
    assert (org.uuid, org.name) == (group, "Acme Research") and org.id > 0
    status, _, body = scim(roster, "GET", f"/Groups/{group}")
    assert status == 200, body
    assert body[ROSTER_GROUP_EXT]["slug"] == slug, body
    # Without --name, and a second org gets its own integer id.
    other = create_org(roster, new_slug())
    assert other.id != org.id and other.uuid != org.uuid
    # Empty: a list in it is an empty page, not a 404.
    status, _, page = list_page(roster, org=slug)
    assert status == 200 and (page["count"], page["results"]) == (0, []), page
    roster.cli("org", "delete", slug)
    assert slug not in org_rows(roster) and other.slug in org_rows(roster)
    status, _, body = list_page(roster, org=slug)
    assert status == 404 and isinstance(body, dict), body
    roster.cli("org", "delete", other.slug)


@pytest.mark.parametrize("how", ["org", "org_id", "x_organization"])
def test_list_and_retrieve_in_an_organization_show_only_its_members(roster, admin_api, team, how):
    org, members, outside = team
    scope = {"org": {"org": org.slug}, "org_id": {"org_id": org.id}, "x_organization": {"x_organization": org.slug}}[how]
    page, _ = admin_api.users_api.list(page_size=100, **scope)
    assert page.count == 2 and ids(page.results) == {m.id for m in members}
    got, _ = admin_api.users_api.retrieve(members[0].id, **scope)
    assert got.username == members[0].username
    with pytest.raises(NotFoundException) as e:
        admin_api.users_api.retrieve(outside.id, **scope)
    assert error_json(e.value) == {"detail": "Not found."}
    # Scopes combine with the other parameters.
    page, _ = admin_api.users_api.list(username=members[1].username, **scope)
    assert ids(page.results) == {members[1].id}
    page, _ = admin_api.users_api.list(username=outside.username, **scope)
    assert page.count == 0


@pytest.mark.parametrize(
    "scope",
    [{"org": "no-such-org"}, {"org_id": 987654}, {"x_organization": "no-such-org"}],
    ids=["org", "org_id", "x_organization"],
)
def test_an_unknown_organization_is_404(roster, admin_api, team, scope):
    with pytest.raises(NotFoundException) as e:
        admin_api.users_api.list(**scope)
    assert isinstance(error_json(e.value), dict)
    with pytest.raises(NotFoundException):
        admin_api.users_api.retrieve(team[1][0].id, **scope)


def test_an_empty_org_means_no_organization(roster, admin_api, team):
    everyone, _ = admin_api.users_api.list(page_size=100)
    unscoped, _ = admin_api.users_api.list(page_size=100, org="")
    assert unscoped.count == everyone.count and ids(unscoped.results) == ids(everyone.results)
    assert team[2].id in ids(unscoped.results)
    got, _ = admin_api.users_api.retrieve(team[2].id, org="")
    assert got.id == team[2].id


def test_the_high_level_client_in_an_organization(roster, team):
    org, members, outside = team
    with make_client(roster.base_url, credentials=(roster.admin_user, ADMIN_PASSWORD)) as client:
        everyone = ids(client.users.list())
        assert {m.id for m in members} | {outside.id} <= everyone
        client.organization_slug = org.slug  # X-Organization on every request
        assert ids(client.users.list()) == {m.id for m in members}
        with pytest.raises(NotFoundException):
            client.users.retrieve(outside.id)
        # list(org_id=None) drops the header and asks for no organization (org="").
        assert ids(client.users.list(org_id=None)) == everyone
        assert ids(client.users.list(org_id=org.id)) == {m.id for m in members}
        client.organization_slug = None
        with client.organization_context(org.slug):
            assert ids(client.users.list()) == {m.id for m in members}
        assert ids(client.users.list()) == everyone


def test_membership_changes_through_scim_show_at_once(roster, admin_api):
    org = create_org(roster, new_slug(), name="Changing")
    a, b = make_people(roster, [{"username": uniq("joiner")}, {"username": uniq("joiner")}])
    add_members(roster, org, a)
    assert ids(admin_api.users_api.list(org=org.slug)[0].results) == {a.id}
    add_members(roster, org, b)
    assert ids(admin_api.users_api.list(org=org.slug)[0].results) == {a.id, b.id}
    status, _, group = scim(roster, "GET", f"/Groups/{org.uuid}")
    assert status == 200 and {m["value"] for m in group.get("members", [])} == {a.uuid, b.uuid}, group
    remove_member(roster, org, a)
    assert ids(admin_api.users_api.list(org_id=org.id)[0].results) == {b.id}
    with pytest.raises(NotFoundException):
        admin_api.users_api.retrieve(a.id, org=org.slug)
    # A deleted user leaves the organization too.
    admin_api.users_api.destroy(b.id)
    page, _ = admin_api.users_api.list(x_organization=org.slug)
    assert page.count == 0 and page.results == []
