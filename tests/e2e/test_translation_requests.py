"""Asking for a translation of a language whose text is already live: the API and the
office page refuse it, saying to correct it instead, and nothing is stored or sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI

from tests.conftest import Staff
from tests.e2e.conftest import Api
from tests.e2e.office import Office, page, post
from tests.e2e.published import draft
from tests.integration.test_release_services import snapshot
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

KO = ("국제보건 전문가 회의 개최", "1. 외교부는 전문가 회의를 개최하였다.\n")
EN = ("Experts Meet on Global Health", "1. The Ministry hosted an expert meeting.\n")


@pytest.fixture
def office(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[Office]:
    with ExitStack() as stack:
        yield Office(app, ctx, staff, stack)


# Signing in and using a token write these; nothing else may change.
_SIGN_IN_TABLES = ("api_tokens", "web_sessions", "login_attempts")


def stored(ctx: ServiceContext) -> dict[str, list[tuple[object, ...]]]:
    rows = snapshot(ctx)
    return {name: rows[name] for name in rows if name not in _SIGN_IN_TABLES}


def published_in_both(ctx: ServiceContext, staff: Staff) -> int:
    release_id = draft(ctx, staff, ko=KO, en=EN)
    svc.publish_release(ctx, staff.author, release_id)
    return release_id


def test_the_api_refuses_a_translation_of_live_text(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = published_in_both(ctx, staff)
    before = stored(ctx)
    response = api(
        "author",
        "POST",
        f"/api/v1/releases/{release_id}/translation-requests",
        json={"target_language": "en"},
    )
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error"] == "conflict"
    assert "already live" in body["message"] and "correction" in body["message"]
    assert stored(ctx) == before  # no request, no audit entry, no event for the translator
    assert api.ok("translator", "GET", "/api/v1/translation-requests") == []


def test_the_office_page_refuses_it_in_the_page_language(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = published_in_both(ctx, staff)
    url = f"/office/releases/{release_id}"
    before = stored(ctx)
    refused = post(
        office("author", lang="ko"),
        url,
        f"{url}/request_translation",
        {"target_language": "en"},
        status=409,
    )
    assert "그 언어의 본문은 이미 공개되어 있습니다. 번역 대신 정정으로 고치십시오" in refused.text
    assert stored(ctx) == before
    assert "No translation requests." in page(office("translator"), "/office").text


def test_a_language_not_yet_live_is_still_translated_after_publication(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff, ko=KO)
    svc.publish_release(ctx, staff.author, release_id)
    api.ok(
        "author",
        "POST",
        f"/api/v1/releases/{release_id}/translation-requests",
        json={"target_language": "en"},
    )
    [request] = api.ok("translator", "GET", "/api/v1/translation-requests")
    assert request["target_language"] == "en" and request["state"] == "open"
