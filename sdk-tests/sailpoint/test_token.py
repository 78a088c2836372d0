"""The SailPoint SDK fetches its own token inside `Configuration()` (contract §1): form-encoded
client credentials to {base_url}/oauth/token, exactly 200, `access_token` in a JSON body. The
token it gets must work on Roster's other dialects, and verify independently (PyJWT) against
/.well-known/jwks.json."""

from __future__ import annotations

import importlib.metadata
import json
import urllib.request

import jwt
import pytest
from sailpoint.configuration import Configuration, ConfigurationParams

SDK_VERSION = importlib.metadata.version("sailpoint")


def configuration(base_url: str, client_id: str, client_secret: str) -> Configuration:
    params = ConfigurationParams()
    params.base_url = base_url
    params.client_id = client_id
    params.client_secret = client_secret
    return Configuration(params)


def create_user(roster, name: str) -> str:
    status, _, body = roster.http(
        "POST",
        "/scim/v2/Users",
        headers={"Authorization": f"Bearer {roster.admin_token}", "Content-Type": "application/scim+json"},
        body={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name},
    )
    assert status == 201, body
    return body["id"]


def test_the_sdk_fetches_a_token_that_works_on_scim(roster, client_of):
    user_id = create_user(roster, f"sp-{SDK_VERSION}")
    c = client_of(f"sp-{SDK_VERSION}")
    cfg = configuration(roster.base_url, c["client_id"], c["client_secret"])
    assert cfg.access_token, f"sailpoint {SDK_VERSION} got no token"
    status, _, me = roster.http("GET", "/scim/v2/Me", headers={"Authorization": f"Bearer {cfg.access_token}"})
    assert status == 200, me
    assert me["id"] == user_id
    # And on ODM, through its own header.
    status, _, _ = roster.http("GET", f"/api/v1/scim/Users/{user_id}", headers={"Genestack-API-Token": cfg.access_token})
    assert status in (200, 403), "a JWT is a credential on ODM too"


def test_an_independent_verifier_accepts_the_token_with_the_published_keys(roster, client_of):
    c = client_of(roster.admin_user)
    cfg = configuration(roster.base_url, c["client_id"], c["client_secret"])
    assert cfg.access_token
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{roster.base_url}/.well-known/openid-configuration", timeout=10) as r:
        meta = json.load(r)
    assert meta["issuer"] == roster.base_url
    assert meta["token_endpoint"] == f"{roster.base_url}/oauth/token"
    jwks = jwt.PyJWKClient(meta["jwks_uri"])
    key = jwks.get_signing_key_from_jwt(cfg.access_token)
    claims = jwt.decode(
        cfg.access_token,
        key.key,
        algorithms=["EdDSA"],
        issuer=meta["issuer"],
        options={"require": ["exp", "iat", "iss", "sub", "jti"]},
    )
    assert claims["client_id"] == c["client_id"]
    assert claims["scope"] == "roster"
    assert claims["exp"] - claims["iat"] == 3600
    header = jwt.get_unverified_header(cfg.access_token)
    assert header["alg"] == "EdDSA" and header["kid"] == key.key_id
    # A token altered in one character no longer verifies.
    head, body, sig = cfg.access_token.split(".")
    forged = ".".join([head, body, ("A" if sig[0] != "A" else "B") + sig[1:]])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key.key, algorithms=["EdDSA"], issuer=meta["issuer"])


def test_a_wrong_secret_gets_no_token(roster, client_of, capsys):
    c = client_of(roster.admin_user)
    cfg = configuration(roster.base_url, c["client_id"], c["client_secret"] + "x")
    # The SDK only prints the failure (contract §1); what matters is that no token came.
    assert cfg.access_token is None
    printed = capsys.readouterr().out
    assert "Unable to fetch access token" in printed and "Unauthorized" in printed, printed


def test_a_rotated_secret_works_at_once_and_the_old_one_stops(roster, client_of):
    create_user(roster, f"rot-{SDK_VERSION}")
    old = client_of(f"rot-{SDK_VERSION}")
    new = json.loads(roster.cli("client", "rotate", "--user", f"rot-{SDK_VERSION}").stdout)
    assert new["client_id"] == old["client_id"] and new["client_secret"] != old["client_secret"]
    assert configuration(roster.base_url, old["client_id"], old["client_secret"]).access_token is None
    assert configuration(roster.base_url, new["client_id"], new["client_secret"]).access_token
