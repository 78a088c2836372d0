"""Fixtures of the web-console suite: Roster servers (../conftest.py's harness, loaded under
its own name), Debian's headless Chromium driven by Playwright (never a downloaded browser),
an aiosmtpd SMTP sink, and small helpers that act as a person would: fill a form, press a
button, read the page. Runs in .venv-platform (../requirements-platform.txt)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import os
import re
import struct
import sys
import time
from pathlib import Path

import pytest
from browser_mail import launch_chromium, start_mail_sink


def _load_harness():
    path = Path(__file__).resolve().parent.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("roster_harness", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["roster_harness"] = mod
    spec.loader.exec_module(mod)
    return mod


harness = _load_harness()
Roster = harness.Roster
ADMIN_PASSWORD = harness.ADMIN_PASSWORD
free_port = harness.free_port
SCREENSHOTS = os.environ.get("ROSTER_SCREENSHOTS") == "1"
SHOTS_DIR = harness.REPO / "docs" / "screenshots"


def totp_code(secret_b32: str, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), as an authenticator app computes it."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def wait_for(what: str, cond, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="module")
def smtp():
    port = free_port()
    c, sink = start_mail_sink(port)
    try:
        yield port, sink
    finally:
        c.stop()


@pytest.fixture(scope="module")
def roster(smtp):
    """One server for the module, mail to the sink, password limits off (the suite signs
    in many times within seconds)."""
    r = Roster()
    r.env["ROSTER_RATE_LIMIT_PASSWORDS"] = "off"
    r.env["ROSTER_SMTP_URL"] = f"smtp://127.0.0.1:{smtp[0]}"
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


def new_page(browser, width: int = 1280, height: int = 800):
    ctx = browser.new_context(viewport={"width": width, "height": height})
    return ctx.new_page()


def shot(page, name: str) -> None:
    """A README screenshot, only when ROSTER_SCREENSHOTS=1 (CI never rewrites them)."""
    if SCREENSHOTS:
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS_DIR / f"{name}.png"), full_page=True)


def sign_in(page, base: str, login: str, password: str, code: str | None = None):
    res = page.goto(f"{base}/console/sign-in")
    assert res.status == 200
    page.fill("#login", login)
    page.fill("#password", password)
    if code is not None:
        page.fill("#code", code)
    with page.expect_navigation():
        page.click("button:has-text('Sign in')")
    return page


def press(page, selector: str):
    with page.expect_navigation():
        page.click(selector)


def notice(page) -> str:
    return page.locator(".notice").inner_text()


def uniq(prefix: str) -> str:
    return f"{prefix}{os.urandom(4).hex()}"


def create_user(page, base: str, name: str, *, email_addr: str | None = None, password: str | None = None) -> str:
    """Through the console's form; answers the new user's id (from the page's URL)."""
    page.goto(f"{base}/console/users/new")
    page.fill("#user_name", name)
    page.fill("#given_name", name.capitalize())
    page.fill("#family_name", "Tester")
    if email_addr:
        page.fill("#email", email_addr)
    if password:
        page.fill("#password", password)
    press(page, "button:has-text('Create')")
    m = re.search(r"/console/users/([0-9a-f-]{36})", page.url)
    assert m, page.url
    assert notice(page) == "The user was created."
    return m.group(1)
