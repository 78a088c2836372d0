"""What the suites that drive a browser or receive mail share: Debian's Chromium launched by
Playwright (nothing downloads a browser), and an aiosmtpd sink that records every message.
Imported lazily-heavy: playwright and aiosmtpd load only when used (the SDK venvs lack them).

Importable as `browser_mail` from any suite: pytest puts sdk-tests/ on sys.path for the
conftest.py there."""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import os

import pytest

CHROMIUM = "/usr/bin/chromium"


@contextlib.contextmanager
def launch_chromium():
    """A headless Debian Chromium for the duration of the block."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class MailSink:
    """Records every message (its envelope recipients in X-Envelope-To); answers RCPT with
    `reject` when set (e.g. a 550)."""

    def __init__(self, reject: str | None = None) -> None:
        self.reject = reject
        self.messages: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject:
            return self.reject
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 Message accepted for delivery"


def start_mail_sink(port: int, reject: str | None = None):
    """An SMTP server on 127.0.0.1:`port` into a new sink: (controller to stop, sink)."""
    from aiosmtpd.controller import Controller

    sink = MailSink(reject)
    c = Controller(sink, hostname="127.0.0.1", port=port)
    c.start()
    return c, sink
