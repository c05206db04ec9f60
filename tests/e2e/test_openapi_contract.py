"""/openapi.json describes the API truthfully: schemathesis generates requests from it,
valid and invalid, and every answer must be documented, match its schema, and never be
a server error. A bounded run (a few examples per operation) keeps the suite fast.

Driven by hand (one test per documented operation, hypothesis over its strategy) rather
than by ``schemathesis.pytest.from_fixture``, which does not work with pytest 9.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from config.settings import Settings
from tests.conftest import Staff
from workflow.api import create_app
from workflow.domain.users import CONSOLE
from workflow.services import accounts, people
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

# Raise it for a deeper run: NEWSROOM_FUZZ_EXAMPLES=200 pytest tests/e2e/test_openapi_contract.py
EXAMPLES_PER_OPERATION = int(os.environ.get("NEWSROOM_FUZZ_EXAMPLES", "10"))


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
        # Every default check but "schema-valid data is accepted": some rules are the
        # domain's alone (email syntax as email-validator reads it, topic ids that exist,
        # the configured token lifetime, blank after trimming) and rightly answer 422.
        case.call_and_validate(
            headers=headers, excluded_checks=[schemathesis.checks.positive_data_acceptance]
        )

    check()
