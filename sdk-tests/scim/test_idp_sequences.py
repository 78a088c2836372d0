"""Identity-provider provisioning sequences against `/scim/v2`, replayed with `scim2-client`.

The request bodies are the ones Microsoft Entra ID and Okta send (their SCIM provisioning
documentation shows them); where scim2-client's typed API would reshape a body (Entra's
`"op": "Replace"`, string booleans, `"$ref": null` members, Okta's path-less replace with `id`
in the value), the literal body is sent through the same scim2-client and scim2-client reads the
response (`IdP.send`). Every step asserts the status code, the returned attributes, and that
a GET afterwards shows the change.

Expected statuses follow RFC 7644 and the issue: POST 201, GET/PUT 200, PATCH 200 with the
resource (RFC 7644 §3.5.2 also allows 204, the issue asks for 200), DELETE 204, missing 404.
"""

from __future__ import annotations

import pytest
from scim2_models import Context, Error, Group, ListResponse

from scim_helpers import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    LIST_SCHEMA,
    USER_SCHEMA,
    EnterpriseUserModel,
    member_ids,
    patch_body,
    uniq,
)

UserList = ListResponse[EnterpriseUserModel]
OKTA_CONTENT_TYPE = "application/scim+json; charset=utf-8"  # what Okta sends
GroupList = ListResponse[Group]
ADSCIM_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def q(value: str) -> str:
    """A filter string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def enterprise(user) -> dict:
    """The Enterprise User extension of a parsed user, as a plain dict ({} when absent)."""
    ext = user[ENTERPRISE_SCHEMA] if user is not None else None
    return ext.model_dump(by_alias=True, exclude_none=True) if ext is not None else {}


def work_emails(user) -> list:
    return [e for e in (user.emails or []) if e.type == "work"]


def assert_no_password(response) -> None:
    """RFC 7643 §4.1.1: password is `returned: never`."""
    body = response.json()
    assert "password" not in body, f"password must never be returned: {body}"


# ===================================================================================
# Microsoft Entra ID
# ===================================================================================

def entra_user_body(user_name: str, external_id: str) -> dict:
    """Entra's POST /Users (its default attribute mapping + the Enterprise `department`)."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "displayName": "Barbara Jensen",
        "emails": [{"primary": True, "type": "work", "value": f"{user_name.split('@')[0]}@work.example"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Barbara Jensen", "familyName": "Jensen", "givenName": "Barbara"},
        "roles": [],
        ENTERPRISE_SCHEMA: {"department": "Research"},
    }


def entra_create(idp, prefix: str = "entra"):
    user_name = f"{uniq(prefix)}@contoso.example"
    body = entra_user_body(user_name, uniq("aad"))
    response, user = idp.send("POST", "/Users", body, expect=201, model=EnterpriseUserModel,
                              ctx=Context.RESOURCE_CREATION_RESPONSE)
    return body, response, user


@pytest.fixture
def entra_user(idp):
    """A user created exactly as Entra creates one: (request body, parsed response)."""
    body, _, user = entra_create(idp)
    return body, user


def test_entra_create_user_after_lookup_by_userName(idp):
    user_name = f"{uniq('entra')}@contoso.example"
    # 1. Entra first looks the user up by its matching attribute (userName).
    _, found = idp.send("GET", "/Users", params={"filter": f"userName eq {q(user_name)}"}, expect=200,
                        model=UserList, ctx=Context.RESOURCE_QUERY_RESPONSE)
    assert found.total_results == 0 and not found.resources
    # 2. Not found: it creates it.
    body = entra_user_body(user_name, uniq("aad"))
    response, user = idp.send("POST", "/Users", body, expect=201, model=EnterpriseUserModel,
                              ctx=Context.RESOURCE_CREATION_RESPONSE)
    assert_no_password(response)
    assert user.id and user.user_name == user_name
    assert user.external_id == body["externalId"]
    assert user.active is True
    assert user.display_name == "Barbara Jensen"
    assert user.name is not None and (user.name.given_name, user.name.family_name) == ("Barbara", "Jensen")
    emails = work_emails(user)
    assert [(e.value, e.primary) for e in emails] == [(body["emails"][0]["value"], True)]
    assert enterprise(user).get("department") == "Research"
    assert ENTERPRISE_SCHEMA in response.json()["schemas"], "extension data present but its URN not in schemas"
    assert user.meta is not None and user.meta.resource_type == "User"
    assert user.meta.location and user.meta.location.endswith(f"/scim/v2/Users/{user.id}")
    # 3. The same lookup now finds exactly that user (and so does a differently-cased one:
    #    userName is caseExact=false, RFC 7643 §4.1.1 / RFC 7644 §3.4.2.2).
    for lookup in (user_name, user_name.upper()):
        found = idp.find_users(f"userName eq {q(lookup)}")
        assert found.total_results == 1, f"filter userName eq {q(lookup)}: {found}"
        assert [u.id for u in found.resources] == [user.id]
    # 4. And GET by id returns the same representation.
    fetched = idp.get_user(user.id)
    assert fetched.user_name == user_name and enterprise(fetched).get("department") == "Research"
    # 5. Every attribute Entra sent is kept (RFC 7643 §4.1.1 name.formatted).
    assert fetched.name.formatted == "Barbara Jensen", f"name.formatted was not stored: {fetched.name}"


def test_entra_lookup_by_externalId(idp, entra_user):
    body, user = entra_user
    found = idp.find_users(f"externalId eq {q(body['externalId'])}")
    assert [u.id for u in found.resources or []] == [user.id]


def test_entra_patch_replace_with_capitalised_ops_and_value_filter_path(idp, entra_user):
    _, user = entra_user
    new_email = f"updated-{uniq('mail')}@work.example"
    response, patched = idp.send(
        "PATCH", f"/Users/{user.id}",
        patch_body(
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": new_email},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        ),
        expect=200, model=EnterpriseUserModel, ctx=Context.RESOURCE_PATCH_RESPONSE,
    )
    assert_no_password(response)
    for u in (patched, idp.get_user(user.id)):
        assert [(e.value, e.primary) for e in work_emails(u)] == [(new_email, True)]
        assert u.name.family_name == "updatedFamilyName"
        assert u.name.given_name == "Barbara", "replacing name.familyName must keep name.givenName"


def test_entra_patch_replace_userName(idp, entra_user):
    _, user = entra_user
    new_name = f"{uniq('renamed')}@contoso.example"
    _, patched = idp.send("PATCH", f"/Users/{user.id}",
                          patch_body({"op": "Replace", "path": "userName", "value": new_name}),
                          expect=200, model=EnterpriseUserModel, ctx=Context.RESOURCE_PATCH_RESPONSE)
    assert patched.user_name == new_name
    assert [u.id for u in idp.find_users(f"userName eq {q(new_name)}").resources or []] == [user.id]
    assert idp.find_users(f"userName eq {q(user.user_name)}").total_results == 0


def test_entra_patch_add_with_capitalised_op(idp, entra_user):
    _, user = entra_user
    _, patched = idp.send(
        "PATCH", f"/Users/{user.id}",
        patch_body(
            {"op": "Add", "path": "displayName", "value": "Babs Jensen"},
            {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:employeeNumber", "value": "701984"},
            {"op": "Replace", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Tour Operations"},
        ),
        expect=200, model=EnterpriseUserModel, ctx=Context.RESOURCE_PATCH_RESPONSE,
    )
    for u in (patched, idp.get_user(user.id)):
        assert u.display_name == "Babs Jensen"
        assert enterprise(u).get("employeeNumber") == "701984"
        assert enterprise(u).get("department") == "Tour Operations"


def test_entra_disable_and_enable_with_string_booleans(idp, entra_user):
    """Entra (without the aadOptscim062020 flag) sends booleans as the strings "False"/"True"."""
    _, user = entra_user
    for sent, expected in (("False", False), ("True", True), (False, False)):
        _, patched = idp.send("PATCH", f"/Users/{user.id}",
                              patch_body({"op": "Replace", "path": "active", "value": sent}),
                              expect=200, model=EnterpriseUserModel, ctx=Context.RESOURCE_PATCH_RESPONSE)
        assert patched.active is expected, f"after active={sent!r}: {patched.active!r}"
        assert idp.get_user(user.id).active is expected
    # a disabled user is still a resource: it is listed, with active false
    found = idp.find_users(f"userName eq {q(user.user_name)}")
    assert [(u.id, u.active) for u in found.resources or []] == [(user.id, False)]


# Entra's default attribute mapping sends these `Add` operations when an attribute first gets a
# value (a user who had no work phone gets one, ...). Each case is its own test.
ENTRA_MAPPING_CASES = {
    "title": ([{"op": "Add", "path": "title", "value": "Senior Engineer"}],
              lambda u: u.title == "Senior Engineer"),
    "preferredLanguage": ([{"op": "Add", "path": "preferredLanguage", "value": "en-US"}],
                          lambda u: u.preferred_language == "en-US"),
    "phoneNumbers-work-by-filter": (
        [{"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0100"}],
        lambda u: [(p.type, p.value) for p in (u.phone_numbers or [])] == [("work", "+1 555 0100")]),
    "phoneNumbers-mobile-by-filter": (
        [{"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0199"}],
        lambda u: [(p.type, p.value) for p in (u.phone_numbers or [])] == [("mobile", "+1 555 0199")]),
    "addresses-work-by-filter": (
        [{"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Microsoft Way"},
         {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
         {"op": "Add", "path": 'addresses[type eq "work"].postalCode', "value": "98052"},
         {"op": "Add", "path": 'addresses[type eq "work"].country', "value": "US"}],
        lambda u: [(a.type, a.street_address, a.locality, a.postal_code, a.country)
                   for a in (u.addresses or [])] == [("work", "1 Microsoft Way", "Redmond", "98052", "US")]),
    "name.givenName": ([{"op": "Replace", "path": "name.givenName", "value": "Barb"}],
                       lambda u: (u.name.given_name, u.name.family_name) == ("Barb", "Jensen")),
}


@pytest.mark.parametrize("case", list(ENTRA_MAPPING_CASES))
def test_entra_patch_default_mapping_attribute(idp, entra_user, case):
    ops, holds = ENTRA_MAPPING_CASES[case]
    _, user = entra_user
    _, patched = idp.send("PATCH", f"/Users/{user.id}", patch_body(*ops), expect=200,
                          model=EnterpriseUserModel, ctx=Context.RESOURCE_PATCH_RESPONSE)
    assert holds(patched), f"PATCH response does not show {ops}: {patched.model_dump(exclude_none=True)}"
    fetched = idp.get_user(user.id)
    assert holds(fetched), f"GET after PATCH does not show {ops}: {fetched.model_dump(exclude_none=True)}"


def test_entra_patch_manager_with_plain_id(idp, entra_user):
    """Entra sends the manager as a bare id string, not {"value": id} (an Entra quirk that
    SCIM servers integrating with Entra accept)."""
    _, user = entra_user
    _, _, manager = entra_create(idp, "manager")
    _, patched = idp.send("PATCH", f"/Users/{user.id}",
                          patch_body({"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": manager.id}),
                          expect=200, model=EnterpriseUserModel, ctx=Context.RESOURCE_PATCH_RESPONSE)
    for u in (patched, idp.get_user(user.id)):
        assert (enterprise(u).get("manager") or {}).get("value") == manager.id


def test_entra_patch_manager_without_its_urn_as_a_one_element_array(idp, entra_user):
    """Entra's tutorial: `{"op":"Add","path":"manager","value":[{"$ref":...,"value":id}]}`;
    `manager` exists only in the Enterprise extension, so it resolves there (RFC 7644 §3.10)."""
    _, user = entra_user
    _, _, manager = entra_create(idp, "manager")
    _, patched = idp.send("PATCH", f"/Users/{user.id}",
                          patch_body({"op": "Add", "path": "manager",
                                      "value": [{"$ref": f"../Users/{manager.id}", "value": manager.id}]}),
                          expect=200, model=EnterpriseUserModel, ctx=Context.RESOURCE_PATCH_RESPONSE)
    for u in (patched, idp.get_user(user.id)):
        assert (enterprise(u).get("manager") or {}).get("value") == manager.id
    found = idp.find_users(f"{ENTERPRISE_SCHEMA}:manager.value eq {q(manager.id)}")
    assert [u.id for u in found.resources or []] == [user.id]


def test_entra_create_with_capitalised_attribute_names(idp):
    """Entra's create with the casing some of its mappings produce, down to the extension's
    sub-attributes (RFC 7643 §2.1: attribute names are case-insensitive)."""
    _, _, manager = entra_create(idp, "manager")
    user_name = f"{uniq('entra-caps')}@contoso.example"
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], "UserName": user_name, "Active": True,
        "DisplayName": "Casey Caps", "Emails": [{"Primary": True, "Type": "work", "Value": "casey@work.example"}],
        "PhoneNumbers": [{"Type": "mobile", "Value": "+1 555 0100"}],
        ENTERPRISE_SCHEMA: {"Department": "Sales", "Manager": {"Value": manager.id}},
    }
    _, user = idp.send("POST", "/Users", body, expect=201, model=EnterpriseUserModel,
                       ctx=Context.RESOURCE_CREATION_RESPONSE)
    for u in (user, idp.get_user(user.id)):
        assert u.user_name == user_name and u.display_name == "Casey Caps"
        assert [(e.value, e.primary) for e in work_emails(u)] == [("casey@work.example", True)]
        assert [(p.type, p.value) for p in u.phone_numbers or []] == [("mobile", "+1 555 0100")]
        assert enterprise(u).get("department") == "Sales"
        assert (enterprise(u).get("manager") or {}).get("value") == manager.id


def test_entra_filters_a_value_path_followed_by_a_sub_attribute(idp, entra_user):
    """Entra's matching filter `emails[type eq "work"].value eq "x"` (outside RFC 7644's grammar)."""
    body, user = entra_user
    work = body["emails"][0]["value"]
    found = idp.find_users(f'emails[type eq "work"].value eq {q(work)}')
    assert [u.id for u in found.resources or []] == [user.id]
    assert idp.find_users(f'emails[type eq "home"].value eq {q(work)}').total_results == 0


def test_entra_sees_a_users_groups(idp, entra_user):
    """After Entra adds a member, the user's read-only `groups` lists the group (RFC 7643 §4.1.2)."""
    _, user = entra_user
    group = entra_group(idp, "EntraMemberOf")
    idp.send("PATCH", f"/Groups/{group.id}",
             patch_body({"op": "Add", "path": "members", "value": [{"value": user.id}]}),
             expect=(200, 204))
    fetched = idp.get_user(user.id)
    assert [(g.value, g.display) for g in fetched.groups or []] == [(group.id, group.display_name)]
    found = idp.find_users(f"groups.value eq {q(group.id)}")
    assert [u.id for u in found.resources or []] == [user.id]


def test_entra_create_existing_userName_conflicts(idp, entra_user):
    """Entra (and Okta) treat 409 on POST /Users as "already there" and go on to match it;
    userName is unique and caseExact=false (RFC 7643 §4.1.1), RFC 7644 §3.3: 409 uniqueness."""
    body, user = entra_user
    for user_name in (body["userName"], body["userName"].upper()):
        again = {**body, "userName": user_name, "externalId": uniq("aad")}
        response, error = idp.send("POST", "/Users", again, expect=409)
        assert response.json().get("scimType") == "uniqueness", response.json()
        assert response.json().get("status") == "409", response.json()
    assert idp.find_users(f"userName eq {q(body['userName'])}").total_results == 1


def test_entra_delete_user(idp, entra_user):
    _, user = entra_user
    idp.scim.delete(EnterpriseUserModel, user.id, expected_status_codes=[204])
    gone = idp.scim.query(EnterpriseUserModel, user.id, raise_scim_errors=False, expected_status_codes=[404])
    assert isinstance(gone, Error) and gone.status == 404
    assert idp.find_users(f"userName eq {q(user.user_name)}").total_results == 0


# -- Entra groups ---------------------------------------------------------------------

def entra_group_body(display_name: str, *, adscim: bool = False) -> dict:
    schemas = [GROUP_SCHEMA] + ([ADSCIM_GROUP_SCHEMA] if adscim else [])
    return {"schemas": schemas, "externalId": uniq("aadgroup"), "displayName": display_name,
            "meta": {"resourceType": "Group"}}


def entra_group(idp, prefix: str = "EntraGroup"):
    body = entra_group_body(uniq(prefix))
    _, group = idp.send("POST", "/Groups", body, expect=201, model=Group, ctx=Context.RESOURCE_CREATION_RESPONSE)
    return group


def test_entra_group_lifecycle(idp):
    name = uniq("EntraGroup")
    lookup = {"excludedAttributes": "members", "filter": f"displayName eq {q(name)}"}
    # 1. lookup by displayName (Entra always excludes members when it reads groups)
    _, found = idp.send("GET", "/Groups", params=lookup, expect=200, model=GroupList)
    assert found.total_results == 0
    # 2. create
    body = entra_group_body(name)
    _, group = idp.send("POST", "/Groups", body, expect=201, model=Group, ctx=Context.RESOURCE_CREATION_RESPONSE)
    assert group.id and group.display_name == name and group.external_id == body["externalId"]
    assert group.meta is not None and group.meta.resource_type == "Group"
    # 3. read it back without members
    response, _ = idp.send("GET", f"/Groups/{group.id}", params={"excludedAttributes": "members"},
                           expect=200, model=Group)
    assert "members" not in response.json(), f"excludedAttributes=members ignored: {response.json()}"
    response, found = idp.send("GET", "/Groups", params=lookup, expect=200, model=GroupList)
    assert [g.id for g in found.resources or []] == [group.id]
    assert all("members" not in r for r in response.json().get("Resources", [])), response.json()
    # 4. rename
    new_name = uniq("EntraRenamed")
    _, patched = idp.send("PATCH", f"/Groups/{group.id}",
                          patch_body({"op": "Replace", "path": "displayName", "value": new_name}),
                          expect=200, model=Group, ctx=Context.RESOURCE_PATCH_RESPONSE)
    assert patched.display_name == new_name
    assert idp.get_group(group.id).display_name == new_name
    # 5. delete
    idp.scim.delete(Group, group.id, expected_status_codes=[204])
    gone = idp.scim.query(Group, group.id, raise_scim_errors=False, expected_status_codes=[404])
    assert isinstance(gone, Error) and gone.status == 404


def test_entra_group_create_with_its_adscim_schema_urn(idp):
    """Entra lists its own ADSCIM group schema URN in `schemas` of POST /Groups."""
    body = entra_group_body(uniq("EntraAdscim"), adscim=True)
    _, group = idp.send("POST", "/Groups", body, expect=201, model=Group, ctx=Context.RESOURCE_CREATION_RESPONSE)
    assert group.display_name == body["displayName"]


def test_entra_group_members_in_batches(idp, make_user):
    users = [make_user("member") for _ in range(5)]
    u1, u2, u3, u4, u5 = users
    group = entra_group(idp)

    def members_op(op: str, ids):
        return {"op": op, "path": "members", "value": [{"$ref": None, "value": i} for i in ids]}

    steps = [
        ("add u1,u2,u3", [members_op("Add", [u1, u2, u3])], {u1, u2, u3}),
        ("add u3 (already a member),u4,u5", [members_op("Add", [u3, u4, u5])], {u1, u2, u3, u4, u5}),
        ("remove u1,u2 by value", [members_op("Remove", [u1, u2])], {u3, u4, u5}),
        ("remove u4 by value", [members_op("Remove", [u4])], {u3, u5}),
    ]
    for label, ops, expected in steps:
        _, patched = idp.send("PATCH", f"/Groups/{group.id}", patch_body(*ops), expect=200, model=Group,
                              ctx=Context.RESOURCE_PATCH_RESPONSE)
        assert member_ids(patched) == expected, f"{label}: PATCH response members {member_ids(patched)}"
        assert member_ids(idp.get_group(group.id)) == expected, f"{label}: GET after PATCH"


# ===================================================================================
# Okta
# ===================================================================================

def okta_user_body(user_name: str, external_id: str, **changes) -> dict:
    """Okta's POST /Users body (it sends the password and an empty `groups`)."""
    body = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq-Okta!",
        "active": True,
    }
    body.update(changes)
    return body


def okta_create(idp):
    user_name = f"{uniq('okta')}@okta.example"
    body = okta_user_body(user_name, uniq("00u"))
    response, user = idp.send("POST", "/Users", body, expect=201, model=EnterpriseUserModel,
                              ctx=Context.RESOURCE_CREATION_RESPONSE, content_type=OKTA_CONTENT_TYPE)
    return body, response, user


@pytest.fixture
def okta_user(idp):
    body, _, user = okta_create(idp)
    return body, user


def okta_put(idp, user_id: str, body: dict):
    """Okta's PUT /Users/{id}: the whole profile again, with `id`."""
    response, user = idp.send("PUT", f"/Users/{user_id}", {**body, "id": user_id}, expect=200,
                              model=EnterpriseUserModel, ctx=Context.RESOURCE_REPLACEMENT_RESPONSE,
                              content_type=OKTA_CONTENT_TYPE)
    assert_no_password(response)
    return user


def test_okta_create_user_after_lookup(idp):
    user_name = f"{uniq('okta')}@okta.example"
    params = {"filter": f"userName eq {q(user_name)}", "startIndex": "1", "count": "100"}
    response, found = idp.send("GET", "/Users", params=params, expect=200, model=UserList)
    assert found.total_results == 0
    assert response.json()["schemas"] == [LIST_SCHEMA]
    body = okta_user_body(user_name, uniq("00u"))
    response, user = idp.send("POST", "/Users", body, expect=201, model=EnterpriseUserModel,
                              ctx=Context.RESOURCE_CREATION_RESPONSE, content_type=OKTA_CONTENT_TYPE)
    assert_no_password(response)
    assert (user.user_name, user.display_name, user.locale, user.external_id, user.active) == (
        user_name, "Test User", "en-US", body["externalId"], True)
    assert (user.name.given_name, user.name.family_name) == ("Test", "User")
    assert [(e.value, e.type, e.primary) for e in user.emails or []] == [(user_name, "work", True)]
    _, found = idp.send("GET", "/Users", params=params, expect=200, model=UserList)
    assert [u.id for u in found.resources or []] == [user.id]
    assert found.start_index == 1 and found.items_per_page == 1
    assert idp.get_user(user.id).user_name == user_name


def test_okta_get_unknown_user_is_404_scim_error(idp):
    response, error = idp.send("GET", "/Users/00000000-0000-4000-8000-000000000000", expect=404)
    body = response.json()
    assert body.get("schemas") == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body.get("status") == "404", body


def test_okta_update_profile_with_put(idp, okta_user):
    body, user = okta_user
    changed = {**body, "name": {"givenName": "Another", "middleName": "", "familyName": "User"},
               "displayName": "Another User"}
    replaced = okta_put(idp, user.id, changed)
    for u in (replaced, idp.get_user(user.id)):
        assert (u.name.given_name, u.name.family_name) == ("Another", "User")
        assert u.display_name == "Another User"
        assert (u.user_name, u.external_id, u.locale) == (body["userName"], body["externalId"], "en-US")
        assert u.id == user.id


def test_okta_deactivate_and_reactivate_with_put(idp, okta_user):
    body, user = okta_user
    for active in (False, True):
        replaced = okta_put(idp, user.id, {**body, "active": active})
        assert replaced.active is active
        assert idp.get_user(user.id).active is active
        found = idp.find_users(f"userName eq {q(body['userName'])}")
        assert [(u.id, u.active) for u in found.resources or []] == [(user.id, active)]


def test_okta_deactivate_and_reactivate_with_pathless_patch(idp, okta_user):
    _, user = okta_user
    for active in (False, True):
        _, patched = idp.send("PATCH", f"/Users/{user.id}",
                              patch_body({"op": "replace", "value": {"active": active}}),
                              expect=200, model=EnterpriseUserModel, ctx=Context.RESOURCE_PATCH_RESPONSE,
                              content_type=OKTA_CONTENT_TYPE)
        assert patched.active is active
        assert idp.get_user(user.id).active is active


def test_okta_password_change_with_pathless_patch(idp, okta_user):
    _, user = okta_user
    response, patched = idp.send("PATCH", f"/Users/{user.id}",
                                 patch_body({"op": "replace", "value": {"password": "t1meMa$heen-2"}}),
                                 expect=200, model=EnterpriseUserModel, ctx=Context.RESOURCE_PATCH_RESPONSE,
                              content_type=OKTA_CONTENT_TYPE)
    assert_no_password(response)
    assert patched.id == user.id


def test_okta_import_lists_users_page_by_page(idp):
    ids = {okta_create(idp)[2].id for _ in range(3)}
    seen, start = set(), 1
    while True:
        _, page = idp.send("GET", "/Users", params={"startIndex": str(start), "count": "2"}, expect=200,
                           model=UserList)
        assert page.start_index == start and (page.items_per_page or 0) <= 2
        got = {u.id for u in page.resources or []}
        assert got.isdisjoint(seen), f"page at {start} repeats {got & seen}"
        seen |= got
        start += 2
        if start > page.total_results:
            break
    assert ids <= seen


# -- Okta groups (Group Push) ---------------------------------------------------------

def okta_group(idp, prefix: str = "OktaGroup"):
    body = {"schemas": [GROUP_SCHEMA], "displayName": uniq(prefix), "members": []}
    _, group = idp.send("POST", "/Groups", body, expect=201, model=Group, ctx=Context.RESOURCE_CREATION_RESPONSE,
                        content_type=OKTA_CONTENT_TYPE)
    assert group.display_name == body["displayName"] and not group.members
    return group


def test_okta_group_lifecycle(idp):
    group = okta_group(idp)
    params = {"filter": f"displayName eq {q(group.display_name)}", "startIndex": "1", "count": "100"}
    _, found = idp.send("GET", "/Groups", params=params, expect=200, model=GroupList)
    assert [g.id for g in found.resources or []] == [group.id]
    assert idp.get_group(group.id).display_name == group.display_name
    # rename: Okta sends a path-less replace whose value repeats the (read-only) id
    new_name = uniq("OktaRenamed")
    _, patched = idp.send("PATCH", f"/Groups/{group.id}",
                          patch_body({"op": "replace", "value": {"id": group.id, "displayName": new_name}}),
                          expect=200, model=Group, ctx=Context.RESOURCE_PATCH_RESPONSE, content_type=OKTA_CONTENT_TYPE)
    assert patched.display_name == new_name and patched.id == group.id
    assert idp.get_group(group.id).display_name == new_name
    idp.scim.delete(Group, group.id, expected_status_codes=[204])
    gone = idp.scim.query(Group, group.id, raise_scim_errors=False, expected_status_codes=[404])
    assert isinstance(gone, Error) and gone.status == 404


def test_okta_group_push_members(idp, make_user):
    u1, u2, u3, u4 = (make_user("pushed") for _ in range(4))
    group = okta_group(idp)
    steps = [
        ("add u1,u2,u3", [{"op": "add", "path": "members",
                           "value": [{"value": u1, "display": "one"}, {"value": u2, "display": "two"},
                                     {"value": u3, "display": "three"}]}], {u1, u2, u3}),
        ("remove u1 by filter", [{"op": "remove", "path": f'members[value eq "{u1}"]'}], {u2, u3}),
        ("remove u2 and u3 in one request", [{"op": "remove", "path": f'members[value eq "{u2}"]'},
                                             {"op": "remove", "path": f'members[value eq "{u3}"]'}], set()),
        ("add u4", [{"op": "add", "path": "members", "value": [{"value": u4, "display": "four"}]}], {u4}),
    ]
    for label, ops, expected in steps:
        _, patched = idp.send("PATCH", f"/Groups/{group.id}", patch_body(*ops), expect=200, model=Group,
                              ctx=Context.RESOURCE_PATCH_RESPONSE, content_type=OKTA_CONTENT_TYPE)
        assert member_ids(patched) == expected, f"{label}: PATCH response members {member_ids(patched)}"
        assert member_ids(idp.get_group(group.id)) == expected, f"{label}: GET after PATCH"


def test_okta_group_put_replaces_name_and_members(idp, make_user):
    u1, u2, u3 = (make_user("put") for _ in range(3))
    group = okta_group(idp)
    idp.send("PATCH", f"/Groups/{group.id}",
             patch_body({"op": "add", "path": "members", "value": [{"value": u1}, {"value": u2}]}),
             expect=200, model=Group, ctx=Context.RESOURCE_PATCH_RESPONSE, content_type=OKTA_CONTENT_TYPE)
    new_name = uniq("OktaPut")
    body = {"schemas": [GROUP_SCHEMA], "id": group.id, "displayName": new_name,
            "members": [{"value": u2, "display": "two"}, {"value": u3, "display": "three"}]}
    _, replaced = idp.send("PUT", f"/Groups/{group.id}", body, expect=200, model=Group,
                           ctx=Context.RESOURCE_REPLACEMENT_RESPONSE, content_type=OKTA_CONTENT_TYPE)
    for g in (replaced, idp.get_group(group.id)):
        assert g.display_name == new_name
        assert member_ids(g) == {u2, u3}
