"""auth-users through the SDK's own API classes, whichever generation this venv holds:
`sailpoint.v3` (1.4.2, /v3/auth-users) or `sailpoint.auth_users` (2.x, /auth-users/v1).
Both reach the same handlers; capabilities are the core's (ORG_ADMIN = manage-organization +
manage-groups), so a change here shows on the other dialects and the other way round."""

from __future__ import annotations

import importlib.metadata
import json

import pytest
from sailpoint.configuration import Configuration, ConfigurationParams

SDK_VERSION = importlib.metadata.version("sailpoint")
V3 = SDK_VERSION.startswith("1.")

if V3:
    from sailpoint.v3 import exceptions
    from sailpoint.v3.api.auth_users_api import AuthUsersApi
    from sailpoint.v3.api_client import ApiClient
    from sailpoint.v3.models.json_patch_operation import JsonPatchOperation
    from sailpoint.v3.models.json_patch_operation_value import JsonPatchOperationValue
else:
    from sailpoint.auth_users import exceptions
    from sailpoint.auth_users.api.auth_users_api import AuthUsersApi
    from sailpoint.auth_users.api_client import ApiClient
    from sailpoint.auth_users.models.json_patch_operation import JsonPatchOperation
    from sailpoint.auth_users.models.json_patch_operation_value import JsonPatchOperationValue


class Api:
    """The one generation's AuthUsersApi under one set of names."""

    def __init__(self, cfg: Configuration):
        self.api = AuthUsersApi(ApiClient(cfg))

    def get(self, id: str):
        return self.api.get_auth_user(id=id) if V3 else self.api.get_auth_user_v1(id=id)

    def patch(self, id: str, ops: list):
        if V3:
            return self.api.patch_auth_user(id=id, json_patch_operation=ops)
        return self.api.patch_auth_user_v1(id=id, json_patch_operation=ops)


def api_for(roster, client_of, username: str) -> Api:
    c = client_of(username)
    p = ConfigurationParams()
    p.base_url = roster.base_url
    p.client_id = c["client_id"]
    p.client_secret = c["client_secret"]
    cfg = Configuration(p)
    assert cfg.access_token, "token fetch failed"
    return Api(cfg)


def op(kind: str, path: str, value=None) -> JsonPatchOperation:
    if value is None:
        return JsonPatchOperation(op=kind, path=path)
    if isinstance(value, list):
        # The SDK cannot build a list value the normal way (contract §2.2).
        v = JsonPatchOperationValue.model_construct(actual_instance=value)
    else:
        v = JsonPatchOperationValue(value)
    return JsonPatchOperation(op=kind, path=path, value=v)


def create_user(roster, name: str) -> str:
    status, _, body = roster.http(
        "POST",
        "/scim/v2/Users",
        headers={"Authorization": f"Bearer {roster.admin_token}", "Content-Type": "application/scim+json"},
        body={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
            "name": {"givenName": "Will", "familyName": "Smith"},
            "emails": [{"value": f"{name}@example.com", "primary": True}],
            "phoneNumbers": [{"value": "5555555555", "type": "work"}],
        },
    )
    assert status == 201, body
    return body["id"]


@pytest.fixture(scope="module")
def admin(roster, client_of):
    return api_for(roster, client_of, roster.admin_user)


def test_get_in_both_id_forms_with_strict_types(roster, admin):
    uid = create_user(roster, f"will-{SDK_VERSION}")
    for form in (uid, uid.replace("-", "")):
        u = admin.get(form)
        assert u.id == uid
        assert u.uid == f"will-{SDK_VERSION}"
        assert (u.firstname, u.lastname) == ("Will", "Smith")
        assert u.email == f"will-{SDK_VERSION}@example.com"
        assert u.work_phone == "5555555555"
        assert u.tenant == "roster"
        assert u.capabilities == []
    me = admin.get(admin_id(roster))
    assert me.capabilities == ["ORG_ADMIN"]
    assert isinstance(me.current_login_timestamp, int) and me.current_login_timestamp > 1_600_000_000_000


def admin_id(roster) -> str:
    status, _, body = roster.http("GET", "/scim/v2/Me", headers={"Authorization": f"Bearer {roster.admin_token}"})
    assert status == 200
    return body["id"]


def test_every_patch_form(roster, admin):
    uid = create_user(roster, f"pat-{SDK_VERSION}")
    u = admin.patch(uid, [op("add", "/capabilities/-", "HELPDESK")])
    assert u.capabilities == ["HELPDESK"]
    u = admin.patch(uid, [op("add", "/capabilities/0", "REPORT_ADMIN")])
    assert sorted(u.capabilities) == ["HELPDESK", "REPORT_ADMIN"]
    u = admin.patch(uid, [op("replace", "/capabilities/0", "ROLE_ADMIN")])
    assert "ROLE_ADMIN" in u.capabilities and len(u.capabilities) == 2
    u = admin.patch(uid, [op("remove", "/capabilities/0")])
    assert len(u.capabilities) == 1
    u = admin.patch(uid, [op("replace", "/capabilities", ["ORG_ADMIN", "HELPDESK"])])
    assert u.capabilities == ["HELPDESK", "ORG_ADMIN"]
    u = admin.patch(uid, [op("test", "/capabilities/1", "ORG_ADMIN"), op("remove", "/capabilities/1")])
    assert u.capabilities == ["HELPDESK"]
    u = admin.patch(uid, [])
    assert u.capabilities == ["HELPDESK"]
    u = admin.patch(uid, [op("add", "/capabilities", ["SOURCE_ADMIN"])])
    assert u.capabilities == ["SOURCE_ADMIN"]


def test_org_admin_is_the_two_permissions_on_every_dialect(roster, admin, client_of):
    uid = create_user(roster, f"org-{SDK_VERSION}")
    name = f"org-{SDK_VERSION}"
    token = roster.issue_token(name)
    scim_list = lambda: roster.http("GET", "/scim/v2/Users?count=1", headers={"Authorization": f"Bearer {token}"})[0]
    odm_groups = lambda: roster.http("POST", "/api/v1/scim/Groups", headers={"Genestack-API-Token": token}, body={"displayName": f"g-{name}-{scim_list()}"})[0]
    assert scim_list() == 403
    admin.patch(uid, [op("add", "/capabilities/-", "ORG_ADMIN")])
    assert scim_list() == 200, "ORG_ADMIN grants manage-organization at once"
    assert odm_groups() == 201, "and manage-groups"
    # The other way round: revoking a permission with the CLI removes ORG_ADMIN.
    roster.cli("user", "revoke", name, "manage-groups")
    assert admin.get(uid).capabilities == []
    roster.grant(name, "manage-groups")
    assert admin.get(uid).capabilities == ["ORG_ADMIN"]
    # An ORG_ADMIN's own SDK can now patch others.
    other = create_user(roster, f"other-{SDK_VERSION}")
    api = api_for(roster, client_of, name)
    assert api.patch(other, [op("add", "/capabilities/-", "CERT_ADMIN")]).capabilities == ["CERT_ADMIN"]


def test_errors_with_their_models(roster, admin, client_of):
    uid = create_user(roster, f"err-{SDK_VERSION}")
    before = admin.get(uid).capabilities
    bad = [
        [op("replace", "/uid", "someone-else")],
        [op("add", "/capabilities/-", "NOT_A_CAPABILITY")],
        [op("remove", "/capabilities/7")],
        [op("test", "/capabilities/0", "ORG_ADMIN")],
        [op("add", "/capabilities/-", "HELPDESK"), op("replace", "/displayName", "x")],
    ]
    for ops in bad:
        with pytest.raises(exceptions.BadRequestException) as e:
            admin.patch(uid, ops)
        dto = e.value.data
        assert dto is not None and dto.tracking_id and dto.detail_code.startswith("400.1"), e.value.body
        assert dto.messages[0].locale_origin == "DEFAULT"
    assert admin.get(uid).capabilities == before, "a refused patch changes nothing"
    with pytest.raises(exceptions.BadRequestException) as e:
        admin.patch(uid, [op("replace", "/uid", "x")])
    assert e.value.data.detail_code == "400.1.1 Illegal update attempt"

    with pytest.raises(exceptions.NotFoundException) as e:
        admin.get("ef38f94347e94562b5bb8424a56397d8")
    assert e.value.data.detail_code == "404 Not found"
    with pytest.raises(exceptions.NotFoundException):
        admin.get("not-an-id")

    plain = api_for(roster, client_of, f"err-{SDK_VERSION}")
    assert plain.get(uid).uid == f"err-{SDK_VERSION}", "anyone reads themselves"
    with pytest.raises(exceptions.ForbiddenException) as e:
        plain.get(admin_id(roster))
    assert e.value.data.detail_code == "403 Forbidden"
    with pytest.raises(exceptions.ForbiddenException):
        plain.patch(uid, [op("add", "/capabilities/-", "ORG_ADMIN")])
    assert admin.get(uid).capabilities == before, "nobody grants themselves a capability"

    p = ConfigurationParams()
    p.base_url = roster.base_url
    p.access_token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    with pytest.raises(exceptions.UnauthorizedException) as e:
        Api(Configuration(p)).get(uid)
    assert json.loads(e.value.body)["error"]["message"]


def test_sign_in_times_are_recorded(roster, client_of):
    uid = create_user(roster, f"login-{SDK_VERSION}")
    status, _, body = roster.http("GET", f"/auth-users/v1/{uid}", headers={"Authorization": f"Bearer {roster.admin_token}"})
    assert status == 200 and body["currentLoginTimestamp"] is None and body["lastLoginTimestamp"] is None
    api = api_for(roster, client_of, f"login-{SDK_VERSION}")
    me = api.get(uid)
    assert isinstance(me.current_login_timestamp, int)


def test_over_the_limit_the_sdk_gets_429_with_retry_after_and_a_parsed_body(roster):
    # A server of its own (the shared one's anonymous limit is the generous default).
    server = type(roster)()
    server.env["ROSTER_RATE_LIMIT_ANONYMOUS"] = "1/min,5"
    server.start()
    try:
        p = ConfigurationParams()
        p.base_url = server.base_url
        p.access_token = "not-a-valid-token-0123456789"
        cfg = Configuration(p)
        # urllib3 (under the SDK) would otherwise sleep for Retry-After and try again: that
        # it honours the header is good; here the 429 itself is under test.
        cfg.retries = 0
        api = Api(cfg)
        # The start-up's /healthz polls count too: 401s until the burst is spent, then 429.
        statuses = []
        for _ in range(8):
            try:
                api.get("ef38f94347e94562b5bb8424a56397d8")
            except exceptions.ApiException as err:
                statuses.append(err.status)
                last = err
                if err.status == 429:
                    break
        assert statuses[-1] == 429 and set(statuses[:-1]) <= {401}, statuses
        assert 401 in statuses, statuses
        e = pytest.ExceptionInfo.from_exc_info((type(last), last, last.__traceback__))
        assert 1 <= int(e.value.headers["Retry-After"]) <= 60
        assert e.value.data is not None, f"the SDK could not parse the 429 body: {e.value.body}"
        assert "ratelimit-policy" in {k.lower() for k in e.value.headers}
    finally:
        server.stop()
