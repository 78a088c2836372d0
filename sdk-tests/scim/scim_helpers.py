"""Helpers for driving Roster's standard SCIM 2.0 endpoint (`/scim/v2`) with the PyPI
`scim2-client` / `scim2-tester` / `scim2-models` packages (venv: ../requirements-scim.txt).

Everything here talks to a real `roster serve` started by ../conftest.py.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Patch,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    User,
)

SCIM_PREFIX = "/scim/v2"

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

# The resource models of RFC 7643 §4 / §8.7.1: the User with the Enterprise User extension
# (RFC 7643 §4.3), and the Group.
EnterpriseUserModel = User[EnterpriseUser]


def uniq(prefix: str = "user") -> str:
    """A name no other test uses (tests of a module share one server)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def issue_service_provider_config() -> ServiceProviderConfig:
    """What the issue says Roster's /ServiceProviderConfig will advertise (RFC 7643 §5).

    Only used to describe the server to a client up front (the way an identity provider is
    configured out of band); the limits are placeholders, no check depends on their values.
    """
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=True, max_operations=1000, max_payload_size=1_048_576),
        filter=Filter(supported=True, max_results=1000),
        change_password=ChangePassword(supported=True),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="OAuth Bearer Token",
                description="Authentication with an API token sent as `Authorization: Bearer <token>`",
                primary=True,
            )
        ],
    )


def standard_provider(config: ServiceProviderConfig | None, policy: ScimPolicy | None = None) -> ScimProvider:
    """A description of the server built from the RFC's own models (no discovery request)."""
    return ScimProvider(
        models=[User, EnterpriseUser, Group],
        resource_types=[
            ResourceType.from_resource(EnterpriseUserModel),
            ResourceType.from_resource(Group),
        ],
        config=config,
        policy=policy,
    )


# -- HTTP transcript ------------------------------------------------------------------

@dataclass
class Exchange:
    """One HTTP request/response, tagged with the scim2-tester check that sent it."""

    check: str | None
    model: str | None
    method: str
    url: str
    request_body: str
    status: int
    response_body: str
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def resource_type(self) -> str | None:
        return self.model.split("[", 1)[0] if self.model else None

    def render(self, limit: int = 1500) -> str:
        req = f"{self.method} {self.url}"
        if self.request_body:
            req += f"\n      body: {_clip(self.request_body, limit)}"
        return f"    > {req}\n    < {self.status} {_clip(self.response_body, limit)}"

    def to_json(self) -> dict:
        return {
            "check": self.check, "model": self.model, "method": self.method, "url": self.url,
            "request_body": self.request_body, "status": self.status,
            "response_headers": self.response_headers, "response_body": self.response_body,
        }


def _clip(text: str, limit: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class Transcript:
    """Records every exchange of an httpx2 client (event hooks).

    When `check_names` is given, each exchange is tagged with the innermost function on the
    call stack whose name is one of them (the scim2-tester check being run) and with that
    frame's `model` argument (the resource model a per-resource-type check is about).
    """

    def __init__(self, check_names: set[str] | None = None) -> None:
        self.check_names = check_names or set()
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def _caller(self) -> tuple[str | None, str | None]:
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_code.co_name
            if name in self.check_names:
                model = frame.f_locals.get("model")
                return name, getattr(model, "__name__", None)
            frame = frame.f_back
        return None, None

    def on_response(self, response: httpx2.Response) -> None:
        response.read()
        request = response.request
        check, model = self._caller()
        body = request.content.decode("utf-8", errors="replace") if request.content else ""
        with self._lock:
            self.exchanges.append(Exchange(
                check=check, model=model, method=request.method, url=str(request.url),
                request_body=body, status=response.status_code,
                response_body=response.text, response_headers=dict(response.headers),
            ))

    def of(self, check: str, resource_type: str | None) -> list[Exchange]:
        return [e for e in self.exchanges if e.check == check and e.resource_type == resource_type]

    def dump(self, path) -> None:
        with open(path, "w") as f:
            for e in self.exchanges:
                f.write(json.dumps(e.to_json()) + "\n")


def http_client(roster, transcript: Transcript | None = None) -> httpx2.Client:
    """An httpx2 client for `<server>/scim/v2`, authenticated as the bootstrap admin."""
    hooks = {"response": [transcript.on_response]} if transcript is not None else {}
    return httpx2.Client(
        base_url=roster.base_url + SCIM_PREFIX,
        headers={"Authorization": f"Bearer {roster.admin_token}", "Accept": "application/scim+json"},
        trust_env=False,  # never send 127.0.0.1 traffic through a proxy from the environment
        timeout=15.0,
        event_hooks=hooks,
    )


def scim_client(http: httpx2.Client, provider: ScimProvider | None = None) -> SyncSCIMClient:
    return SyncSCIMClient(http, provider=provider) if provider is not None else SyncSCIMClient(http)


# -- identity-provider style calls ----------------------------------------------------

class IdP:
    """Sends the exact request shapes an identity provider sends, through scim2-client.

    `scim` is a scim2-client `SyncSCIMClient` describing the server with the RFC's User
    (+ Enterprise extension) and Group models. Typed calls (`scim.query`, `scim.delete`, ...)
    are used where scim2-client can express the request; `send()` sends a literal body (e.g.
    Entra's `"op": "Replace"`, string booleans) through the same client and then has
    scim2-client read the response (`check_response`: content type, SCIM error, schema).

    Identity providers ignore response attributes they do not know, so the client's policy
    keeps unknown attributes instead of refusing the payload; strict response validation is
    the conformance suite's job (test_conformance.py).
    """

    def __init__(self, roster) -> None:
        self.roster = roster
        self.transcript = Transcript()
        self.http = http_client(roster, self.transcript)
        self.scim = scim_client(
            self.http, standard_provider(None, ScimPolicy(unknown=ScimPolicy.Unknown.keep))
        )

    def close(self) -> None:
        self.http.close()

    def send(self, method: str, path: str, body: Any = None, *, params: dict | None = None,
             expect: int | tuple[int, ...], model=None, ctx: Context | None = None,
             headers: dict | None = None, content_type: str = "application/scim+json"):
        """Sends `body` as-is; asserts the status is (one of) `expect`.

        Returns (httpx2 response, what scim2-client read from it: a model instance when `model`
        is given, else the JSON payload or None).
        """
        __tracebackhide__ = True
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["content"] = json.dumps(body).encode()
            kwargs["headers"] = {"Content-Type": content_type, **(headers or {})}
        elif headers:
            kwargs["headers"] = headers
        if params:
            kwargs["params"] = params
        response = self.scim.request(method, path, **kwargs)
        expected = (expect,) if isinstance(expect, int) else tuple(expect)
        assert response.status_code in expected, (
            f"{method} {SCIM_PREFIX}{path}"
            + (f" params={params}" if params else "")
            + (f"\n  body: {json.dumps(body)}" if body is not None else "")
            + f"\n  expected HTTP {' or '.join(map(str, expected))}, got {response.status_code}: {response.text[:2000]}"
        )
        payload = response.json() if response.text else None
        parsed = self.scim.check_response(
            payload=payload,
            status_code=response.status_code,
            headers=response.headers,
            expected_status_codes=list(expected),
            expected_types=[model] if model is not None else None,
            scim_ctx=ctx,
            # an expected error status: hand back the parsed Error instead of raising
            raise_scim_errors=not any(code >= 400 for code in expected),
        )
        return response, parsed

    # Typed helpers built on scim2-client's own request methods ---------------------

    def find_users(self, filter_: str, **extra):
        return self.scim.query(
            EnterpriseUserModel, SearchRequest(filter=filter_, **extra), expected_status_codes=[200]
        )

    def find_groups(self, filter_: str | None = None, **extra):
        req = SearchRequest(filter=filter_, **extra) if filter_ or extra else None
        return self.scim.query(Group, req, expected_status_codes=[200])

    def get_user(self, user_id: str):
        return self.scim.query(EnterpriseUserModel, user_id, expected_status_codes=[200])

    def get_group(self, group_id: str):
        return self.scim.query(Group, group_id, expected_status_codes=[200])

    def raw_get(self, path: str, params: dict | None = None) -> dict:
        """GET returning the JSON as the server sent it (to look at keys a model may drop)."""
        response = self.scim.request("GET", path, params=params or {})
        assert response.status_code == 200, f"GET {SCIM_PREFIX}{path} -> {response.status_code}: {response.text}"
        return response.json()


def patch_body(*operations: dict) -> dict:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def member_ids(group) -> set[str]:
    return {m.value for m in (group.members or [])}
