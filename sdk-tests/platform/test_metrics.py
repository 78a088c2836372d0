"""GET /metrics on ROSTER_METRICS_LISTEN: every line parses with Prometheus's own parser
(`prometheus_client`), requests are counted by dialect, route template and status, refused
credentials and rate-limit refusals by kind; the public listener does not serve it."""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families, text
    return families


def samples(families: dict, name: str) -> list:
    return [s for f in families.values() for s in f.samples if s.name == name]


def test_metrics_parse_and_count(roster):
    server = type(roster)()
    port = free_port()
    server.env["ROSTER_METRICS_LISTEN"] = f"127.0.0.1:{port}"
    server.env["ROSTER_RATE_LIMIT_ANONYMOUS"] = "1/min,20"
    server.start()
    try:
        auth = {"Authorization": f"Bearer {server.admin_token}"}
        assert server.http("GET", "/scim/v2/Users?count=1", headers=auth)[0] == 200
        assert server.http("GET", "/scim/v2/Users", headers={"Authorization": "Bearer wrong-token-0123456789"})[0] == 401
        statuses = [server.http("GET", "/scim/v2/ServiceProviderConfig")[0] for _ in range(25)]
        assert 429 in statuses, statuses
        m = scrape(f"http://127.0.0.1:{port}/metrics")
        reqs = samples(m, "roster_http_requests_total")
        ok = [s for s in reqs if s.labels.get("route") == "/scim/v2/Users" and s.labels.get("status") == "200"]
        assert ok and ok[0].value >= 1 and ok[0].labels["dialect"] == "scim", reqs
        assert all("?" not in s.labels["route"] for s in reqs), "route templates only"
        assert any(s.labels.get("scheme") == "token" and s.value >= 1 for s in samples(m, "roster_auth_failures_total"))
        assert any(s.labels.get("kind") == "anonymous" and s.value >= 1 for s in samples(m, "roster_rate_limited_total"))
        assert samples(m, "roster_http_request_duration_seconds_bucket"), "latency histogram"
        assert samples(m, "roster_build_info")[0].value == 1
        # The pool and the outbox, sampled; SQLite's group commits, per COMMIT.
        pool = {s.labels["state"]: s.value for s in samples(m, "roster_db_pool_connections")}
        assert set(pool) == {"idle", "in_use"} and pool["idle"] + pool["in_use"] >= 1, pool
        assert samples(m, "roster_mail_queued")[0].value >= 0
        if not os.environ.get("ROSTER_TEST_DATABASE_URL", "").startswith("postgres"):
            body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "metrics-batch"}
            assert server.http("POST", "/scim/v2/Users", headers=auth, body=body)[0] == 201
            m = scrape(f"http://127.0.0.1:{port}/metrics")
            count = samples(m, "roster_db_commit_batch_size_count")
            assert count and count[0].value >= 1, "a write's COMMIT is counted"
        # Not on the public listener.
        status, _, _ = server.http("GET", "/metrics", headers=auth)
        assert status == 404
    finally:
        server.stop()
