"""Fixtures and helpers for the cvat-sdk 2.80.0 suite (venv: ../requirements-cvat.txt; wire
contract: shared/contracts/cvat.md). Test modules import the helpers with
`from conftest import ...` (this file, as in ../contabo).

The servers are ../conftest.py's `Roster`, started with the password rate limit off
(ROSTER_RATE_LIMIT_PASSWORDS=off): the server remembers a verified Basic credential (the
SDK's low-level client sends Basic on every request), but the suite signs in as dozens of
users, and wrong passwords on purpose, within seconds, well past the default 30 password
checks per minute per client IP. Everything the tests only need to
set up or to look at afterwards goes over SCIM or the API with the admin's API token
(Bearer), never with a password.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookies import Morsel, SimpleCookie
from pathlib import Path

import pytest
from cvat_sdk.api_client import ApiClient, Configuration


def _load_harness():
    """../conftest.py as a module of its own name (`conftest` is this file here)."""
    path = Path(__file__).resolve().parent.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("roster_harness", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["roster_harness"] = mod
    spec.loader.exec_module(mod)
    return mod


harness = _load_harness()
Roster = harness.Roster
ADMIN_PASSWORD = harness.ADMIN_PASSWORD
ON_POSTGRES = harness.TEST_DATABASE_URL.startswith("postgres")

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ROSTER_GROUP_EXT = "urn:roster:params:scim:schemas:extension:roster:2.0:Group"

# The two shapes of a user (contract §3): the full User for admins and the user themself,
# the BasicUser for everyone else.
FULL_KEYS = {
    "url", "id", "username", "first_name", "last_name", "email", "groups", "is_staff",
    "is_superuser", "is_active", "last_login", "date_joined", "email_verified",
}
BASIC_KEYS = {"url", "id", "username", "first_name", "last_name"}
STRING_KEYS = ("url", "username", "first_name", "last_name", "email", "date_joined")

# CVAT's username rule (the SDK checks every username it receives against it).
USERNAME_RE = re.compile(r"^[\w.@+-]+$", re.ASCII)


def start_server(**env) -> Roster:
    """A `roster serve` of its own with the password rate limit off and `env` on top."""
    r = Roster()
    r.env["ROSTER_RATE_LIMIT_PASSWORDS"] = "off"
    r.env.update({k: str(v) for k, v in env.items()})
    return r.start()


@pytest.fixture(scope="module")
def roster():
    """Overrides ../conftest.py's: the same server, with the password rate limit off."""
    r = start_server()
    try:
        yield r
    finally:
        r.stop()


def uniq(prefix: str = "u") -> str:
    """A fresh userName (valid for CVAT: letters, digits and `-`)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def rendered(user_name: str) -> str:
    """How a CVAT client must see a userName made elsewhere: each character outside
    [\\w.@+-] as `_`, at most 150 characters."""
    return re.sub(r"[^\w.@+-]", "_", user_name, flags=re.ASCII)[:150]


# -- raw HTTP ------------------------------------------------------------------------------


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def admin_auth(roster) -> dict:
    return bearer(roster.admin_token)


def send(roster, method: str, path: str, *, headers: dict | None = None, body=None, raw: bytes | None = None):
    """(status, headers, parsed JSON or text or None). `raw` sends bytes as they are (with
    Content-Type: application/json), for bodies no JSON encoder writes."""
    if raw is None:
        return roster.http(method, path, headers=headers, body=body)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(roster.base_url + path, data=raw, method=method, headers=hdrs)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            status, rh, data = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, rh, data = e.code, e.headers, e.read()
    text = data.decode("utf-8", errors="replace")
    try:
        return status, rh, json.loads(text) if text else None
    except ValueError:
        return status, rh, text


def query(**params) -> str:
    """`?a=b&...` as urllib3 would write it (None values left out)."""
    q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return f"?{q}" if q else ""


def get_user(roster, user_id: int, headers: dict | None = None):
    return send(roster, "GET", f"/api/users/{user_id}", headers=headers or admin_auth(roster))


def list_page(roster, headers: dict | None = None, **params):
    return send(roster, "GET", "/api/users" + query(**params), headers=headers or admin_auth(roster))


def all_users(roster, **params) -> list[dict]:
    """Every user the admin sees (raw JSON), walking the pages by their `next` links."""
    out, page = [], 1
    while True:
        status, _, body = list_page(roster, page=page, page_size=100, **params)
        assert status == 200, body
        out.extend(body["results"])
        if not body["next"]:
            return out
        page += 1


# -- SCIM: how the tests make users and look at what is stored -------------------------------


def scim(roster, method: str, path: str, body=None):
    return roster.http(
        method,
        f"/scim/v2{path}",
        headers={**admin_auth(roster), "Content-Type": "application/scim+json"},
        body=body,
    )


def scim_user(roster, person_or_uuid) -> dict:
    uid = getattr(person_or_uuid, "uuid", person_or_uuid)
    status, _, body = scim(roster, "GET", f"/Users/{uid}")
    assert status == 200, body
    return body


def scim_patch(roster, path: str, *ops: dict):
    status, _, body = scim(roster, "PATCH", path, {"schemas": [SCIM_PATCH], "Operations": list(ops)})
    assert status in (200, 204), body
    return body


def scim_email(user: dict) -> str:
    emails = user.get("emails") or []
    return emails[0]["value"] if emails else ""


@dataclass
class Person:
    """A user made through SCIM, with what the tests need to act as them."""

    uuid: str
    username: str
    password: str
    email: str
    first_name: str = ""
    last_name: str = ""
    is_active: bool = True
    id: int = 0  # the CVAT integer id

    def basic(self) -> dict:
        return basic(self.username, self.password)

    def as_dict(self) -> dict:
        """The fields a JSON-Logic filter or a sort can look at."""
        return {"id": self.id, "username": self.username, "first_name": self.first_name,
                "last_name": self.last_name, "is_active": self.is_active}


def scim_body(username, *, first="", last="", email=None, password=None, active=True) -> dict:
    body = {"schemas": [SCIM_USER], "userName": username, "active": active}
    name = {k: v for k, v in (("givenName", first), ("familyName", last)) if v}
    if name:
        body["name"] = name
    if email:
        body["emails"] = [{"value": email, "primary": True}]
    if password:
        body["password"] = password
    return body


def ids_by_email(roster) -> dict[str, int]:
    return {u["email"]: u["id"] for u in all_users(roster) if u["email"]}


def id_by_username(roster, username: str) -> int:
    status, _, body = list_page(roster, username=username)
    assert status == 200 and body["count"] == 1, body
    return body["results"][0]["id"]


def make_people(roster, specs: list[dict]) -> list[Person]:
    """Each spec: username (required), first, last, email, password, active. A person gets
    a random email unless the spec says `email=None` (no email at all), and a password of
    27 characters. Their CVAT id is found by email (by username when they have none)."""
    people = []
    for spec in specs:
        username = spec["username"]
        email = spec.get("email", f"{secrets.token_hex(5)}@example.com") or ""
        password = spec.get("password") or "pw-" + secrets.token_hex(12)
        first, last, active = spec.get("first", ""), spec.get("last", ""), spec.get("active", True)
        status, _, body = scim(roster, "POST", "/Users", scim_body(
            username, first=first, last=last, email=email, password=password, active=active))
        assert status == 201, body
        people.append(Person(body["id"], username, password, email, first, last, active))
    ids = ids_by_email(roster)
    for p in people:
        p.id = ids[p.email] if p.email else id_by_username(roster, p.username)
    return people


def new_person(roster, prefix: str = "u", **spec) -> Person:
    spec.setdefault("username", uniq(prefix))
    return make_people(roster, [spec])[0]


def grant(roster, person: Person, *permissions: str) -> None:
    for p in permissions:
        roster.grant(person.username, p)


def scim_deactivate(roster, person: Person, active: bool = False) -> None:
    scim_patch(roster, f"/Users/{person.uuid}", {"op": "replace", "path": "active", "value": active})


def scim_set_password(roster, person: Person, password: str) -> None:
    scim_patch(roster, f"/Users/{person.uuid}", {"op": "replace", "path": "password", "value": password})
    person.password = password


# -- OAuth ---------------------------------------------------------------------------------


def oauth_jwt(roster, username: str) -> str:
    """An access token (JWT) for the user's own OAuth client: the client_credentials grant."""
    client = json.loads(roster.cli("client", "show", "--user", username).stdout)
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client["client_id"],
                                   "client_secret": client["client_secret"]}).encode()
    req = urllib.request.Request(f"{roster.base_url}/oauth/token", data=form, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as r:
        assert r.status == 200
        token = json.loads(r.read())["access_token"]
    assert token.count(".") == 2, f"not a JWT: {token!r}"
    return token


# -- sessions (raw, for what the SDK hides: cookie attributes, stale cookies, CSRF) ---------


def set_cookies(headers) -> dict[str, Morsel]:
    """Every Set-Cookie of a response, by cookie name (each header parsed on its own)."""
    out: dict[str, Morsel] = {}
    for value in headers.get_all("Set-Cookie") or []:
        jar = SimpleCookie()
        jar.load(value)
        out.update(jar)
    return out


@dataclass
class Session:
    """A login's credentials: the cookies and the key."""

    sessionid: str
    csrftoken: str
    key: str
    morsels: dict = field(default_factory=dict, repr=False)  # name -> Morsel (attributes)
    set_cookie: list = field(default_factory=list, repr=False)  # the raw Set-Cookie headers

    def cookie(self) -> dict:
        return {"Cookie": f"csrftoken={self.csrftoken}; sessionid={self.sessionid}"}

    def csrf(self, roster, origin: str | None = None) -> dict:
        """The cookies plus what makes an unsafe request pass the CSRF check."""
        return {**self.cookie(), "X-CSRFToken": self.csrftoken, "Origin": origin or roster.base_url}

    def token(self) -> dict:
        return {"Authorization": f"Token {self.key}"}


def login_raw(roster, password: str, *, username: str | None = None, email: str | None = None):
    body = {"password": password}
    if username is not None:
        body["username"] = username
    if email is not None:
        body["email"] = email
    return send(roster, "POST", "/api/auth/login", body=body)


def login(roster, person: Person | None = None, *, password: str | None = None, **who) -> Session:
    """POST /api/auth/login (as the person, or as `who` = username=/email=); asserts success."""
    if person is not None:
        who.setdefault("username", person.username)
        password = password or person.password
    status, headers, body = login_raw(roster, password, **who)
    assert status == 200, body
    cookies = set_cookies(headers)
    assert {"sessionid", "csrftoken"} <= cookies.keys(), headers.get_all("Set-Cookie")
    return Session(cookies["sessionid"].value, cookies["csrftoken"].value, body["key"], cookies,
                   headers.get_all("Set-Cookie"))


def login_admin(roster) -> Session:
    return login(roster, username=roster.admin_user, password=ADMIN_PASSWORD)


def self_status(roster, headers: dict) -> int:
    """GET /api/users/self with these credentials: the status."""
    return send(roster, "GET", "/api/users/self", headers=headers)[0]


def assert_refused(roster, headers: dict) -> None:
    status, _, body = send(roster, "GET", "/api/users/self", headers=headers)
    assert status == 401, body
    assert isinstance(body, dict) and body.get("detail"), body


# -- the SDK's low-level client ------------------------------------------------------------


def low_level(roster, **cfg) -> ApiClient:
    """`ApiClient(Configuration(host=<server>, **cfg))` (always with the host: contract §1)."""
    return ApiClient(Configuration(host=roster.base_url, **cfg))


@pytest.fixture
def connect(roster):
    """connect(**Configuration kwargs) -> a low-level ApiClient, closed after the test."""
    made: list[ApiClient] = []

    def make(**cfg) -> ApiClient:
        c = low_level(roster, **cfg)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def as_person(connect, person: Person) -> ApiClient:
    return connect(username=person.username, password=person.password)


@pytest.fixture(scope="module")
def admin_api(roster):
    """The bootstrap admin over HTTP Basic (username/password in the Configuration)."""
    with low_level(roster, username=roster.admin_user, password=ADMIN_PASSWORD) as c:
        yield c


def error_json(exc) -> dict:
    """The body of an ApiException (the SDK leaves it unparsed): a JSON object."""
    body = json.loads(exc.body)
    assert isinstance(body, dict), exc.body
    return body


def raw_json(resp) -> dict:
    """A urllib3 response's body as JSON (for `_parse_response=False` calls)."""
    return json.loads(resp.data)


# -- organizations -------------------------------------------------------------------------


@dataclass
class Org:
    slug: str
    id: int
    uuid: str
    name: str


def org_rows(roster) -> dict[str, Org]:
    """`roster org list`: SLUG<TAB>ORG_ID<TAB>GROUP_UUID<TAB>NAME per line."""
    out = {}
    for line in roster.cli("org", "list").stdout.splitlines():
        if not line.strip():
            continue
        slug, org_id, group, name = line.split("\t", 3)
        out[slug] = Org(slug, int(org_id), group, name)
    return out


def create_org(roster, slug: str, name: str | None = None) -> Org:
    args = ["org", "create", slug] + (["--name", name] if name is not None else [])
    group = roster.cli(*args).stdout.strip()
    org = org_rows(roster)[slug]
    assert org.uuid == group, (group, org)
    return org


def add_members(roster, org: Org, *people: Person) -> None:
    scim_patch(roster, f"/Groups/{org.uuid}",
               {"op": "add", "path": "members", "value": [{"value": p.uuid} for p in people]})


def remove_member(roster, org: Org, person: Person) -> None:
    scim_patch(roster, f"/Groups/{org.uuid}", {"op": "remove", "path": f'members[value eq "{person.uuid}"]'})
