"""Fixtures for the SailPoint suite, run once per SDK generation (venvs from
../requirements-sailpoint1.txt for `sailpoint==1.4.2` and ../requirements-sailpoint2.txt for
2.x; see shared/contracts/sailpoint.md §0). The `roster` server fixture is ../conftest.py's."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def client_of(roster):
    """`roster client show --user NAME` as a dict: the two values SailPoint users configure."""

    def show(username: str) -> dict:
        return json.loads(roster.cli("client", "show", "--user", username).stdout)

    return show
