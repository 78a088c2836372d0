"""RFC 7643/7644 conformance of `/scim/v2`, checked by the PyPI checker `scim2-tester`.

Two runs of `scim2_tester.check_server` against a fresh `roster serve` (Bearer = the
bootstrap admin token, base URL `<server>/scim/v2`):

* **discovered**: the client knows nothing about the server; scim2-tester reads
  /ServiceProviderConfig, /ResourceTypes and /Schemas (RFC 7644 §4) and builds its resource
  models from what Roster publishes, then runs CRUD, attribute-projection and PATCH checks on
  every resource type it found. This is the real conformance run. scim2-tester stops after
  the discovery checks when discovery does not describe the server.
* **described**: the client is given the RFC's own models up front (RFC 7643 §4.1 User with
  the §4.3 Enterprise User extension, §4.2 Group) and the capabilities the issue says Roster
  advertises; discovery checks are excluded (they are the discovered run's job), so the
  CRUD/PATCH checks run even while discovery is missing, against every core attribute.

Each run is asserted as a whole (`test_check_server`) and once per check
(`test_check[...]`), so CI output names each failing check. A check that scim2-tester never
ran (because an earlier one failed) fails too: not running is not passing. Every HTTP exchange
of a run is written to a JSON-lines transcript (path printed on failure) and the exchanges of
a failing check are printed with it.

Checks we believe go beyond the RFC are listed in README.md (conformance section); they are
NOT skipped.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from scim2_tester import CheckConfig, CheckResult, Status, check_server
from scim2_tester.checkers import core_schemas_validation
from scim2_tester.utils import CheckContext

from scim_helpers import (
    Transcript,
    http_client,
    issue_service_provider_config,
    scim_client,
    standard_provider,
)

# Every check scim2-tester 0.5.2's check_server runs, in its order (scim2_tester/checker.py,
# checkers/resource.py), plus `core_schemas_validation`, which scim2-tester ships but
# check_server does not call; we run it after check_server.
SERVER_CHECKS = [
    "service_provider_config_endpoint",
    "service_provider_config_endpoint_methods",
    "query_all_resource_types",
    "query_resource_type_by_id",
    "resource_types_schema_validation",
    "access_invalid_resource_type",
    "resource_types_endpoint_methods",
    "query_all_schemas",
    "access_schema_by_id",
    "access_invalid_schema",
    "schemas_endpoint_methods",
    "core_schemas_validation",
    "random_url",
]
# Reported only when composing models from /Schemas + /ResourceTypes fails.
SERVICE_DESCRIPTION = "service_description"
RESOURCE_CHECKS = [
    "object_creation",
    "object_query",
    "object_query_without_id",
    "object_query_with_attributes",
    "object_list_with_attributes",
    "search_with_attributes",
    "object_replacement",
    "object_deletion",
    "check_add_attribute",
    "check_remove_attribute",
    "check_replace_attribute",
]
RESOURCE_TYPES = ["User", "Group"]
FAILED = (Status.ERROR, Status.CRITICAL)

DISCOVERED_KEYS = [(None, c) for c in SERVER_CHECKS] + [(None, SERVICE_DESCRIPTION)] + [
    (rt, c) for rt in RESOURCE_TYPES for c in RESOURCE_CHECKS
]
DESCRIBED_KEYS = [(rt, c) for rt in RESOURCE_TYPES for c in RESOURCE_CHECKS]


@dataclass
class Run:
    variant: str
    results: list[CheckResult]
    transcript: Transcript
    transcript_path: Path
    crash: str | None = None

    def by_key(self) -> dict[tuple[str | None, str], list[CheckResult]]:
        grouped: dict[tuple[str | None, str], list[CheckResult]] = defaultdict(list)
        for r in self.results:
            grouped[(r.resource_type, r.title)].append(r)
        return grouped

    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status in FAILED]


def _run(roster, variant: str, tmp_path_factory) -> Run:
    transcript = Transcript(set(SERVER_CHECKS) | set(RESOURCE_CHECKS))
    path = tmp_path_factory.mktemp("scim-conformance") / f"{variant}.jsonl"
    http = http_client(roster, transcript)
    results: list[CheckResult] = []
    crash = None
    # scim2-tester draws attribute values and enum choices from `random`: a fixed seed makes
    # two runs against the same binary send the same choices.
    random.seed(f"roster-scim-{variant}")
    try:
        if variant == "discovered":
            client = scim_client(http)
            results = check_server(client)
            # check_server leaves the server's description on the client; run the one shipped
            # check it does not call.
            results.extend(core_schemas_validation(CheckContext(client, CheckConfig())))
        else:
            client = scim_client(http, standard_provider(issue_service_provider_config()))
            results = check_server(client, exclude_tags={"discovery"})
    except Exception as exc:  # check_server itself failed: report, do not hide
        crash = f"{type(exc).__name__}: {exc}"
    finally:
        http.close()
        transcript.dump(path)
    return Run(variant, results, transcript, path, crash)


@pytest.fixture(scope="module")
def discovered(roster, tmp_path_factory) -> Run:
    return _run(roster, "discovered", tmp_path_factory)


@pytest.fixture(scope="module")
def described(roster, tmp_path_factory) -> Run:
    return _run(roster, "described", tmp_path_factory)


# -- rendering ----------------------------------------------------------------------

def _clip(text: str, limit: int = 1200) -> str:
    text = str(text).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _render_data(data) -> str:
    if data is None:
        return ""
    if hasattr(data, "status_code") and hasattr(data, "request"):  # an httpx2 Response
        return f"{data.request.method} {data.request.url} -> {data.status_code} {_clip(data.text)}"
    if hasattr(data, "model_dump"):
        try:
            return _clip(json.dumps(data.model_dump(mode="json", exclude_none=True, by_alias=True)))
        except Exception:
            return _clip(repr(data))
    if isinstance(data, dict):
        return _clip(json.dumps({k: _render_value(v) for k, v in data.items()}))
    return _clip(repr(data))


def _render_value(value):
    if hasattr(value, "model_dump"):
        try:
            return value.model_dump(mode="json", exclude_none=True, by_alias=True)
        except Exception:
            return repr(value)
    if isinstance(value, list):
        return [_render_value(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _relevant_exchanges(run: Run, result: CheckResult, limit: int = 6):
    exchanges = run.transcript.of(result.title, result.resource_type)
    urn = result.data.get("urn") if isinstance(result.data, dict) else None
    if urn:
        needles = (f'"path":{json.dumps(urn)}', f'"path": {json.dumps(urn)}')
        picked = [e for e in exchanges if any(n in e.request_body for n in needles)]
        # and the GET that read the resource back right after each of them
        for e in list(picked):
            i = exchanges.index(e)
            if i + 1 < len(exchanges) and exchanges[i + 1].method == "GET":
                picked.append(exchanges[i + 1])
        picked.sort(key=exchanges.index)
    else:
        picked = [e for e in exchanges if e.status >= 400] or exchanges[-3:]
    return picked[:limit]


def _render_result(run: Run, r: CheckResult, with_exchanges: bool = True) -> str:
    head = f"[{r.status.name}] {r.title}" + (f" ({r.resource_type})" if r.resource_type else "")
    lines = [head, f"  reason: {_clip(r.reason or '', 2000)}"]
    data = _render_data(r.data)
    if data:
        lines.append(f"  data:   {data}")
    if with_exchanges:
        for e in _relevant_exchanges(run, r):
            lines.append(e.render())
    return "\n".join(lines)


def _not_run_reason(run: Run) -> str:
    if run.crash:
        return f"scim2-tester crashed: {run.crash}"
    by = run.by_key()
    blockers = [
        k for k in ("service_provider_config_endpoint", "query_all_resource_types", "query_all_schemas")
        if any(r.status in FAILED for r in by.get((None, k), []))
    ]
    if blockers:
        return ("check_server stops after discovery when the server is not described "
                f"(failed: {', '.join(blockers)}); this check never ran")
    return "scim2-tester did not run this check (an earlier step it depends on failed or found nothing)"


# -- tests --------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["discovered", "described"])
def test_check_server(variant, request):
    """The whole scim2-tester run: no check may fail."""
    run: Run = request.getfixturevalue(variant)
    problems = []
    if run.crash:
        problems.append(f"check_server raised {run.crash}")
    failed = run.failed()
    if failed:
        problems.append(f"{len(failed)} failed check result(s) of {len(run.results)}:")
        problems.extend(_render_result(run, r, with_exchanges=False) for r in failed)
    ran_resource_checks = any(r.resource_type for r in run.results)
    if not ran_resource_checks:
        problems.append("no per-resource-type check ran: " + _not_run_reason(run))
    assert not problems, "\n".join(problems) + f"\nHTTP transcript: {run.transcript_path}"


def _check(run: Run, resource_type: str | None, title: str) -> None:
    results = run.by_key().get((resource_type, title), [])
    if not results:
        if title == SERVICE_DESCRIPTION:
            return  # reported only on failure
        pytest.fail(f"{title}{f' ({resource_type})' if resource_type else ''}: {_not_run_reason(run)}"
                    f"\nHTTP transcript: {run.transcript_path}")
    failed = [r for r in results if r.status in FAILED]
    if failed:
        ok = len(results) - len(failed)
        pytest.fail(
            f"{len(failed)} of {len(results)} result(s) failed ({ok} passed):\n"
            + "\n".join(_render_result(run, r) for r in failed)
            + f"\nHTTP transcript: {run.transcript_path}",
            pytrace=False,
        )
    if all(r.status == Status.SKIPPED for r in results):
        pytest.skip("scim2-tester skipped it: " + "; ".join(sorted({r.reason or "" for r in results})))


def _key_id(key) -> str:
    rt, title = key
    return f"{rt or 'server'}-{title}"


@pytest.mark.parametrize("key", DISCOVERED_KEYS, ids=[_key_id(k) for k in DISCOVERED_KEYS])
def test_check_discovered(discovered, key):
    _check(discovered, *key)


@pytest.mark.parametrize("key", DESCRIBED_KEYS, ids=[_key_id(k) for k in DESCRIBED_KEYS])
def test_check_described(described, key):
    _check(described, *key)


@pytest.mark.parametrize("variant", ["discovered", "described"])
def test_every_check_is_enumerated(variant, request):
    """A scim2-tester upgrade that adds checks must add them to the lists above."""
    run: Run = request.getfixturevalue(variant)
    known = set(DISCOVERED_KEYS) | {(rt, c) for rt in RESOURCE_TYPES for c in RESOURCE_CHECKS}
    unknown = sorted({(r.resource_type or "", r.title or "") for r in run.results} - {(rt or "", c) for rt, c in known})
    assert not unknown, f"checks/resource types not enumerated in test_conformance.py: {unknown}"
