"""Mail over a real SMTP conversation (an aiosmtpd sink), the outbox's retries and refusals,
and the reset page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright;
nothing is downloaded). Each test starts its own `roster serve`."""

from __future__ import annotations

import base64
import email
import email.policy
import http.server
import json
import os
import re
import secrets
import socket
import threading
import time
import urllib.parse
import urllib.request

import pytest
from browser_mail import launch_chromium, start_mail_sink


ON_POSTGRES = os.environ.get("ROSTER_TEST_DATABASE_URL", "").startswith("postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink(port: int, reject: str | None = None):
    return start_mail_sink(port, reject)


class Landing(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        body = b"<!DOCTYPE html><title>landed</title><p id=landed>welcome back</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def landing():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Landing)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def wait_for(what: str, cond, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def server(roster_cls, **env) -> object:
    s = roster_cls()
    s.env.update({k: str(v) for k, v in env.items()})
    return s


def create_user(r, name: str, locale: str | None = None) -> str:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": name.capitalize()},
        "emails": [{"value": f"{name}@example.com", "primary": True}],
    }
    if locale:
        body["locale"] = locale
    status, _, got = r.http(
        "POST",
        "/scim/v2/Users",
        headers={"Authorization": f"Bearer {r.admin_token}", "Content-Type": "application/scim+json"},
        body=body,
    )
    assert status == 201, got
    return got["id"]


def ask_reset(r, user_id: str, redirect: str | None = None, host: str | None = None):
    headers = {"Authorization": f"Bearer {r.admin_token}"}
    if host:
        headers["Host"] = host
    body = {"redirectUrl": redirect} if redirect else {}
    return r.http("POST", f"/api/v1/accounts/{user_id}/password-reset", headers=headers, body=body)


def link_of(msg) -> str:
    text = msg.get_body(("plain",)).get_content()
    m = re.search(r"(http://\S+/account/reset-password\?token=[A-Za-z0-9_-]+)", text)
    assert m, text
    return m.group(1)


def mail_rows(r, status: str) -> list[dict]:
    out = r.cli("mail", "list", "--status", status).stdout.strip().splitlines()
    head = out[0].split("\t")
    return [dict(zip(head, line.split("\t"))) for line in out[1:]]


def password_grant(r, name: str, password: str) -> int:
    client = json.loads(r.cli("client", "show", "--user", name).stdout)
    form = urllib.parse.urlencode(
        {
            "grant_type": "password",
            "username": name,
            "password": password,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        }
    ).encode()
    req = urllib.request.Request(f"{r.base_url}/oauth/token", data=form, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture
def browser():
    with launch_chromium() as b:
        yield b


def test_a_reset_mail_arrives_and_its_page_works_in_chromium(roster, landing, browser):
    port = free_port()
    controller, sink = start_sink(port)
    r = server(
        type(roster),
        ROSTER_SMTP_URL=f"smtp://127.0.0.1:{port}",
        ROSTER_MAIL_FROM="Directory <directory@example.com>",
        ROSTER_REDIRECT_ALLOWLIST=landing,
    ).start()
    try:
        uid = create_user(r, "greta", locale="de-DE")
        status, _, body = ask_reset(r, uid, redirect=f"{landing}/welcome", host="evil.example")
        assert status == 202, body
        msg = wait_for("the reset mail", lambda: sink.messages and sink.messages[0])
        assert msg["X-Envelope-To"] == "greta@example.com"
        assert msg["To"] == "greta@example.com"
        assert msg["From"] == "Directory <directory@example.com>"
        assert msg["Subject"] == "Setzen Sie Ihr Passwort zurück"
        assert re.fullmatch(r"<[0-9a-f-]{36}@127\.0\.0\.1>", msg["Message-ID"]), msg["Message-ID"]
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        assert "Hallo Greta," in msg.get_body(("plain",)).get_content()
        link = link_of(msg)
        assert link.startswith(f"{r.base_url}/account/reset-password?token="), link
        assert "evil.example" not in msg.as_string()
        html = msg.get_body(("html",)).get_content()
        assert 'lang="de"' in html and "Neues Passwort" in html

        page = browser.new_page()
        res = page.goto(link)
        assert res.status == 200
        assert res.headers["referrer-policy"] == "no-referrer"
        assert page.locator("html").get_attribute("lang") == "de"
        page.fill("#password", "ein-neues-passwort-1")
        page.fill("#confirm", "ein-neues-passwort-1")
        with page.expect_navigation():
            page.click("#submit")
        assert page.url == f"{landing}/welcome", page.url
        assert page.locator("#landed").inner_text() == "welcome back"
        assert password_grant(r, "greta", "ein-neues-passwort-1") == 200
        assert password_grant(r, "greta", "some-other-password") == 400

        # Used: the link shows the error page; a tampered one too; nothing changes.
        res = page.goto(link)
        assert res.status == 410
        assert "used already" in page.locator("#error").inner_text()
        token = link.split("token=")[1]
        tampered = link.replace(token, ("A" if token[0] != "A" else "B") + token[1:])
        res = page.goto(tampered)
        assert res.status == 400
        assert page.locator("#error").is_visible()
        assert password_grant(r, "greta", "ein-neues-passwort-1") == 200
        assert len(sink.messages) == 1, "one mail, sent once"
        assert mail_rows(r, "sent")[0]["attempts"] == "1"
    finally:
        r.stop()
        controller.stop()


def test_an_expired_link_shows_the_error_page_and_changes_nothing(roster, browser):
    port = free_port()
    controller, sink = start_sink(port)
    r = server(type(roster), ROSTER_SMTP_URL=f"smtp://127.0.0.1:{port}", ROSTER_RESET_TOKEN_TTL_SECS=1).start()
    try:
        uid = create_user(r, "ernst")
        assert ask_reset(r, uid)[0] == 202
        msg = wait_for("the reset mail", lambda: sink.messages and sink.messages[0])
        time.sleep(1.2)
        page = browser.new_page()
        res = page.goto(link_of(msg))
        assert res.status == 410
        assert "expired" in page.locator("#error").inner_text()
        assert page.locator("form").count() == 0
        assert password_grant(r, "ernst", "anything-at-all-1") == 400
    finally:
        r.stop()
        controller.stop()


def test_mail_waits_while_smtp_is_down_and_arrives_when_it_is_up(roster):
    port = free_port()  # nothing listens here yet
    r = server(type(roster), ROSTER_SMTP_URL=f"smtp://127.0.0.1:{port}", ROSTER_MAIL_RETRY_SECS=1).start()
    controller = None
    try:
        uid = create_user(r, "dora")
        status, _, body = ask_reset(r, uid)
        assert status == 202, "the API call succeeds with the mail server down"
        queued = wait_for(
            "a failed attempt",
            lambda: [m for m in mail_rows(r, "queued") if m["attempts"] != "0" and m["last_error"] != "-"],
        )
        assert queued[0]["recipient"] == "dora@example.com"
        controller, sink = start_sink(port)
        msg = wait_for("the mail after the server came up", lambda: sink.messages and sink.messages[0], timeout=30)
        assert msg["To"] == "dora@example.com"
        sent = wait_for("the mail marked sent", lambda: mail_rows(r, "sent"))
        assert int(sent[0]["attempts"]) >= 2
        assert "mail not delivered; will retry" in r.stderr()
    finally:
        r.stop()
        if controller:
            controller.stop()


def test_a_permanent_refusal_fails_the_mail_with_the_reason_and_retry_resends(roster):
    port = free_port()
    controller, sink = start_sink(port, reject="550 5.1.1 No such mailbox here")
    r = server(type(roster), ROSTER_SMTP_URL=f"smtp://127.0.0.1:{port}", ROSTER_MAIL_RETRY_SECS=1).start()
    try:
        uid = create_user(r, "fritz")
        assert ask_reset(r, uid)[0] == 202
        failed = wait_for("the mail marked failed", lambda: mail_rows(r, "failed"))
        assert "550" in failed[0]["last_error"] and "No such mailbox" in failed[0]["last_error"], failed
        assert failed[0]["attempts"] == "1", "a 5xx is not retried"
        controller.stop()
        controller, sink = start_sink(port)
        out = r.cli("mail", "retry", failed[0]["id"])
        assert "queued again" in out.stderr
        msg = wait_for("the retried mail", lambda: sink.messages and sink.messages[0])
        assert msg["To"] == "fritz@example.com"
        audit = r.http("GET", "/api/v1/audit?action=mail.retry", headers={"Authorization": f"Bearer {r.admin_token}"})
        assert audit[0] == 200 and len(audit[2]["items"]) == 1, audit
    finally:
        r.stop()
        controller.stop()


def test_without_smtp_each_mail_is_an_eml_file_and_the_log_says_where(fresh_roster):
    uid = create_user(fresh_roster, "emil")
    assert ask_reset(fresh_roster, uid)[0] == 202
    maildir = fresh_roster.dir / "data" / "mail"
    files = wait_for("the .eml file", lambda: list(maildir.glob("*.eml")))
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "emil@example.com"
    assert link_of(msg).startswith(fresh_roster.base_url)
    wait_for("the log line", lambda: str(files[0]) in fresh_roster.stderr())


@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="several nodes share one database only on PostgreSQL; the PostgreSQL half of scripts/test.sh runs this",
)
def test_two_nodes_share_one_outbox_and_send_each_mail_once(roster):
    port = free_port()
    controller, sink = start_sink(port)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    a = server(type(roster), ROSTER_SMTP_URL=f"smtp://127.0.0.1:{port}", ROSTER_SECRET_KEY=key).start()
    b = server(
        type(roster),
        ROSTER_SMTP_URL=f"smtp://127.0.0.1:{port}",
        ROSTER_SECRET_KEY=key,
        ROSTER_DATABASE_URL=a.env["ROSTER_DATABASE_URL"],
    ).start()
    try:
        b.admin_token = a.admin_token  # b's database is a's: a's bootstrap made the admin
        names = [f"node{i:02d}" for i in range(30)]
        ids = [create_user(a, n) for n in names]
        for i, uid in enumerate(ids):
            node = a if i % 2 == 0 else b
            assert ask_reset(node, uid)[0] == 202
        wait_for("every mail", lambda: len(sink.messages) >= len(names), timeout=60)
        time.sleep(2)  # a duplicate would arrive now
        ids_sent = [m["Message-ID"] for m in sink.messages]
        assert len(ids_sent) == len(set(ids_sent)) == len(names), "each mail exactly once"
        assert sorted(m["To"] for m in sink.messages) == sorted(f"{n}@example.com" for n in names)
        assert len(mail_rows(a, "sent")) == len(names)
    finally:
        b.stop()
        a.stop()
        controller.stop()
