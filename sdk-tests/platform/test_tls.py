"""Native TLS: `roster serve` with ROSTER_TLS_CERT_FILE / ROSTER_TLS_KEY_FILE speaks HTTPS
(a throwaway CA made with the openssl CLI), its links are https://, plain HTTP on that port
gets no answer, and SIGHUP reloads the certificate: connections opened afterwards see the new
one while a connection opened before keeps working."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path) -> Path:
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Roster test CA", cwd=d)
    return d / "ca.pem"


def make_leaf(d: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by the CA, with its own serial."""
    (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def peer_cn(conn: http.client.HTTPSConnection) -> str:
    cert = conn.sock.getpeercert()
    return dict(x[0] for x in cert["subject"])["commonName"]


def get(conn: http.client.HTTPSConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read()


@pytest.fixture
def tls_server(tmp_path, roster):
    """A server of its own with TLS (the class and binary of ../conftest.py's harness)."""
    roster_cls = type(roster)
    binary = os.environ.get("ROSTER_BIN") or str(Path(__file__).resolve().parents[2] / "target" / "debug" / "roster")
    ca = make_ca(tmp_path)
    cert_a, key_a = make_leaf(tmp_path, "leaf-a")
    cert_b, key_b = make_leaf(tmp_path, "leaf-b")
    live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    live_cert.write_bytes(cert_a.read_bytes())
    live_key.write_bytes(key_a.read_bytes())
    r = roster_cls()
    r.env.update(ROSTER_TLS_CERT_FILE=str(live_cert), ROSTER_TLS_KEY_FILE=str(live_key))
    stderr = open(r.dir / "server.stderr", "wb")
    proc = subprocess.Popen([binary, "serve"], env=r.env, cwd=r.dir,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    ctx = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, (r.dir / "server.stderr").read_text()
        try:
            c = http.client.HTTPSConnection("127.0.0.1", r.port, context=ctx, timeout=2)
            if get(c, "/healthz")[0] == 200:
                c.close()
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, (r.dir / "server.stderr").read_text()
        time.sleep(0.1)
    try:
        yield r, proc, ctx, (live_cert, live_key), (cert_b, key_b)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        stderr.close()


def test_https_with_links_on_https_and_a_certificate_reloaded_on_sighup(tls_server):
    r, proc, ctx, (live_cert, live_key), (cert_b, key_b) = tls_server
    old = http.client.HTTPSConnection("127.0.0.1", r.port, context=ctx, timeout=5)
    status, body = get(old, "/scim/v2/ServiceProviderConfig")
    assert status == 200
    assert b'"https://127.0.0.1:' in body, body[:300]
    assert peer_cn(old) == "leaf-a"

    # Plain HTTP on the TLS port: no HTTP answer.
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(100)
        except OSError:
            data = b""
    assert not data.startswith(b"HTTP/1.1 200"), data

    # A broken reload keeps the certificate in use.
    live_key.write_text("not a key")
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    c = http.client.HTTPSConnection("127.0.0.1", r.port, context=ctx, timeout=5)
    assert get(c, "/healthz")[0] == 200 and peer_cn(c) == "leaf-a"
    c.close()

    # The new pair, then SIGHUP: new connections get it.
    live_cert.write_bytes(cert_b.read_bytes())
    live_key.write_bytes(key_b.read_bytes())
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while True:
        c = http.client.HTTPSConnection("127.0.0.1", r.port, context=ctx, timeout=5)
        assert get(c, "/healthz")[0] == 200
        cn = peer_cn(c)
        c.close()
        if cn == "leaf-b":
            break
        assert time.monotonic() < deadline, "SIGHUP did not reload the certificate"
        time.sleep(0.1)
    # The connection opened before the reload still works.
    assert get(old, "/healthz")[0] == 200
    old.close()
    assert proc.poll() is None
    log = (r.dir / "server.stderr").read_text()
    assert "TLS certificate not reloaded" in log and "reloaded the TLS certificate" in log
