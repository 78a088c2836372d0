"""Shared harness for the SDK compatibility suites: starts a real `roster serve`.

This file imports no vendor SDK, so every suite (each in its own virtualenv, see the
`requirements-*.txt` files) can use it. SDK-specific fixtures live in the suite's own
`conftest.py` (e.g. `odm/conftest.py`).

Environment:
  ROSTER_BIN                 the roster binary (default: <repo>/target/debug/roster)
  ROSTER_TEST_DATABASE_URL   postgres://... to run every server on a fresh schema of that
                             PostgreSQL database instead of a fresh SQLite file
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROSTER_BIN = os.environ.get("ROSTER_BIN") or str(REPO / "target" / "debug" / "roster")
TEST_DATABASE_URL = os.environ.get("ROSTER_TEST_DATABASE_URL", "")

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-password-123"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def fresh_database_url(sqlite_dir: Path) -> str:
    """A database no other server has seen: a new SQLite file, or a new PostgreSQL schema."""
    if not TEST_DATABASE_URL.startswith("postgres"):
        # sqlite:// + an absolute path gives the documented sqlite:///abs/path form.
        return f"sqlite://{sqlite_dir / 'roster.db'}"
    schema = "sdk_" + secrets.token_hex(8)
    subprocess.run(["psql", TEST_DATABASE_URL, "-q", "-c", f"CREATE SCHEMA {schema}"], check=True)
    sep = "&" if "?" in TEST_DATABASE_URL else "?"
    return f"{TEST_DATABASE_URL}{sep}options=-c%20search_path%3D{schema}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Roster:
    """One `roster serve` process on a fresh SQLite database in its own temp dir."""

    def __init__(self) -> None:
        if not os.access(ROSTER_BIN, os.X_OK):
            pytest.fail(f"roster binary not found or not executable: {ROSTER_BIN} (set ROSTER_BIN)")
        self._tmp = tempfile.TemporaryDirectory(prefix="roster-sdk-")
        self.dir = Path(self._tmp.name)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.admin_user = ADMIN_USER
        self.admin_token = secrets.token_hex(20)  # 40 hex chars
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
        no_proxy = "127.0.0.1,localhost"
        env.update(
            ROSTER_LISTEN=f"127.0.0.1:{self.port}",
            ROSTER_DATABASE_URL=fresh_database_url(self.dir),
            ROSTER_BOOTSTRAP_ADMIN=ADMIN_USER,
            ROSTER_BOOTSTRAP_PASSWORD=ADMIN_PASSWORD,
            ROSTER_BOOTSTRAP_TOKEN=self.admin_token,
            NO_PROXY=no_proxy,
            no_proxy=no_proxy,
        )
        self.env = env
        self.proc: subprocess.Popen | None = None
        self._stderr_path = self.dir / "server.stderr"
        self._stderr = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> "Roster":
        self._stderr = open(self._stderr_path, "wb")
        self.proc = subprocess.Popen(
            [ROSTER_BIN, "serve"],
            env=self.env,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        deadline = time.monotonic() + START_TIMEOUT
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"roster serve exited with code {self.proc.returncode} before /healthz answered.\n"
                    f"stderr:\n{self.stderr()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
                    last_error = f"status {r.status}"
            except (urllib.error.URLError, OSError) as e:  # not listening yet
                last_error = repr(e)
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        pytest.fail(
            f"roster serve did not answer GET /healthz with 200 within {START_TIMEOUT:.0f}s "
            f"(last: {last_error}).\nstderr:\n{self.stderr()}"
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            if proc.poll() is not None:
                pytest.fail(f"roster serve died during the tests (code {proc.returncode}).\nstderr:\n{self.stderr()}")
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"roster serve did not exit within {STOP_TIMEOUT:.0f}s of SIGTERM.\nstderr:\n{self.stderr()}")
        finally:
            if self._stderr is not None:
                self._stderr.close()
            self._tmp.cleanup()

    def stderr(self) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")[-8000:]
        except OSError:
            return "<no stderr>"

    # -- CLI against the same database ------------------------------------------------

    def cli_raw(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        """`roster ARGS` against this server's database (or `env`'s), whatever its exit code."""
        return subprocess.run(
            [ROSTER_BIN, *args],
            env=env or self.env,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        res = self.cli_raw(*args)
        if res.returncode != 0:
            pytest.fail(f"`roster {' '.join(args)}` failed with code {res.returncode}.\nstderr:\n{res.stderr}")
        return res

    def issue_token(self, username: str) -> str:
        """`roster token issue --user NAME` prints only the new token on stdout."""
        out = self.cli("token", "issue", "--user", username).stdout
        token = out.strip()
        assert token and len(out.strip().splitlines()) == 1, f"expected only a token on stdout, got {out!r}"
        return token

    def grant(self, username: str, permission: str) -> None:
        """permission: `manage-organization` or `manage-groups`."""
        self.cli("user", "grant", username, permission)

    # -- raw HTTP (for requests an SDK cannot produce) --------------------------------

    def http(self, method: str, path: str, *, headers: dict | None = None, body=None):
        """Returns (status, headers, parsed JSON body or raw text or None)."""
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=hdrs)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=10) as r:
                status, rh, raw = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, rh, raw = e.code, e.headers, e.read()
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return status, rh, parsed


def _serve():
    roster = Roster().start()
    try:
        yield roster
    finally:
        roster.stop()


@pytest.fixture(scope="module")
def roster():
    """A roster server shared by the tests of one module (tests create their own data)."""
    yield from _serve()


@pytest.fixture
def fresh_roster():
    """A roster server of its own for one test (exact totals on an otherwise empty database)."""
    yield from _serve()
