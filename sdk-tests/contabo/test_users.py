"""pfruck-contabo 2.0.0 against Roster's /v1/users: every user method, the caller's client
and secret, the two mail calls, the error classes the SDK raises, and the same users on
/scim/v2. Bad input the SDK cannot send (it validates client-side) goes over raw HTTP."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pfruck_contabo as pc
import pytest
from pfruck_contabo.exceptions import (
    ApiException,
    BadRequestException,
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)

from conftest import rid

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def scim(roster, method, path, body=None):
    return roster.http(
        method,
        f"/scim/v2{path}",
        headers={"Authorization": f"Bearer {roster.admin_token}", "Content-Type": "application/scim+json"},
        body=body,
    )


def new_user(api, email, **kw):
    req = pc.CreateUserRequest(email=email, enabled=kw.pop("enabled", True), totp=kw.pop("totp", False),
                               locale=kw.pop("locale", "en"), **kw)
    return api.create_user(rid(), req).data[0].user_id


def test_create_read_list_update_delete(roster, admin_api):
    uid = new_user(admin_api, "john@example.com", first_name="John", last_name="Doe", locale="de-DE",
                   totp=True, roles=[])
    created = admin_api.create_user_with_http_info(
        rid(), pc.CreateUserRequest(email="jane@example.com", enabled=False, totp=False, locale="en-US"))
    assert created.status_code == 201
    assert created.data.data[0].tenant_id and created.data.data[0].customer_id
    assert created.data.links.var_self == f"/v1/users/{created.data.data[0].user_id}"

    u = admin_api.retrieve_user(rid(), uid).data[0]
    assert (u.user_id, u.email, u.first_name, u.last_name) == (uid, "john@example.com", "John", "Doe")
    assert (u.enabled, u.totp, u.locale, u.owner, u.roles, u.email_verified) == (True, True, "de-DE", False, [], False)

    page = admin_api.retrieve_user_list(rid(), page=1, size=10, order_by=["email:desc"], email="EXAMPLE.com")
    emails = [x.email for x in page.data]
    assert emails == ["john@example.com", "jane@example.com"], emails
    assert page.pagination.total_elements == 2 and page.pagination.total_pages == 1
    assert page.links.previous is None and page.links.next is None
    disabled = admin_api.retrieve_user_list(rid(), enabled=False, email="example.com")
    assert [x.email for x in disabled.data] == ["jane@example.com"]
    paged = admin_api.retrieve_user_list(rid(), page=1, size=1, email="example.com", order_by=["email:asc"])
    assert [x.email for x in paged.data] == ["jane@example.com"]
    assert paged.links.next and "page=2" in paged.links.next and paged.pagination.total_pages == 2

    upd = admin_api.update_user(rid(), uid, pc.UpdateUserRequest(first_name="Jonathan", totp=False, locale="en"))
    assert upd.links.var_self == f"/v1/users/{uid}"
    u = admin_api.retrieve_user(rid(), uid).data[0]
    assert (u.first_name, u.last_name, u.totp, u.locale) == ("Jonathan", "Doe", False, "en")
    admin_api.update_user(rid(), uid, pc.UpdateUserRequest())  # {} changes nothing
    assert admin_api.retrieve_user(rid(), uid).data[0].first_name == "Jonathan"

    # The same user on /scim/v2, by the same id, with the email as its login.
    status, _, body = scim(roster, "GET", f"/Users/{uid}")
    assert status == 200 and body["userName"] == "john@example.com" and body["name"]["givenName"] == "Jonathan"
    # ... and on ODM and SailPoint.
    status, _, body = roster.http("GET", f"/api/v1/scim/Users/{uid}", headers={"Genestack-API-Token": roster.admin_token})
    assert status == 200 and body["userName"] == "john@example.com", body
    status, _, body = roster.http("GET", f"/v3/auth-users/{uid}", headers={"Authorization": f"Bearer {roster.admin_token}"})
    assert status == 200 and body["id"] == uid and body["email"] == "john@example.com", body

    assert admin_api.delete_user(rid(), uid) is None
    with pytest.raises(NotFoundException):
        admin_api.retrieve_user(rid(), uid)
    assert scim(roster, "GET", f"/Users/{uid}")[0] == 404
    admin_api.delete_user(rid(), created.data.data[0].user_id)


def test_a_scim_user_without_names_reads_with_names_and_the_owner_is_the_bootstrap_admin(roster, admin_api):
    status, _, body = scim(roster, "POST", "/Users", {"schemas": [SCIM_USER], "userName": "solo@example.org", "locale": "fr"})
    assert status == 201
    u = admin_api.retrieve_user(rid(), body["id"]).data[0]
    assert (u.first_name, u.last_name, u.email, u.locale) == ("solo", "solo", "solo@example.org", "en")
    # A whole page with that user in it still parses.
    assert any(x.user_id == body["id"] for x in admin_api.retrieve_user_list(rid(), size=1000).data)
    owners = admin_api.retrieve_user_list(rid(), owner=True).data
    assert [o.email for o in owners] == [roster.admin_user]
    assert all(not x.owner for x in admin_api.retrieve_user_list(rid(), owner=False, size=1000).data)
    scim(roster, "DELETE", f"/Users/{body['id']}")


def token_grant(roster, client_id, secret):
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": secret}).encode()
    req = urllib.request.Request(f"{roster.base_url}/oauth/token", data=form, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def test_the_client_and_its_secret_work_at_the_token_endpoint(roster, admin_api, api_for):
    c = admin_api.retrieve_user_client(rid()).data[0]
    assert c.client_id and c.secret and c.tenant_id and c.customer_id
    status, tok = token_grant(roster, c.client_id, c.secret)
    assert status == 200
    jwt_api = api_for(tok["access_token"])
    assert jwt_api.retrieve_user_list(rid()).pagination.total_elements >= 1
    new = admin_api.generate_client_secret(rid()).data[0].secret
    assert new != c.secret
    assert token_grant(roster, c.client_id, c.secret)[0] == 401
    status, tok = token_grant(roster, c.client_id, new)
    assert status == 200
    assert admin_api.retrieve_user_client(rid()).data[0].secret == new


def test_mail_calls_queue_and_are_bounded(roster, admin_api):
    uid = new_user(admin_api, "mailme@example.com")
    # The create queued the verification mail: a second within the minute is 429.
    with pytest.raises(ApiException) as e:
        admin_api.resend_email_verification(rid(), uid)
    assert e.value.status == 429 and json.loads(e.value.body)["statusCode"] == 429
    assert admin_api.reset_password(rid(), uid) is None
    with pytest.raises(BadRequestException):
        admin_api.reset_password(rid(), uid, redirect_url="https://evil.example/x")
    rows = roster.cli("mail", "list").stdout
    assert rows.count("mailme@example.com") == 2, rows
    admin_api.delete_user(rid(), uid)


def test_errors_are_contabo_errors(roster, admin_api, api_for):
    with pytest.raises(UnauthorizedException):
        api_for("not-a-token").retrieve_user_list(rid())
    uid = new_user(admin_api, "plain@example.com")
    status, _, body = scim(roster, "GET", f"/Users/{uid}")
    roster.cli("token", "issue", "--user", "plain@example.com")
    plain = api_for(roster.issue_token("plain@example.com"))
    with pytest.raises(ForbiddenException):
        plain.retrieve_user_list(rid())
    assert plain.retrieve_user(rid(), uid).data[0].email == "plain@example.com", "a user reads themselves"
    with pytest.raises(ForbiddenException):
        plain.update_user(rid(), uid, pc.UpdateUserRequest(enabled=True))
    with pytest.raises(NotFoundException) as e:
        admin_api.retrieve_user(rid(), "00000000-0000-4000-8000-000000000000")
    err = json.loads(e.value.body)
    assert err["statusCode"] == 404 and err["path"].startswith("/v1/users/") and err["timestamp"] and err["message"]
    with pytest.raises(ApiException) as e:
        new_user(admin_api, "PLAIN@example.com")
    assert e.value.status == 409
    # enabled=false refuses the user's token on the next request, on every dialect.
    admin_api.update_user(rid(), uid, pc.UpdateUserRequest(enabled=False))
    with pytest.raises(UnauthorizedException):
        plain.retrieve_user(rid(), uid)
    admin_api.delete_user(rid(), uid)


def raw(roster, method, path, body=None, headers=None, rid_header=True):
    h = {"Authorization": f"Bearer {roster.admin_token}"}
    if rid_header:
        h["x-request-id"] = rid()
    h.update(headers or {})
    return roster.http(method, path, headers=h, body=body)


@pytest.mark.parametrize(
    "method,path,body,why",
    [
        ("GET", "/v1/users", None, "x-request-id"),
        ("POST", "/v1/users", {"email": "a@example.com", "enabled": True, "totp": False, "locale": "fr"}, "locale"),
        ("POST", "/v1/users", {"email": "a@example.com", "enabled": "yes", "totp": False, "locale": "en"}, "enabled"),
        ("POST", "/v1/users", {"email": 7, "enabled": True, "totp": False, "locale": "en"}, "email"),
        ("POST", "/v1/users", {"email": "not-an-email", "enabled": True, "totp": False, "locale": "en"}, "email"),
        ("POST", "/v1/users", {"enabled": True, "totp": False, "locale": "en"}, "email is required"),
        ("POST", "/v1/users", {"email": "a@example.com", "enabled": True, "totp": False, "locale": "en", "password": "x"}, "password"),
        ("POST", "/v1/users", {"email": "a@example.com", "enabled": True, "totp": False, "locale": "en", "roles": [99]}, "role"),
        ("POST", "/v1/users", {"email": "a@example.com", "enabled": True, "totp": False, "locale": "en", "firstName": ""}, "firstName"),
        ("GET", "/v1/users?orderBy=shoeSize:asc", None, "orderBy"),
        ("GET", "/v1/users?orderBy=email:sideways", None, "orderBy"),
        ("GET", "/v1/users?size=0", None, "size"),
        ("GET", "/v1/users?page=x", None, "page"),
        ("GET", "/v1/users?enabled=maybe", None, "enabled"),
    ],
)
def test_bad_input_is_400_in_contabo_json_and_changes_nothing(roster, method, path, body, why):
    before = raw(roster, "GET", "/v1/users?size=1000")[2]["_pagination"]["totalElements"]
    status, headers, got = raw(roster, method, path, body, rid_header=(why != "x-request-id"))
    assert status == 400, got
    assert got["statusCode"] == 400 and why.split()[0] in got["message"], got
    assert got["path"] == path.split("?")[0]
    assert raw(roster, "GET", "/v1/users?size=1000")[2]["_pagination"]["totalElements"] == before


def test_request_ids_are_echoed_and_huge_bodies_are_413_in_contabo_json(roster):
    status, headers, _ = raw(roster, "GET", "/v1/users", headers={"x-request-id": "abc-123", "x-trace-id": "t-9"})
    assert status == 200 and headers["x-request-id"] == "abc-123" and headers["x-trace-id"] == "t-9"
    big = {"email": "big@example.com", "enabled": True, "totp": False, "locale": "en", "firstName": "x" * (3 * 1024 * 1024)}
    status, _, got = raw(roster, "POST", "/v1/users", big)
    assert status == 413 and got["statusCode"] == 413, got
    status, _, got = raw(roster, "GET", "/v1/nothing-here")
    assert status == 404 and got["statusCode"] == 404


def test_roles_are_held_shown_and_an_admin_role_gives_user_management(roster, admin_api, api_for):
    perms = '[{"apiName": "/v1/compute/instances", "actions": ["CREATE", "READ"], "resources": [{"tagId": 12, "tagName": "web"}]}]'
    admins = json.loads(roster.cli("role", "create", "--name", "admins", "--admin", "--access-all-resources",
                                   "--permissions", perms).stdout)
    status, _, viewers = raw(roster, "POST", "/v1/roles", {"name": "viewers", "permissions": []})
    assert status == 201, viewers
    viewers = viewers["data"][0]
    assert viewers["type"] == "custom" and viewers["admin"] is False

    uid = new_user(admin_api, "rolf@example.com", roles=[viewers["roleId"]])
    u = admin_api.retrieve_user(rid(), uid).data[0]
    assert [(r.role_id, r.name, r.admin) for r in u.roles] == [(viewers["roleId"], "viewers", False)]
    token = roster.issue_token("rolf@example.com")
    rolf = api_for(token)
    with pytest.raises(ForbiddenException):
        rolf.retrieve_user_list(rid())

    # An unknown id refuses the whole change: names stay, roles stay.
    with pytest.raises(BadRequestException):
        admin_api.update_user(rid(), uid, pc.UpdateUserRequest(first_name="Changed", roles=[admins["roleId"], 999999]))
    u = admin_api.retrieve_user(rid(), uid).data[0]
    assert u.first_name == "rolf" and [r.name for r in u.roles] == ["viewers"]
    before = admin_api.retrieve_user_list(rid(), email="ghost").pagination.total_elements
    with pytest.raises(BadRequestException):
        new_user(admin_api, "ghost@example.com", roles=[999999])
    assert admin_api.retrieve_user_list(rid(), email="ghost").pagination.total_elements == before

    # The admin role gives user management while held.
    admin_api.update_user(rid(), uid, pc.UpdateUserRequest(roles=[admins["roleId"], viewers["roleId"]]))
    u = admin_api.retrieve_user(rid(), uid).data[0]
    assert sorted(r.name for r in u.roles) == ["admins", "viewers"]
    admin_role = next(r for r in u.roles if r.name == "admins")
    assert admin_role.access_all_resources and admin_role.permissions[0].api_name == "/v1/compute/instances"
    assert admin_role.permissions[0].resources[0].tag_name == "web"
    assert rolf.retrieve_user_list(rid()).pagination.total_elements >= 1
    # Making the role plain takes it back from every holder at once.
    status, _, _ = raw(roster, "PUT", f"/v1/roles/{admins['roleId']}", {"name": "admins", "admin": False})
    assert status == 200
    with pytest.raises(ForbiddenException):
        rolf.retrieve_user_list(rid())
    raw(roster, "PUT", f"/v1/roles/{admins['roleId']}", {"name": "admins", "admin": True})
    assert rolf.retrieve_user_list(rid()).pagination.total_elements >= 1
    # A grant made directly outlives the role; deleting the role ends what only it gave.
    roster.grant("rolf@example.com", "manage-organization")
    admin_api.update_user(rid(), uid, pc.UpdateUserRequest(roles=[]))
    assert rolf.retrieve_user_list(rid()).pagination.total_elements >= 1
    roster.cli("user", "revoke", "rolf@example.com", "manage-organization")
    admin_api.update_user(rid(), uid, pc.UpdateUserRequest(roles=[admins["roleId"]]))
    assert raw(roster, "DELETE", f"/v1/roles/{admins['roleId']}")[0] == 204
    with pytest.raises(ForbiddenException):
        rolf.retrieve_user_list(rid())
    assert admin_api.retrieve_user(rid(), uid).data[0].roles == []
    status, _, got = raw(roster, "GET", "/v1/roles")
    assert status == 200 and [r["name"] for r in got["data"]] == ["viewers"] and got["_pagination"]["totalElements"] == 1
    assert raw(roster, "GET", "/v1/roles/999999")[0] == 404
    assert raw(roster, "GET", "/v1/roles/abc")[0] == 404
    assert raw(roster, "POST", "/v1/roles", {"name": "viewers"})[0] == 409
    assert raw(roster, "POST", "/v1/roles", {"name": "x", "permissions": [{"apiName": "a", "actions": ["FLY"]}]})[0] == 400
    status, _, _ = raw(roster, "GET", "/v1/roles", headers={"Authorization": f"Bearer {token}"})
    assert status == 403
    admin_api.delete_user(rid(), uid)
    raw(roster, "DELETE", f"/v1/roles/{viewers['roleId']}")


def stored_secrets(roster) -> list[str]:
    """Every stored secret_sealed value, read straight from the database."""
    url = roster.env["ROSTER_DATABASE_URL"]
    sql = "SELECT secret_sealed FROM storage_credentials"
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite://")) as db:
            return [r[0] for r in db.execute(sql)]
    import subprocess

    base, _, opts = url.partition("?options=")
    schema = urllib.parse.unquote(opts).split("search_path=")[1]
    out = subprocess.run(["psql", base, "-qtAc", f"SET search_path={schema}; {sql}"],
                         check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def test_object_storage_credentials_are_listed_shown_and_regenerated(roster, admin_api, api_for):
    uid = new_user(admin_api, "s3user@example.com")
    creds = admin_api.list_object_storage_credentials(rid(), uid, page=1, size=10)
    assert creds.pagination.total_elements == 1
    c = creds.data[0]
    assert (c.display_name, c.region) == ("Object Storage", "European Union")
    assert len(c.access_key) == 20 and len(c.secret_key) == 40 and isinstance(c.credential_id, (int, float))
    got = admin_api.get_object_storage_credentials(rid(), uid, c.object_storage_id, int(c.credential_id)).data[0]
    assert (got.access_key, got.secret_key) == (c.access_key, c.secret_key)
    assert all(c.secret_key not in s for s in stored_secrets(roster)), "sealed at rest, never in clear"

    new = admin_api.regenerate_object_storage_credentials(rid(), uid, c.object_storage_id, int(c.credential_id)).data[0]
    assert new.access_key == c.access_key and new.secret_key != c.secret_key
    again = admin_api.get_object_storage_credentials(rid(), uid, c.object_storage_id, int(c.credential_id)).data[0]
    assert again.secret_key == new.secret_key

    # A second storage: every user gets a credential for it; filters and order work.
    out = roster.cli("storage", "add", "--name", "Object Storage SIN", "--region", "Asia (Singapore)").stdout
    sin = out.split("\t")[0]
    both = admin_api.list_object_storage_credentials(rid(), uid, order_by=["region:asc"])
    assert [x.region for x in both.data] == ["Asia (Singapore)", "European Union"]
    only = admin_api.list_object_storage_credentials(rid(), uid, region_name="Asia (Singapore)")
    assert [x.object_storage_id for x in only.data] == [sin]
    only = admin_api.list_object_storage_credentials(rid(), uid, object_storage_id=sin, display_name="Object Storage SIN")
    assert only.pagination.total_elements == 1
    paged = admin_api.list_object_storage_credentials(rid(), uid, page=2, size=1, order_by=["name:desc"])
    assert [x.display_name for x in paged.data] == ["Object Storage"] and paged.links.next is None

    # A user reads their own, not another's.
    mine = api_for(roster.issue_token("s3user@example.com"))
    assert mine.list_object_storage_credentials(rid(), uid).pagination.total_elements == 2
    admin_id = admin_api.retrieve_user_list(rid(), owner=True).data[0].user_id
    with pytest.raises(ForbiddenException):
        mine.list_object_storage_credentials(rid(), admin_id)
    with pytest.raises(NotFoundException):
        admin_api.get_object_storage_credentials(rid(), uid, c.object_storage_id, 999999)
    with pytest.raises(NotFoundException):
        admin_api.get_object_storage_credentials(rid(), uid, "00000000-0000-4000-8000-000000000000", int(c.credential_id))
    status, _, body = raw(roster, "GET", f"/v1/users/{uid}/object-storages/{c.object_storage_id}/credentials/abc")
    assert status == 400 and body["statusCode"] == 400 and "credentialId" in body["message"]

    roster.cli("storage", "remove", sin)
    assert admin_api.list_object_storage_credentials(rid(), uid).pagination.total_elements == 1
    admin_api.delete_user(rid(), uid)
    with pytest.raises(NotFoundException):
        admin_api.list_object_storage_credentials(rid(), uid)
