"""GET /openapi.json: a valid OpenAPI 3.1 document (checked by an independent validator),
served without authentication, covering every dialect's routes."""

from __future__ import annotations

import json
import urllib.request

from openapi_spec_validator import validate


def fetch(roster) -> dict:
    with urllib.request.urlopen(f"{roster.base_url}/openapi.json", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/json")
        return json.loads(r.read())


def test_document_is_valid_openapi_3_1(roster):
    doc = fetch(roster)
    assert doc["openapi"].startswith("3.1"), doc["openapi"]
    validate(doc)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_dialect_and_the_servers_own_routes_are_in_it(roster):
    paths = fetch(roster)["paths"]
    for expected in [
        "/healthz",
        "/openapi.json",
        "/scim/v2/Users",
        "/scim/v2/Users/{id}",
        "/scim/v2/Me",
        "/scim/v2/Groups/{id}",
        "/scim/v2/Bulk",
        "/scim/v2/.search",
        "/scim/v2/ServiceProviderConfig",
        "/api/v1/scim/Users",
        "/api/v1/scim/Users/{id}",
        "/api/v1/scim/Groups",
        "/api/v1/scim/Groups/{id}",
    ]:
        assert expected in paths, f"{expected} missing; have {sorted(paths)}"
    # ODM users are created with POST and answered 201, as its SDK insists.
    assert "201" in paths["/api/v1/scim/Users"]["post"]["responses"]
