"""Fixtures for the Contabo suite (venv from ../requirements-contabo.txt: pfruck-contabo
2.0.0, which pins urllib3<2.1). The `roster` server fixture is ../conftest.py's."""

from __future__ import annotations

import uuid

import pfruck_contabo as pc
import pytest


def rid() -> str:
    """A fresh x-request-id, as Contabo asks for (a UUID4)."""
    return str(uuid.uuid4())


@pytest.fixture(scope="module")
def api_for(roster):
    """A UsersApi authenticated with `token` (an API token or an OAuth access token)."""
    def make(token: str) -> pc.UsersApi:
        return pc.UsersApi(pc.ApiClient(pc.Configuration(host=roster.base_url, access_token=token)))

    return make


@pytest.fixture(scope="module")
def admin_api(roster, api_for):
    return api_for(roster.admin_token)
