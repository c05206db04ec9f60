"""The office's forms as commands: the editor's save is all or nothing, and a release
page's action is one of a known few."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI

from tests.conftest import Staff
from tests.e2e.office import Office, page, post, textareas
from tests.e2e.published import draft
from tests.integration.test_release_services import snapshot
from workflow.domain.values import Language
from workflow.services import queries
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

KO_BODY = "1. 외교부는 전문가 회의를 개최하였다.\n"
EN_BODY = "1. The Ministry hosted an expert meeting.\n"


@pytest.fixture
def office(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[Office]:
    with ExitStack() as stack:
        yield Office(app, ctx, staff, stack)


def two_language_draft(ctx: ServiceContext, staff: Staff) -> int:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="전문가 회의", body=KO_BODY, topics=[staff.health]
    ).release_id
    svc.edit_version(
        ctx,
        staff.author,
        release_id,
        language="en",
        title="Experts Meet",
        body=EN_BODY,
        base_revision=0,
    )
    return release_id


def test_texts_and_details_are_saved_together(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = two_language_draft(ctx, staff)
    edit_url = f"/office/releases/{release_id}/edit"
    post(
        office("author"),
        edit_url,
        edit_url,
        {
            "title_ko": "고친 제목",
            "body_ko": KO_BODY,
            "base_ko": 1,
            "title_en": "Experts Met",
            "body_en": EN_BODY,
            "base_en": 1,
            "details": "1",
            "topics": [staff.peninsula],
            "contact_name": "Yoon Ji-woo",
        },
    )
    release = queries.get_release(ctx, release_id)
    assert {lang: (v.revision, v.title) for lang, v in release.versions.items()} == {
        Language.KO: (2, "고친 제목"),
        Language.EN: (2, "Experts Met"),
    }
    assert release.topics == ["Korean Peninsula"] and release.contact["name"] == "Yoon Ji-woo"
    trail = queries.audit_trail(ctx, release_id)
    assert [(a.action, a.details.get("language")) for a in trail[-3:]] == [
        ("edit", "ko"),
        ("edit", "en"),
        ("update_details", None),
    ]


def test_a_save_whose_details_are_refused_saves_no_text_either(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = two_language_draft(ctx, staff)
    edit_url = f"/office/releases/{release_id}/edit"
    author = office("author")
    form = page(author, edit_url)  # signed in: the session is written before the snapshot
    assert 'name="details"' in form.text
    before = snapshot(ctx)
    refused = post(
        author,
        edit_url,
        edit_url,
        {
            "title_ko": "고친 제목",
            "body_ko": KO_BODY + "\n2. 새 문단\n",
            "base_ko": 1,
            "title_en": "Experts Met",
            "body_en": EN_BODY,
            "base_en": 1,
            "details": "1",
            "topics": [staff.health],
            "contact_email": "not an address",
        },
        status=422,
    )
    assert "contact.email" in refused.text
    assert textareas(refused.text)["body_ko"] == KO_BODY + "\n2. 새 문단\n"  # kept to retry
    assert 'name="base_ko" value="1"' in refused.text
    assert snapshot(ctx) == before
    release = queries.get_release(ctx, release_id)
    assert release.versions[Language.KO].title == "전문가 회의"


def test_an_unknown_action_is_not_found_in_the_pages_language(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff, ko=("전문가 회의", KO_BODY))
    author = office("author", lang="ko")
    url = f"/office/releases/{release_id}"
    for action in ("frobnicate", "correct", "update_details", "comments_"):
        response = author.submit(url, f"{url}/{action}", {})
        assert response.status_code == 404, action
        assert "찾을 수 없습니다" in response.text
        assert f"작업 {action}이(가) 없습니다" in response.text
    # Told so before the form's token is looked at, as for a release that does not exist.
    assert author.client.post(f"{url}/frobnicate", data={}).status_code == 404
    assert office.state(release_id) == "approved"
