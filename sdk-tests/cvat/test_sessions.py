"""Signing in the ways cvat-sdk 2.80.0 does: the anonymous /api/server/about and its version
check, POST /api/auth/login (key + `sessionid`/`csrftoken` cookies) and logout, the
high-level `make_client` with a password (session + CSRF) or an access token, the
low-level `api_key={"tokenAuth": key}`, `api_key={"sessionAuth": ..., "csrfAuth": ...}` and
`access_token=` (Roster API token, OAuth JWT); Roster's CSRF rules on raw HTTP; a
deactivation or a new password ending sessions and old Basic credentials at once; and
sessions shared by two nodes of one PostgreSQL database."""

from __future__ import annotations

import base64
import secrets
import threading
import uuid
from http.cookies import SimpleCookie

import packaging.version
import pytest
from cvat_sdk import make_client
from cvat_sdk.api_client import models
from cvat_sdk.api_client.exceptions import ApiException, NotFoundException, UnauthorizedException
from cvat_sdk.core.client import Client, Config

from conftest import (
    ADMIN_PASSWORD,
    ON_POSTGRES,
    Roster,
    admin_auth,
    as_person,
    assert_refused,
    basic,
    bearer,
    error_json,
    login,
    login_admin,
    login_raw,
    low_level,
    new_person,
    oauth_jwt,
    scim,
    scim_deactivate,
    scim_set_password,
    scim_user,
    self_status,
    send,
    set_cookies,
    start_server,
)

ABOUT_KEYS = {"name", "description", "version", "logo_url", "subtitle"}
BAD_LOGIN = {"non_field_errors": ["Unable to log in with provided credentials."]}


def whoami(roster, headers: dict) -> str:
    status, _, body = send(roster, "GET", "/api/users/self", headers=headers)
    assert status == 200, body
    return body["username"]


def given_name(roster, person) -> str:
    return scim_user(roster, person).get("name", {}).get("givenName", "")


# -- about and the version check -----------------------------------------------------------


def test_about_is_anonymous_and_says_2_80_0(roster):
    status, headers, body = send(roster, "GET", "/api/server/about")
    assert status == 200, body
    assert set(body) == ABOUT_KEYS and all(isinstance(body[k], str) for k in ABOUT_KEYS), body
    assert body["version"] == "2.80.0"
    with low_level(roster) as api:
        about, _ = api.server_api.retrieve_about()
        assert about.version == "2.80.0" and about.name == body["name"]
    # The high-level client's check: fatal on an unsupported version with this Config.
    with Client(roster.base_url, config=Config(allow_unsupported_server=False)) as client:
        assert client.get_server_version() == packaging.version.Version("2.80.0")
        # No credentials: nothing but about.
        with pytest.raises(UnauthorizedException):
            client.users.retrieve_current_user()


# -- login and logout over raw HTTP --------------------------------------------------------


def test_login_gives_a_key_and_the_two_cookies_and_a_new_session_each_time(roster):
    p = new_person(roster, "login")
    s1 = login(roster, p)
    assert 0 < len(s1.key) <= 40
    # The SDK reads the Set-Cookie headers joined by ", " (urllib3) with http.cookies: a flag
    # attribute (HttpOnly, Secure) last in any but the last header makes it drop every cookie.
    jar = SimpleCookie(", ".join(s1.set_cookie))
    assert {"sessionid", "csrftoken"} <= set(jar), s1.set_cookie
    sid, csrf = s1.morsels["sessionid"], s1.morsels["csrftoken"]
    assert sid["httponly"] is True and sid["samesite"].lower() == "lax", sid.OutputString()
    assert csrf["samesite"].lower() == "lax", csrf.OutputString()
    s2 = login(roster, email=p.email, password=p.password)
    assert s2.sessionid != s1.sessionid
    for s in (s1, s2):
        assert whoami(roster, s.cookie()) == p.username
        assert whoami(roster, s.token()) == p.username


@pytest.mark.parametrize(
    "who",
    ["wrong-password", "unknown-user", "unknown-email", "empty-password"],
)
def test_a_failed_login_is_400_unable_to_log_in_and_sets_no_session(roster, who):
    p = new_person(roster, "fail")
    args = {
        "wrong-password": dict(username=p.username, password=p.password + "x"),
        "unknown-user": dict(username="nobody-" + secrets.token_hex(4), password=p.password),
        "unknown-email": dict(email=f"nobody-{secrets.token_hex(4)}@example.com", password=p.password),
        "empty-password": dict(username=p.username, password=""),
    }[who]
    status, headers, body = login_raw(roster, args.pop("password"), **args)
    assert status == 400, body
    if who != "empty-password":
        assert body == BAD_LOGIN
    else:
        assert isinstance(body, dict) and body, body
    assert "sessionid" not in set_cookies(headers)


def test_logout_ends_the_session_and_its_key_but_not_another_session(roster):
    p = new_person(roster, "logout")
    s1, s2 = login(roster, p), login(roster, p)
    status, _, body = send(roster, "POST", "/api/auth/logout", headers=s1.csrf(roster))
    assert status == 200 and body == {"detail": "Successfully logged out."}, body
    assert_refused(roster, s1.cookie())
    assert_refused(roster, s1.token())
    assert whoami(roster, s2.cookie()) == p.username
    # The low-level SDK's view: a dead key is a 401.
    with low_level(roster, api_key={"tokenAuth": s1.key}) as api:
        with pytest.raises(UnauthorizedException) as e:
            api.users_api.retrieve_self()
        assert error_json(e.value).get("detail")


# -- the low-level client's other credentials ----------------------------------------------


def test_the_low_level_client_with_a_login_key_a_session_an_api_token_and_a_jwt(roster, connect):
    p = new_person(roster, "keys")
    anon = connect()
    token, resp = anon.auth_api.create_login(models.LoginSerializerExRequest(username=p.username, password=p.password))
    assert resp.status == 200 and 0 < len(token.key) <= 40
    assert {"sessionid", "csrftoken"} <= set(anon.cookies)
    with pytest.raises(ApiException) as e:
        anon.auth_api.create_login(models.LoginSerializerExRequest(username=p.username, password="wrong-password-1"))
    assert e.value.status == 400 and error_json(e.value) == BAD_LOGIN

    by_key = connect(api_key={"tokenAuth": token.key})
    me, _ = by_key.users_api.retrieve_self()
    assert me.id == p.id
    by_key.users_api.partial_update(p.id, patched_user_request=models.PatchedUserRequest(first_name="Keyed"))
    assert given_name(roster, p) == "Keyed"

    s = login(roster, p)
    by_session = connect(api_key={"sessionAuth": s.sessionid, "csrfAuth": s.csrftoken})
    assert by_session.users_api.retrieve_self()[0].id == p.id
    by_session.users_api.partial_update(p.id, patched_user_request=models.PatchedUserRequest(first_name="Sessioned"))
    assert given_name(roster, p) == "Sessioned"

    assert connect(access_token=roster.admin_token).users_api.retrieve_self()[0].username == roster.admin_user
    assert connect(access_token=roster.issue_token(p.username)).users_api.retrieve_self()[0].id == p.id
    jwt = oauth_jwt(roster, p.username)
    by_jwt = connect(access_token=jwt)
    assert by_jwt.users_api.retrieve_self()[0].id == p.id
    by_jwt.users_api.partial_update(p.id, patched_user_request=models.PatchedUserRequest(first_name="Jwt"))
    assert given_name(roster, p) == "Jwt"

    for cfg in ({"access_token": "not-a-token"}, {"api_key": {"tokenAuth": "f" * 40}},
                {"access_token": jwt[:-4] + ("AAAA" if not jwt.endswith("AAAA") else "BBBB")}):
        with pytest.raises(UnauthorizedException) as e:
            connect(**cfg).users_api.retrieve_self()
        assert error_json(e.value).get("detail"), cfg


# -- the high-level client -----------------------------------------------------------------


def test_make_client_with_a_password_keeps_a_session_and_logout_refuses_it(roster):
    p = new_person(roster, "highlevel", first="High")
    client = make_client(roster.base_url, credentials=(p.username, p.password))
    with client:
        jar = client.api_client.cookies
        assert {"sessionid", "csrftoken"} <= set(jar)
        assert jar["sessionid"]["httponly"] is True
        assert client.api_client.configuration.api_key["csrfHeaderAuth"] == jar["csrftoken"].value
        me = client.users.retrieve_current_user()
        assert (me.id, me.username, me.first_name) == (p.id, p.username, "High")
        # An unsafe request on the session: the SDK's X-CSRFToken and Origin pass.
        me.update({"first_name": "Higher", "last_name": "Level"})
        assert (me.first_name, me.last_name) == ("Higher", "Level")
        assert given_name(roster, p) == "Higher"
        # Later requests keep the csrftoken the header carries (no rotation mid-session).
        client.users.list(search=p.username)
        assert jar["csrftoken"].value == client.api_client.configuration.api_key["csrfHeaderAuth"]
        old = {"Cookie": f"sessionid={jar['sessionid'].value}; csrftoken={jar['csrftoken'].value}"}
        assert whoami(roster, old) == p.username
        client.logout()
        assert "sessionid" not in client.api_client.cookies
        assert_refused(roster, old)
        with pytest.raises(UnauthorizedException):
            client.users.retrieve_current_user()


def test_the_admin_updates_and_removes_through_the_high_level_client(roster):
    p = new_person(roster, "managed", first="Man", last="Aged")
    with make_client(roster.base_url, credentials=(roster.admin_user, ADMIN_PASSWORD)) as client:
        assert client.users.retrieve_current_user().username == roster.admin_user
        u = client.users.retrieve(p.id)
        assert (u.username, u.first_name, u.email) == (p.username, "Man", p.email)
        u.update({"last_name": "Lovelace", "groups": ["business"]})  # PATCH, then GET
        assert (u.last_name, u.groups) == ("Lovelace", ["business"])
        assert scim_user(roster, p)["name"]["familyName"] == "Lovelace"
        u.remove()
        assert scim(roster, "GET", f"/Users/{p.uuid}")[0] == 404
        with pytest.raises(NotFoundException):
            client.users.retrieve(p.id)
        client.logout()


@pytest.mark.parametrize("kind", ["api-token", "jwt"])
def test_make_client_with_an_access_token(roster, kind):
    p = new_person(roster, "pat")
    token = roster.issue_token(p.username) if kind == "api-token" else oauth_jwt(roster, p.username)
    with make_client(roster.base_url, access_token=token) as client:
        assert not client.api_client.cookies, "no login call"
        me = client.users.retrieve_current_user()
        assert me.id == p.id
        me.update({"first_name": "Tokened"})  # Bearer: no CSRF needed
        assert given_name(roster, p) == "Tokened"
        assert p.id in {u.id for u in client.users.list(search=p.username)}
        assert not client.api_client.cookies.get("sessionid"), "a Bearer request starts no session"


# -- CSRF ----------------------------------------------------------------------------------


# case -> (status, the headers of a PATCH by `p`, who has a live session `s` and a logged-out
# one `stale`)
CSRF_CASES = {
    "session+csrf+origin": (200, lambda r, s, stale, p: s.csrf(r)),
    "no-csrf-header": (403, lambda r, s, stale, p: {**s.cookie(), "Origin": r.base_url}),
    "wrong-csrf-header": (403, lambda r, s, stale, p: {**s.cookie(), "X-CSRFToken": secrets.token_hex(16),
                                                       "Origin": r.base_url}),
    "csrf-of-another-session": (403, lambda r, s, stale, p: {**s.cookie(), "X-CSRFToken": stale.csrftoken,
                                                             "Origin": r.base_url}),
    "wrong-origin": (403, lambda r, s, stale, p: s.csrf(r, origin="http://evil.example")),
    "other-port-origin": (403, lambda r, s, stale, p: s.csrf(r, origin="http://127.0.0.1:1")),
    "https-origin": (403, lambda r, s, stale, p: s.csrf(r, origin=r.base_url.replace("http:", "https:"))),
    "null-origin": (403, lambda r, s, stale, p: s.csrf(r, origin="null")),
    "no-origin": (403, lambda r, s, stale, p: {**s.cookie(), "X-CSRFToken": s.csrftoken}),
    "basic+stale-cookies": (200, lambda r, s, stale, p: {**stale.cookie(), **p.basic()}),
    "basic+live-cookies-no-csrf": (200, lambda r, s, stale, p: {**s.cookie(), **p.basic()}),
    "bearer+live-cookies-no-csrf": (200, lambda r, s, stale, p: {**s.cookie(), **bearer(r.issue_token(p.username))}),
    "token+stale-cookies-no-csrf": (200, lambda r, s, stale, p: {**stale.cookie(), **s.token()}),
}


@pytest.mark.parametrize("case", list(CSRF_CASES))
def test_csrf_on_a_patch(roster, case):
    p = new_person(roster, "csrf", first="Before")
    s = login(roster, p)
    stale = login(roster, p)
    assert send(roster, "POST", "/api/auth/logout", headers=stale.csrf(roster))[0] == 200
    want, headers_of = CSRF_CASES[case]
    status, _, body = send(roster, "PATCH", f"/api/users/{p.id}", headers=headers_of(roster, s, stale, p),
                           body={"first_name": "After"})
    assert status == want, body
    if status == 403:
        assert isinstance(body, dict) and body["detail"].startswith("CSRF Failed"), body
        assert given_name(roster, p) == "Before"
        # The session itself is fine: a GET needs no CSRF, whatever the Origin.
        assert whoami(roster, {**s.cookie(), "Origin": "http://evil.example"}) == p.username
    else:
        assert body["first_name"] == "After", body
        assert given_name(roster, p) == "After"


def test_csrf_on_delete_and_logout(roster):
    victim = new_person(roster, "victim")
    admin = login_admin(roster)
    status, _, body = send(roster, "DELETE", f"/api/users/{victim.id}", headers=admin.cookie())
    assert status == 403 and body["detail"].startswith("CSRF Failed"), body
    assert scim(roster, "GET", f"/Users/{victim.uuid}")[0] == 200
    status, _, body = send(roster, "POST", "/api/auth/logout", headers={**admin.cookie(), "Origin": roster.base_url})
    assert status == 403 and body["detail"].startswith("CSRF Failed"), body
    assert whoami(roster, admin.cookie()) == roster.admin_user, "a refused logout ends nothing"
    status, _, body = send(roster, "DELETE", f"/api/users/{victim.id}", headers=admin.csrf(roster))
    assert status == 204, body
    assert scim(roster, "GET", f"/Users/{victim.uuid}")[0] == 404


# -- credentials that end ------------------------------------------------------------------


def test_deactivation_ends_sessions_keys_and_basic_at_once(roster, admin_api, connect):
    p = new_person(roster, "deact")
    s = login(roster, p)
    api = as_person(connect, p)
    assert api.users_api.retrieve_self()[0].id == p.id
    u, _ = admin_api.users_api.partial_update(p.id, patched_user_request=models.PatchedUserRequest(is_active=False))
    assert u.is_active is False
    assert scim_user(roster, p)["active"] is False
    for headers in (s.cookie(), s.token(), p.basic()):
        assert_refused(roster, headers)
    with pytest.raises(UnauthorizedException):
        api.users_api.retrieve_self()
    assert login_raw(roster, p.password, username=p.username)[0] != 200
    # Active again: the password works again, the old session stays ended.
    admin_api.users_api.partial_update(p.id, patched_user_request=models.PatchedUserRequest(is_active=True))
    assert api.users_api.retrieve_self()[0].id == p.id
    assert_refused(roster, s.cookie())
    assert_refused(roster, s.token())
    # The same through SCIM.
    s = login(roster, p)
    scim_deactivate(roster, p)
    assert_refused(roster, s.cookie())
    assert_refused(roster, p.basic())


def test_a_new_password_ends_sessions_and_the_old_basic_credentials(roster, connect):
    p = new_person(roster, "repass")
    s = login(roster, p)
    old = p.password
    scim_set_password(roster, p, "a-new-password-" + secrets.token_hex(4))
    assert_refused(roster, s.cookie())
    assert_refused(roster, s.token())
    assert_refused(roster, basic(p.username, old))
    with pytest.raises(UnauthorizedException):
        connect(username=p.username, password=old).users_api.retrieve_self()
    assert as_person(connect, p).users_api.retrieve_self()[0].id == p.id
    assert login_raw(roster, old, username=p.username)[0] == 400
    assert whoami(roster, login(roster, p).cookie()) == p.username


# -- two nodes -----------------------------------------------------------------------------


@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="several nodes share one database only on PostgreSQL; the PostgreSQL half of scripts/test.sh runs this",
)
def test_a_session_made_on_one_node_works_on_the_other_and_logout_ends_it_on_both(roster):
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    a = start_server(ROSTER_SECRET_KEY=key)
    try:
        b = start_server(ROSTER_SECRET_KEY=key, ROSTER_DATABASE_URL=a.env["ROSTER_DATABASE_URL"])
    except BaseException:
        a.stop()
        raise
    try:
        b.admin_token = a.admin_token  # b's database is a's: a's bootstrap made the admin
        p = new_person(a, "twonode", first="Two")
        s = login(a, p)
        assert whoami(b, s.cookie()) == p.username
        assert whoami(b, s.token()) == p.username
        # An unsafe request on b with the session from a: b's own public URL is the Origin.
        status, _, body = send(b, "PATCH", f"/api/users/{p.id}", headers=s.csrf(b), body={"first_name": "Nodes"})
        assert status == 200, body
        assert given_name(a, p) == "Nodes"
        # The SDK's client on b with a's cookies.
        with low_level(b, api_key={"sessionAuth": s.sessionid, "csrfAuth": s.csrftoken}) as api:
            assert api.users_api.retrieve_self()[0].id == p.id
        status, _, body = send(b, "POST", "/api/auth/logout", headers=s.csrf(b))
        assert status == 200, body
        for node in (a, b):
            assert_refused(node, s.cookie())
            assert_refused(node, s.token())
        # A login on b, a deactivation through a: refused on b at once.
        s2 = login(b, p)
        assert whoami(a, s2.cookie()) == p.username
        scim_deactivate(a, p)
        assert_refused(b, s2.cookie())
        assert self_status(b, admin_auth(b)) == 200
    finally:
        b.stop()
        a.stop()


def test_made_up_sessions_and_keys_are_401(roster):
    """A made-up sessionid or key is a 401 (not a 500, not someone's session)."""
    for headers in ({"Cookie": f"sessionid={uuid.uuid4()}"}, {"Cookie": "sessionid=" + "a" * 2000},
                    {"Authorization": "Token " + secrets.token_hex(20)}, {"Authorization": "Token"},
                    {"Cookie": "sessionid="}, {"Authorization": "Basic !!!"}):
        assert_refused(roster, headers)


def test_one_basic_credential_on_many_connections_at_once_is_checked_once(roster):
    """The low-level SDK sends Basic on every request; a client that opens many connections
    at once must not run one argon2id check per request (the pool would answer 503 and the
    password limit 429): the server verifies the credential once and the others wait for
    it. On a server with the default password limit (30 checks a minute per IP)."""
    r = Roster().start()
    try:
        person = new_person(r, "herd")
        statuses: list[int] = []
        lock = threading.Lock()
        gate = threading.Barrier(40)

        def one():
            gate.wait()
            status, _, _ = send(r, "GET", "/api/users/self", headers=person.basic())
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=one) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200] * 40, sorted(statuses)
        # Wrong passwords are still counted: the limit ends a guessing run.
        wrong = basic(person.username, "not-it")
        seen = {send(r, "GET", "/api/users/self", headers=wrong)[0] for _ in range(40)}
        assert 429 in seen and 200 not in seen, seen
    finally:
        r.stop()

