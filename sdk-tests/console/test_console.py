"""The web console end to end in headless Chromium: first-run setup, sign-in, users,
permissions, tokens (used against SCIM), groups and members, the audit trail, a reset by mail,
TOTP at every password sign-in, sign-out; and the refusals: CSRF, foreign origins, plain
users on admin pages, the security headers."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
import uuid

from conftest import (
    ADMIN_PASSWORD,
    Roster,
    new_page,
    notice,
    press,
    shot,
    sign_in,
    totp_code,
    uniq,
    create_user,
    wait_for,
)



def scim_get(r, token: str, path: str):
    return r.http("GET", path, headers={"Authorization": f"Bearer {token}"})


def test_first_run_setup_creates_the_admin_once(browser):
    r = Roster()
    for k in ("ROSTER_BOOTSTRAP_ADMIN", "ROSTER_BOOTSTRAP_PASSWORD", "ROSTER_BOOTSTRAP_TOKEN"):
        r.env.pop(k)
    r.start()
    try:
        url = wait_for("the setup URL in the log", lambda: re.search(r"url=(\S+/console/setup\?code=[a-z0-9]{32})", r.stderr()))
        url = url.group(1)
        assert url.startswith(r.base_url)
        page = new_page(browser)
        assert page.goto(url.replace("code=", "code=x")).status == 404
        assert page.goto(url).status == 200
        page.fill("#user_name", "root")
        page.fill("#email", "root@example.com")
        page.fill("#password", "short")
        page.fill("#password2", "short")
        press(page, "button:has-text('Create the administrator')")
        assert page.locator("#password-error").is_visible()
        page.fill("#password", "first-admin-password-1")
        page.fill("#password2", "first-admin-password-1")
        press(page, "button:has-text('Create the administrator')")
        token = page.locator("#secret").input_value()
        assert token.startswith("rst_")
        # The token shown once works, and its user has every permission.
        status, _, body = scim_get(r, token, '/scim/v2/Users?filter=userName%20eq%20%22root%22')
        assert status == 200 and body["totalResults"] == 1, body
        # Spent: the link is dead now.
        assert page.goto(url).status == 404
        sign_in(page, r.base_url, "root", "first-admin-password-1")
        assert page.url.endswith("/console/users"), page.url
        page.context.close()
    finally:
        r.stop()


def test_admin_manages_users_tokens_groups_and_sees_the_audit_trail(roster, browser):
    base = roster.base_url
    page = new_page(browser)
    sign_in(page, base, "admin", ADMIN_PASSWORD)
    assert page.url == f"{base}/console/users"
    shot(page, "users")
    name = uniq("dora")
    uid = create_user(page, base, name, email_addr=f"{name}@example.com", password="dora-password-123")
    # Grant a permission; the page shows it after the redirect, and the store has it.
    page.check("#perm-manage-groups")
    press(page, "button:has-text('Save the permissions')")
    assert notice(page) == "The permissions were saved."
    assert page.is_checked("#perm-manage-groups") and not page.is_checked("#perm-manage-organization")
    # A token issued here works against SCIM as that user.
    page.fill("#t-name", "ci")
    press(page, "button:has-text('Issue a token')")
    token = page.locator("#secret").input_value()
    assert token.startswith("rst_")
    # manage-groups (just granted) reads the groups; manage-organization (not granted) the users.
    status, _, body = scim_get(roster, token, "/scim/v2/Groups?count=1")
    assert status == 200 and "totalResults" in body, body
    assert scim_get(roster, token, f"/scim/v2/Users/{uid}")[0] == 403
    page.goto(f"{base}/console/users/{uid}")
    assert page.locator("tbody tr", has_text="tok_").count() == 1
    # Their OAuth client: shown, works for a client-credentials grant, rotated, the old secret dead.
    press(page, "button:has-text('Show the OAuth client')")
    client_id = re.search(r"Client id: (\S+)", page.locator("main").inner_text()).group(1)
    old_secret = page.locator("#secret").input_value()
    assert _grant(base, client_id, old_secret) == 200
    page.goto(f"{base}/console/users/{uid}")
    press(page, "button:has-text('Rotate its secret')")
    # A confirmation first: nothing changed yet.
    assert page.locator("h1").inner_text().startswith("A new client secret for")
    assert _grant(base, client_id, old_secret) == 200
    press(page, "button:has-text('Rotate the secret')")
    new_secret = page.locator("#secret").input_value()
    assert new_secret != old_secret
    assert _grant(base, client_id, new_secret) == 200
    assert _grant(base, client_id, old_secret) == 401
    page.goto(f"{base}/console/users/{uid}")
    shot(page, "user")
    # Search finds them by a substring of the email.
    page.goto(f"{base}/console/users?q={name[-6:]}%40example")
    assert page.locator(f"a:has-text('{name}')").count() == 1
    # A group with them as a member.
    group = uniq("team-")
    page.goto(f"{base}/console/groups")
    page.fill("#display_name", group)
    press(page, "button:has-text('Create the group')")
    gid = re.search(r"/console/groups/([0-9a-f-]{36})", page.url).group(1)
    page.fill("#m-user", name)
    press(page, "button:has-text('Add (or change the role)')")
    assert notice(page) == "The member was added (or their role changed)."
    assert page.locator("tbody tr", has_text=name).count() == 1
    page.fill("#m-user", "nobody-" + name)
    press(page, "button:has-text('Add (or change the role)')")
    assert "There is no user named" in page.locator("#m-user-error").inner_text()
    shot(page, "group")
    status, _, g = roster.http("GET", f"/scim/v2/Groups/{gid}", headers={"Authorization": f"Bearer {roster.admin_token}"})
    assert [m["value"] for m in g["members"]] == [uid]
    # The audit trail: each action, by the admin, with a request id.
    page.goto(f"{base}/console/audit?actor=admin")
    text = page.locator("table.audit").inner_text()
    for action in ("user.create", "user.update", "permission.grant", "token.issue", "group.create", "group.update"):
        assert action in text, (action, text)
    # Users are named by their userName (linked to their page), not by id.
    grant = page.locator("table.audit tbody tr", has_text="permission.grant").first
    assert grant.locator(f"a:has-text('{name}')").count() == 1 and "manage-groups" in grant.inner_text()
    assert grant.locator("a:has-text('admin')").count() == 1
    page.select_option("#action", "token.issue")
    press(page, "button:has-text('Show')")
    rows = page.locator("table.audit tbody tr")
    assert rows.count() >= 1 and all("token.issue" in rows.nth(i).inner_text() for i in range(rows.count()))
    shot(page, "audit")
    # Deactivation takes effect on the token at once; deletion asks first.
    page.goto(f"{base}/console/users/{uid}")
    press(page, "button:has-text('Deactivate')")
    assert scim_get(roster, token, "/scim/v2/Groups?count=1")[0] == 401
    page.click("text=Delete this user…")
    page.wait_for_url(f"**/console/users/{uid}/delete")
    press(page, "button:has-text('Delete the user')")
    assert notice(page) == "The user was deleted."
    assert roster.http("GET", f"/scim/v2/Users/{uid}", headers={"Authorization": f"Bearer {roster.admin_token}"})[0] == 404
    # Sign out: the session is gone.
    press(page, "button:has-text('Sign out')")
    assert "/console/sign-in" in page.url
    page.goto(f"{base}/console/users")
    assert "/console/sign-in?next=" in page.url
    page.context.close()


def contabo_get(r, token: str, path: str):
    return r.http("GET", path, headers={"Authorization": f"Bearer {token}", "x-request-id": str(uuid.uuid4())})


def test_roles_storages_key_pairs_and_other_addresses(roster, browser):
    base = roster.base_url
    page = new_page(browser)
    sign_in(page, base, "admin", ADMIN_PASSWORD)
    name = uniq("rhea")
    uid = create_user(page, base, name, email_addr=f"{name}@example.com")
    page.fill("#t-name", "ci")
    press(page, "button:has-text('Issue a token')")
    token = page.locator("#secret").input_value()
    assert scim_get(roster, token, f"/scim/v2/Users/{uid}")[0] == 403
    # A role that makes administrators: a bad permission list is shown next to its field.
    role = uniq("ops-")
    page.goto(f"{base}/console/roles")
    page.fill("#r-name", role)
    page.check("#r-admin")
    page.fill("#r-perms", '[{"apiName": "/v1/x", "actions": ["FLY"]}]')
    press(page, "button:has-text('Create the role')")
    assert "a JSON list like" in page.locator("#r-perms-error").inner_text()
    assert page.input_value("#r-name") == role and page.is_checked("#r-admin")
    page.fill("#r-perms", '[{"apiName": "/v1/compute/instances", "actions": ["READ"]}]')
    press(page, "button:has-text('Create the role')")
    assert notice(page) == "The role was created."
    rid = re.search(r"/console/roles/(\d+)", page.url).group(1)
    assert "/v1/compute/instances" in page.input_value("#r-perms")
    shot(page, "role")
    # Given to the user on their page: their token now reads users (manage-organization).
    page.goto(f"{base}/console/users/{uid}")
    page.check(f"#role-{rid}")
    press(page, "button:has-text('Save the roles')")
    assert notice(page) == "The roles were saved." and page.is_checked(f"#role-{rid}")
    assert scim_get(roster, token, f"/scim/v2/Users/{uid}")[0] == 200
    # Deleting the role (after a confirmation) takes it, and what it gave, away.
    page.goto(f"{base}/console/roles/{rid}")
    page.click("text=Delete this role…")
    page.wait_for_url(f"**/console/roles/{rid}/delete")
    press(page, "button:has-text('Delete the role')")
    assert notice(page).startswith("The role was deleted")
    assert scim_get(roster, token, f"/scim/v2/Users/{uid}")[0] == 403
    # A second object storage; the user's page then lists a key pair for each.
    storage = uniq("backups-")
    page.goto(f"{base}/console/storages")
    page.fill("#s-name", storage)
    press(page, "button:has-text('Add the storage')")
    assert "A storage needs a region" in page.locator("#s-region-error").inner_text()
    page.fill("#s-region", "US-central")
    press(page, "button:has-text('Add the storage')")
    assert page.locator("tbody tr", has_text=storage).count() == 1
    shot(page, "storages")
    page.goto(f"{base}/console/users/{uid}")
    row = page.locator("tbody tr", has_text=storage)
    assert row.count() == 1
    access = row.locator("code").inner_text()
    row.locator("button:has-text('Show the secret key')").click()
    page.wait_for_load_state()
    shown = page.locator("#secret").input_value()
    # The same pair the Contabo API hands out.
    status, _, body = contabo_get(roster, roster.admin_token, f"/v1/users/{uid}/object-storages/credentials?size=100")
    assert status == 200, body
    pair = [c for c in body["data"] if c["displayName"] == storage]
    assert pair and pair[0]["accessKey"] == access and pair[0]["secretKey"] == shown
    # A new secret key, after a confirmation; the access key stays.
    page.goto(f"{base}/console/users/{uid}")
    page.locator("tbody tr", has_text=storage).locator("button:has-text('New secret key')").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == f"A new secret key for {access}?"
    press(page, "button:has-text('Make a new secret key')")
    fresh = page.locator("#secret").input_value()
    assert fresh != shown and access in page.locator("main").inner_text()
    body = contabo_get(roster, roster.admin_token, f"/v1/users/{uid}/object-storages/credentials?size=100")[2]
    assert [c["secretKey"] for c in body["data"] if c["displayName"] == storage] == [fresh]
    # Removing the storage (confirmed) removes the user's pair for it.
    page.goto(f"{base}/console/storages")
    page.locator("tbody tr", has_text=storage).locator("text=Remove…").click()
    page.wait_for_load_state()
    press(page, "button:has-text('Remove the storage')")
    assert notice(page).startswith("The storage was removed")
    page.goto(f"{base}/console/users/{uid}")
    assert page.locator("tbody tr", has_text=storage).count() == 0
    # Other addresses beside the primary one, one per line.
    page.fill("#p-other_emails", f"{name}@home.example\n\n{name}@old.example")
    press(page, "button:has-text('Save the profile')")
    assert notice(page) == "The profile was saved."
    _, _, u = roster.http("GET", f"/scim/v2/Users/{uid}", headers={"Authorization": f"Bearer {roster.admin_token}"})
    assert [(e["value"], e.get("primary", False)) for e in u["emails"]] == [
        (f"{name}@example.com", True), (f"{name}@home.example", False), (f"{name}@old.example", False)]
    page.fill("#p-other_emails", "not an address")
    press(page, "button:has-text('Save the profile')")
    assert "is not an email address" in page.locator("#p-other_emails-error").inner_text()
    assert len(roster.http("GET", f"/scim/v2/Users/{uid}", headers={"Authorization": f"Bearer {roster.admin_token}"})[2]["emails"]) == 3
    # One's own key pairs on one's own page.
    page.goto(f"{base}/console/me")
    assert page.locator("h3:has-text('S3 key pairs')").count() == 1
    assert page.locator("button:has-text('Show the secret key')").count() >= 1
    # Revoking the token asks first, then the token is refused at once.
    page.goto(f"{base}/console/users/{uid}")
    page.click("button[aria-label='Revoke the token ci']")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Revoke the token ci?"
    assert scim_get(roster, token, "/scim/v2/Me")[0] != 401
    press(page, "button:has-text('Revoke the token')")
    assert notice(page) == "The token was revoked."
    assert scim_get(roster, token, "/scim/v2/Me")[0] == 401
    # Each change is in the audit trail.
    page.goto(f"{base}/console/audit?actor=admin")
    text = page.locator("table.audit").inner_text()
    for action in ("role.create", "role.delete", "object-storage.add", "object-storage.remove", "storage-credential.regenerate"):
        assert action in text, (action, text)
    page.context.close()


def test_a_reset_by_mail_then_sign_in_with_the_new_password(roster, smtp, browser):
    base = roster.base_url
    _, sink = smtp
    page = new_page(browser)
    sign_in(page, base, "admin", ADMIN_PASSWORD)
    name = uniq("emil")
    uid = create_user(page, base, name, email_addr=f"{name}@example.com")
    before = len(sink.messages)
    press(page, "button:has-text('Send a password-reset mail')")
    assert notice(page) == "The mail is on its way."
    msg = wait_for("the reset mail", lambda: len(sink.messages) > before and sink.messages[-1])
    assert msg["To"] == f"{name}@example.com"
    link = re.search(r"(http://\S+/account/reset-password\?token=[A-Za-z0-9_-]+)", msg.get_body(("plain",)).get_content()).group(1)
    other = new_page(browser)
    assert other.goto(link).status == 200
    other.fill("#password", "emil-new-password-1")
    other.fill("#confirm", "emil-new-password-1")
    press(other, "#submit")
    sign_in(other, base, name, "emil-new-password-1")
    assert other.url == f"{base}/console/me", other.url
    # A plain user: no admin links, and the admin pages are refused.
    nav = other.locator("header nav").inner_text()
    assert "Users" not in nav and "Groups" not in nav and "Audit" not in nav
    for path in ("/console/users", "/console/groups", "/console/audit", f"/console/users/{uid}"):
        assert other.goto(base + path).status == 403, path
    page.goto(f"{base}/console/audit?action=account-link.issue&target={uid}")
    assert "account-link.issue" in page.locator("table.audit").inner_text()
    page.context.close()
    other.context.close()


def test_totp_is_required_at_every_password_sign_in(roster, browser):
    base = roster.base_url
    admin = new_page(browser)
    sign_in(admin, base, "admin", ADMIN_PASSWORD)
    name = uniq("tess")
    pw = "tess-password-123"
    uid = create_user(admin, base, name, password=pw)
    page = new_page(browser)
    sign_in(page, base, name, pw)
    press(page, "button:has-text('Set up two-factor sign-in')")
    assert page.url.endswith("/console/me/totp")
    assert page.locator("figure.qr svg").count() == 1
    secret = page.locator("#totp-secret").inner_text()
    shot(page, "totp")
    page.fill("#code", "000000" if totp_code(secret) != "000000" else "111111")
    press(page, "button:has-text('Turn it on')")
    assert page.locator("#code-error").is_visible()
    # The previous step's code (the app's clock may lag): the current one stays unspent.
    page.fill("#code", totp_code(secret, time.time() - 30))
    press(page, "button:has-text('Turn it on')")
    codes = page.locator("ol.codes li code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{5}-[a-z2-7]{5}", c) for c in codes), codes
    press(page, "button:has-text('Sign out')")

    fresh = new_page(browser)
    sign_in(fresh, base, name, pw)
    assert "authenticator" in fresh.locator("#code-error").inner_text()
    sign_in(fresh, base, name, pw, code="123")
    assert fresh.locator("#code-error").is_visible()
    code = totp_code(secret)
    sign_in(fresh, base, name, pw, code=code)
    assert fresh.url == f"{base}/console/me", fresh.url
    replay = new_page(browser)
    sign_in(replay, base, name, pw, code=code)
    assert replay.locator("#code-error").is_visible(), "a code is good once"
    sign_in(replay, base, name, pw, code=codes[0].upper())
    assert replay.url == f"{base}/console/me"
    again = new_page(browser)
    sign_in(again, base, name, pw, code=codes[0])
    assert again.locator("#code-error").is_visible(), "a recovery code is good once"

    # The APIs: Basic refused with a clear message, CVAT's login wants the code.
    basic = "Basic " + __import__("base64").b64encode(f"{name}:{pw}".encode()).decode()
    status, _, body = roster.http("GET", "/api/users/self", headers={"Authorization": basic})
    assert status == 401 and "TOTP" in json.dumps(body), body
    status, _, body = roster.http("POST", "/api/auth/login", body={"username": name, "password": pw})
    assert status == 400 and "totp" in body, body

    # An administrator removes it (a lost phone): the password alone works again.
    admin.goto(f"{base}/console/users/{uid}")
    assert "Enrolled since" in admin.content()
    press(admin, "button:has-text('Remove their TOTP')")
    # It asks first; nothing changed yet.
    assert admin.locator("h1").inner_text() == f"Remove the TOTP of {name}?"
    assert roster.http("GET", "/api/users/self", headers={"Authorization": basic})[0] == 401
    press(admin, "button:has-text('Remove their TOTP')")
    assert roster.http("GET", "/api/users/self", headers={"Authorization": basic})[0] == 200
    admin.goto(f"{base}/console/audit?target={uid}")
    text = admin.locator("table.audit").inner_text()
    assert "totp.enrol" in text and "totp.reset" in text
    for p in (admin, page, fresh, replay, again):
        p.context.close()


def _grant(base: str, client_id: str, secret: str) -> int:
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    return _post(base, "/oauth/token", body, {})


def _post(base: str, path: str, body: str, headers: dict) -> int:
    req = urllib.request.Request(base + path, data=body.encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", **headers})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_forms_need_their_csrf_token_and_our_origin_and_pages_are_hardened(roster, browser):
    base = roster.base_url
    page = new_page(browser)
    res = page.goto(f"{base}/console/sign-in")
    for h in (res.headers,):
        assert "script-src" not in h["content-security-policy"] and "default-src 'none'" in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY" and h["cache-control"] == "no-store"
    shot(page, "sign-in")
    sign_in(page, base, "admin", ADMIN_PASSWORD)
    res = page.goto(f"{base}/console/me")
    assert res.headers["x-frame-options"] == "DENY"
    assert "<script" not in page.content()
    shot(page, "me")
    # Every kind of page, errors included, carries the same headers and no script.
    _, _, admin = roster.http("GET", "/scim/v2/Users?filter=userName%20eq%20%22admin%22",
                              headers={"Authorization": f"Bearer {roster.admin_token}"})
    kinds = ["/console/users", f"/console/users/{admin['Resources'][0]['id']}", "/console/users/new",
             "/console/groups", "/console/roles", "/console/storages", "/console/audit",
             "/console/me/totp", "/console/users/not-an-id", "/console/roles/999999", "/console/nowhere"]
    for path in kinds:
        res = page.goto(f"{base}{path}")
        h = res.headers
        assert "script-src" not in h["content-security-policy"] and "frame-ancestors 'none'" in h["content-security-policy"], path
        assert h["x-frame-options"] == "DENY" and h["cache-control"] == "no-store", path
        assert h["content-type"].startswith("text/html"), path
        assert "<script" not in page.content(), path
        assert res.status in (200, 404), (path, res.status)
    page.goto(f"{base}/console/me")
    cookie = next(c for c in page.context.cookies() if c["name"] == "roster_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    csrf = page.locator("input[name=csrf]").first.input_value()
    jar = {"Cookie": f"roster_console={cookie['value']}"}
    name = uniq("eve")
    form = f"user_name={name}&active=on"
    assert _post(base, "/console/users/new", form, {**jar, "Origin": base}) == 403, "no csrf field"
    assert _post(base, "/console/users/new", form + "&csrf=wrong", {**jar, "Origin": base}) == 403
    assert _post(base, "/console/users/new", form + f"&csrf={csrf}", {**jar, "Origin": "http://evil.example"}) == 403
    assert _post(base, "/console/users/new", form + f"&csrf={csrf}", jar) == 403, "no origin at all"
    status, _, body = roster.http("GET", f'/scim/v2/Users?filter=userName%20eq%20%22{name}%22',
                                  headers={"Authorization": f"Bearer {roster.admin_token}"})
    assert body["totalResults"] == 0, "nothing refused was written"
    # The same form with both is taken (the checks are what refused above).
    # (urllib follows the 303 to the new user's page.)
    assert _post(base, "/console/users/new", form + f"&csrf={csrf}", {**jar, "Origin": base}) == 200
    status, _, body = roster.http("GET", f'/scim/v2/Users?filter=userName%20eq%20%22{name}%22',
                                  headers={"Authorization": f"Bearer {roster.admin_token}"})
    assert body["totalResults"] == 1
    # Phone width: the page itself does not scroll sideways (tables scroll in their box).
    phone = new_page(browser, 375, 740)
    phone.context.add_cookies([cookie])
    phone.goto(f"{base}/console/users")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 380
    page.context.close()
    phone.context.close()


def test_sign_in_returns_to_the_page_asked_for_and_works_after_a_sign_out_elsewhere(roster, browser):
    base = roster.base_url
    a = new_page(browser)
    res = a.goto(f"{base}/console/groups?q=x")
    assert a.url == f"{base}/console/sign-in?next=%2Fconsole%2Fgroups%3Fq%3Dx", a.url
    a.fill("#login", "admin")
    a.fill("#password", ADMIN_PASSWORD)
    press(a, "button:has-text('Sign in')")
    assert a.url == f"{base}/console/groups?q=x", a.url
    # Another browser signs out everywhere: A's session ends, and A can sign in again
    # (its dead cookie no longer decides which CSRF token the sign-in form needs).
    b = new_page(browser)
    sign_in(b, base, "admin", ADMIN_PASSWORD)
    b.goto(f"{base}/console/me")
    press(b, "button:has-text('Sign out everywhere')")
    assert "/console/sign-in" in b.url
    a.goto(f"{base}/console/users")
    assert "/console/sign-in?next=" in a.url
    assert not [c for c in a.context.cookies() if c["name"] == "roster_console" and c["value"]]
    sign_in(a, base, "admin", ADMIN_PASSWORD)
    assert a.url == f"{base}/console/users", a.url
    a.context.close()
    b.context.close()


def test_current_password_checks_count_against_the_password_limits(browser):
    """A stolen session is no guessing oracle: the current-password field of one's account
    runs under the same limits as a sign-in (here 4 checks, then 429)."""
    r = Roster()
    r.env["ROSTER_RATE_LIMIT_PASSWORDS"] = "4/min,4"
    r.start()
    try:
        page = new_page(browser)
        sign_in(page, r.base_url, "admin", ADMIN_PASSWORD)
        assert page.url.endswith("/console/users"), page.url
        statuses = []
        for _ in range(5):
            page.goto(f"{r.base_url}/console/me")
            page.fill("#pw-current", "not-the-password-1")
            page.fill("#pw-password", "a-new-password-123")
            page.fill("#pw-password2", "a-new-password-123")
            with page.expect_navigation() as nav:
                page.click("button:has-text('Change the password')")
            statuses.append(nav.value.status)
        # The sign-in spent one check; three wrong guesses are told so, then the limit.
        assert statuses[:3] == [400, 400, 400] and statuses[3:] == [429, 429], statuses
        page.context.close()
    finally:
        r.stop()
