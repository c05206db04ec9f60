"""The office's forms for photos and documents, without JavaScript: upload, lead, move,
remove; a refusal shows the page again with the reason in the page's language."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI

from tests.conftest import Staff
from tests.e2e.office import Office, page
from tests.e2e.web import form_token
from tests.media import samples
from workflow.services import attachments as media
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries import attachments as files


@pytest.fixture
def office(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[Office]:
    with ExitStack() as stack:
        yield Office(app, ctx, staff, stack)


def draft(ctx: ServiceContext, staff: Staff) -> int:
    return svc.create_release(
        ctx, staff.author, language="ko", title="전문가 회의", body="1. 본문", topics=[staff.health]
    ).release_id


def attach(office: Office, release_id: int, name: str, data: bytes, **fields: str) -> object:
    browser = office("author")
    url = f"/office/releases/{release_id}"
    token = form_token(page(browser, url).text)
    return browser.client.post(
        f"{url}/attachments",
        data={"csrf_token": token, **fields},
        files={"file": (name, data, "application/octet-stream")},
        follow_redirects=False,
    )


def order(ctx: ServiceContext, release_id: int) -> list[str]:
    return [next(iter(s.values())).file.filename for s in files.staff_attachments(ctx, release_id)]


def test_a_press_officer_attaches_arranges_and_removes_files(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff)
    sent = attach(office, release_id, "성명.pdf", samples.PDF, title_ko="공동성명")
    assert sent.status_code == 303, sent.text[:300]  # type: ignore[attr-defined]
    sent = attach(office, release_id, "사진.jpg", samples.jpeg(), alt_ko="두 장관")
    assert sent.status_code == 303  # type: ignore[attr-defined]
    shown = page(office("author"), f"/office/releases/{release_id}").text
    assert "공동성명" in shown and "두 장관" in shown and "Preparing the photo" in shown
    assert order(ctx, release_id) == ["성명.pdf", "사진.jpg"]

    photo = files.staff_attachments(ctx, release_id)[1]
    photo_id = next(iter(photo.values())).id
    media.make_renditions(ctx, photo_id)
    browser = office("author")
    thumb = browser.client.get(
        f"/office/releases/{release_id}/attachments/{photo_id}?rendition=thumb"
    )
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"

    url = f"/office/releases/{release_id}"
    moved = browser.submit(url, f"{url}/attachments/{photo_id}/up", {})
    assert moved.status_code == 303
    assert order(ctx, release_id) == ["사진.jpg", "성명.pdf"]
    removed = browser.submit(url, f"{url}/attachments/{photo_id}/remove", {})
    assert removed.status_code == 303
    assert order(ctx, release_id) == ["성명.pdf"]


def test_a_refused_upload_shows_the_reason_and_keeps_nothing(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff)
    refused = attach(office, release_id, "photo.jpg", samples.HTML, alt_ko="사진")
    assert refused.status_code == 415  # type: ignore[attr-defined]
    assert 'role="alert"' in refused.text  # type: ignore[attr-defined]
    no_alt = attach(office, release_id, "photo.jpg", samples.jpeg())
    assert no_alt.status_code == 422  # type: ignore[attr-defined]
    assert order(ctx, release_id) == []


def test_an_approver_sees_the_files_but_no_forms(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff)
    attach(office, release_id, "성명.pdf", samples.PDF, title_ko="공동성명")
    shown = page(office("approver"), f"/office/releases/{release_id}").text
    assert "공동성명" in shown and 'enctype="multipart/form-data"' not in shown
