"""/openapi.json describes the API truthfully: schemathesis generates requests from it,
valid and invalid, and every answer must be documented, match its schema, and never be
a server error. A bounded run (a few examples per operation) keeps the suite fast.

Driven by hand (one test per documented operation, hypothesis over its strategy) rather
than by ``schemathesis.pytest.from_fixture``, which does not work with pytest 9; and the
whole of ``schemathesis run`` (every check; the coverage, fuzzing and stateful phases)
against the app on a real HTTP server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from config.settings import Settings
from tests.conftest import Staff
from tests.e2e.schemathesis_hooks import GONE, RULES, excuse
from tests.processes import ROOT
from workflow.api import create_app
from workflow.domain.users import CONSOLE
from workflow.services import accounts, people
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

# Raise it for a deeper run: NEWSROOM_FUZZ_EXAMPLES=200 pytest tests/e2e/test_openapi_contract.py
EXAMPLES_PER_OPERATION = int(os.environ.get("NEWSROOM_FUZZ_EXAMPLES", "10"))
# Operations that would take the fuzzing user's own access away half-way (its token, its
# roles, its account): their tests are in test_accounts and test_people.
SELF_DEFEATING = (
    "/api/v1/tokens/{token_id}",
    "/api/v1/users/{user_id}/roles",
    "/api/v1/users/{user_id}/deactivate",
)


def _operations() -> list[tuple[str, str]]:
    # Only the document is needed here, not a database: no request is served.
    document = create_app(SimpleNamespace(settings=Settings()))  # type: ignore[arg-type]
    return sorted(
        (method.upper(), path)
        for path, operations in document.openapi()["paths"].items()
        for method in operations
    )


@pytest.fixture
def everyone_token(ctx: ServiceContext, staff: Staff) -> str:
    """A user with every role, so that generated requests get past the role checks."""
    user_id = people.add_user(
        ctx,
        CONSOLE.id,
        email="everyone@newsroom.example",
        name="Every Role",
        roles=["press_officer", "approver", "translator", "admin"],
    )
    # Releases in different states, for the small ids the generator tends to pick.
    for title in ("초안", "검토", "게시"):
        release_id = svc.create_release(
            ctx, staff.author, language="ko", title=title, body="본문", topics=[staff.health]
        ).release_id
        if title != "초안":
            svc.submit_release(ctx, staff.author, release_id)
        if title == "게시":
            svc.approve_release(ctx, staff.approver, release_id)
            svc.publish_release(ctx, staff.author, release_id)
    svc.request_translation(ctx, staff.author, 1, target_language="en", translator_id=user_id)
    return accounts.create_token(ctx, user_id, "fuzz").token


@pytest.mark.parametrize(("method", "path"), _operations())
def test_every_answer_is_documented_and_never_a_server_error(
    app: FastAPI, everyone_token: str, method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {everyone_token}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Any) -> None:
        # Every default check; a refusal of valid data that a rule explains is dropped
        # by schemathesis_hooks.filter_failure, registered by importing it.
        case.call_and_validate(headers=headers)

    check()


def test_schemathesis_with_every_check_and_phase_finds_nothing(
    live_server: str, everyone_token: str, tmp_path: Path
) -> None:
    """Every check, in the coverage (boundaries of every constraint), fuzzing and
    stateful phases. Of the refusals of schema-valid requests, only those the rules a
    schema cannot state explain (the README's list, ``schemathesis_hooks.RULES``) are
    dropped, each by the fields it refuses."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{live_server}/openapi.json",
        "--checks=all",
        "--phases=coverage,fuzzing,stateful",
        f"--max-examples={EXAMPLES_PER_OPERATION}",
        f"--seed={os.environ.get('NEWSROOM_FUZZ_SEED', '1')}",
        "--workers=1",
        "--request-timeout=30",
        "--no-color",
        f"--header=Authorization: Bearer {everyone_token}",
        *(f"--exclude-path={path}" for path in SELF_DEFEATING),
    ]
    # A body over the size limit is refused with 413 before it is read: as good a
    # refusal of invalid data as 422.
    (tmp_path / "schemathesis.toml").write_text(
        "[checks.negative_data_rejection]\n"
        "expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]\n"
    )
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(  # noqa: S603  # our own arguments
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    # The failures, each line cut short: a generated body can be megabytes long.
    found = run.stdout.split("= FAILURES =", 1)[-1].split("= WARNINGS =", 1)[0]
    report = "\n".join(line[:300] for line in found.splitlines())
    assert run.returncode == 0, report + run.stderr[-5_000:]
    assert "Tested: " in run.stdout


def test_every_rule_that_excuses_a_refusal_is_in_the_readme() -> None:
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for rule in sorted({rule for fields in RULES.values() for rule in fields.values()}):
        assert rule in readme, rule
    assert GONE in readme


def test_every_request_body_is_an_object() -> None:
    """What lets the hooks tell schemathesis's scalar "valid" bodies from real refusals."""
    document = create_app(SimpleNamespace(settings=Settings())).openapi()  # type: ignore[arg-type]
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            # A body that may be left out is an object or null.
            for schema in body["schema"].get("anyOf", [body["schema"]]):
                if schema.get("type") == "null":
                    continue
                schema = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
                assert schema.get("type") == "object", (method, path)


@pytest.mark.parametrize(
    ("method", "path", "status", "answer", "excused"),
    [
        ("PATCH", "/api/v1/releases/{release_id}", 422, {"topics": "unknown topic ids: [9]"}, True),
        # The same rule, from an operation it is not listed for.
        ("POST", "/api/v1/topics", 422, {"topics": "unknown topic ids: [9]"}, False),
        # A listed field beside one that is not.
        ("PATCH", "/api/v1/releases/{release_id}", 422, {"topics": "…", "title": "…"}, False),
        ("PATCH", "/api/v1/releases/{release_id}", 400, {"topics": "…"}, False),
        ("PATCH", "/api/v1/releases/{release_id}", 422, {}, False),
        ("GET", "/api/v1/public/releases/{number}", 410, {}, True),
    ],
)
def test_only_a_listed_rule_excuses_a_refusal(
    method: str, path: str, status: int, answer: dict[str, str], excused: bool
) -> None:
    content = json.dumps(
        {
            "error": "validation_failed",
            "message": "…",
            "fields": [{"field": field, "message": message} for field, message in answer.items()],
        }
    ).encode()
    case = SimpleNamespace(media_type="application/json", body={}, query={})
    assert (excuse(method, path, status, content, case) is not None) is excused
