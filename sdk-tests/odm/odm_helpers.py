"""Helpers for driving Roster's ODM dialect through the real `odm-api` 1.64.1 SDK."""

from __future__ import annotations

import json
import re
import uuid

import odm_api
import pytest
from odm_api.exceptions import ApiException

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

USERS_PATH = "/api/v1/scim/Users"
GROUPS_PATH = "/api/v1/scim/Groups"

# How a token reaches the server. Each value is one way the SDK can be configured.
AUTH_SCHEMES = ("genestack", "bearer", "raw")

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def uniq(prefix: str = "user") -> str:
    """A name no other test uses (tests share one server per module)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_uuid(value) -> None:
    assert isinstance(value, str) and _UUID_RE.match(value), f"not a UUID string: {value!r}"


def api_client(base_url: str, token: str | None, scheme: str = "genestack") -> odm_api.ApiClient:
    """An SDK client that sends `token` the way `scheme` says:

    genestack  `Genestack-API-Token: <t>` only
    bearer     `Authorization: Bearer <t>` (api_key_prefix "Bearer")
    raw        `Authorization: <t>` (no prefix, the SDK's default for Access-token)
    """
    cfg = odm_api.Configuration(host=base_url)
    if token is not None:
        if scheme == "genestack":
            cfg.api_key["Genestack-API-Token"] = token
        elif scheme == "bearer":
            cfg.api_key["Access-token"] = token
            cfg.api_key_prefix["Access-token"] = "Bearer"
        elif scheme == "raw":
            cfg.api_key["Access-token"] = token
        else:
            raise ValueError(f"unknown auth scheme {scheme!r}")
    return odm_api.ApiClient(cfg)


class Actor:
    """Someone calling the API with one token: `.users` and `.groups` are the SDK's APIs."""

    def __init__(self, base_url: str, token: str | None, *, user_id: str | None = None,
                 user_name: str | None = None, display_name: str | None = None,
                 scheme: str = "genestack") -> None:
        self.token = token
        self.id = user_id
        self.user_name = user_name
        self.display_name = display_name
        self.client = api_client(base_url, token, scheme)
        self.users = odm_api.UsersApi(self.client)
        self.groups = odm_api.GroupsApi(self.client)

    def close(self) -> None:
        # ApiClient has no close(); drop the pooled keep-alive connections.
        self.client.rest_client.pool_manager.clear()

    def __repr__(self) -> str:
        return f"Actor({self.user_name!r}, id={self.id!r})"


# -- request bodies ------------------------------------------------------------------

def email(value: str, primary: bool = True) -> odm_api.CreateUserRequestEmailsInner:
    return odm_api.CreateUserRequestEmailsInner(type="work", value=value, primary=primary)


def user_body(user_name: str, display_name: str | None = None, *, emails=None, external_id: str | None = None,
              active: bool = True) -> odm_api.CreateUserRequest:
    """A create_user body; by default one work email derived from the userName."""
    if emails is None:
        emails = [email(f"{user_name.lower()}@example.com")]
    return odm_api.CreateUserRequest(
        schemas=[USER_SCHEMA],
        user_name=user_name,
        display_name=display_name if display_name is not None else f"Display {user_name}",
        external_id=external_id,
        active=active,
        emails=emails,
    )


def group_body(display_name: str, *, external_id: str | None = None, members=None) -> odm_api.CreateGroupRequest:
    return odm_api.CreateGroupRequest(
        schemas=[GROUP_SCHEMA], display_name=display_name, external_id=external_id, members=members
    )


def op(op_name: str, path: str | None = None, value: dict | None = None) -> odm_api.GroupPatchOperationsInner:
    return odm_api.GroupPatchOperationsInner(op=op_name, path=path, value=value)


def user_patch(*ops) -> odm_api.UserPatch:
    return odm_api.UserPatch(schemas=[PATCH_SCHEMA], operations=list(ops))


def group_patch(*ops) -> odm_api.GroupPatch:
    return odm_api.GroupPatch(schemas=[PATCH_SCHEMA], operations=list(ops))


def member_filter(user_id: str) -> str:
    return f'members[value eq "{user_id}"]'


# -- responses -----------------------------------------------------------------------

def expect_error(exc_cls: type[ApiException], call, *args, status: int, scim_type: str | None = None,
                 **kwargs) -> ApiException:
    """Calls `call(*args, **kwargs)` and asserts it raises `exc_cls` with HTTP `status`.

    For the statuses ODM answers with a SCIMErrorResponse (400, 403, 404, 409) the body must
    parse into that model, with `status` as the string form of the code.
    """
    with pytest.raises(exc_cls) as info:
        call(*args, **kwargs)
    e = info.value
    assert e.status == status, f"expected HTTP {status}, got {e.status}: {e.body}"
    if status in (400, 403, 404, 409):
        data = e.data
        if data is None:
            # The SDK parses an error body only for the codes listed for that operation
            # (patch_user lists no 409); validate it with the same model ourselves.
            data = odm_api.SCIMErrorResponse.from_json(e.body)
        assert data.status == str(status), e.body
        if data.schemas is not None:
            assert data.schemas == [ERROR_SCHEMA], e.body
        if scim_type is not None:
            assert data.scim_type == scim_type, f"expected scimType {scim_type!r}: {e.body}"
    return e


def header(response: odm_api.ApiResponse, name: str) -> str | None:
    """A response header, looked up case-insensitively (ApiResponse keeps a plain dict)."""
    return {k.lower(): v for k, v in (response.headers or {}).items()}.get(name.lower())


def raw_json(response: odm_api.ApiResponse) -> dict:
    """The response body as the server sent it (for keys the SDK models drop, e.g. member `role`)."""
    return json.loads(response.raw_data)


def member_roles(actor: Actor, group_id: str) -> dict[str, str]:
    """{user id: role} of a group, read from the raw body of get_group."""
    body = raw_json(actor.groups.get_group_with_http_info(group_id))
    return {m["value"]: m.get("role") for m in body.get("members") or []}


def member_ids(group) -> set[str]:
    return {m.value for m in group.members or []}


def listed_ids(list_response) -> list[str]:
    return [r.id for r in list_response.resources or []]


def page_through(fetch, total: int, count: int) -> list[str]:
    """Walks every page of a list endpoint (`fetch(start_index=, count=)`), checking paging fields."""
    ids: list[str] = []
    start = 1
    while start <= total:
        page = fetch(start_index=start, count=count)
        expected = min(count, total - start + 1)
        assert page.total_results == total
        assert page.start_index == start
        assert page.items_per_page == expected
        assert len(page.resources) == expected
        ids.extend(listed_ids(page))
        start += count
    return ids
