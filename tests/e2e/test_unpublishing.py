"""The three ways to end a release's public life, and minor and major changes, through
the public pages, the search, the feed, the stable address and the API."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.conftest import Staff
from tests.e2e.conftest import Api, TestClient
from tests.e2e.office import Office, page
from tests.e2e.published import number_of, past_the_public_cache, publish
from tests.e2e.test_public_site import ATOM, check_page, feed, feed_numbers, numbers_listed
from tests.e2e.web import Browser, form_token
from workflow.clock import FrozenClock
from workflow.db.tables import OutboxRow, ReleaseRow
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release

KO_BODY = "1. 외교부는 회의를 개최하였다.\n"


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


def release_id_of(ctx: ServiceContext, number: str) -> int:
    with ctx.uow() as uow:
        found = uow.session.scalar(select(ReleaseRow.id).where(ReleaseRow.number == number))
    assert found is not None
    return found


def test_published_in_error_is_gone_from_every_public_path(
    browser: Browser, api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("잘못 게시된 자료", KO_BODY))
    kept = publish(ctx, staff, clock, ko=("제대로 된 자료", KO_BODY))
    release_id = release_id_of(ctx, number)
    assert number in numbers_listed(check_page(browser, "/?lang=ko"))
    svc.unpublish_release(ctx, staff.approver, release_id, "다른 부처의 자료였습니다.")
    past_the_public_cache(ctx, clock)

    gone = browser.client.get(f"/releases/{number}?lang=ko")
    assert gone.status_code == 410
    assert "잘못 게시되어 더 이상 제공되지 않습니다" in gone.text
    assert "잘못 게시된 자료" not in gone.text
    assert browser.client.get(f"/releases/{number}?lang=en").status_code == 410
    assert numbers_listed(check_page(browser, "/?lang=ko")) == [kept]
    assert number not in check_page(browser, "/?lang=ko&q=잘못")
    assert feed_numbers(browser.client, "/feed.atom?lang=ko") == [kept]
    answer = api(None, "GET", f"/api/v1/public/releases/{number}")
    assert answer.status_code == 410 and answer.json()["error"] == "gone"
    assert number not in str(api.ok(None, "GET", "/api/v1/public/releases"))
    stable = browser.client.get(f"/r/{release_id}", follow_redirects=True)
    assert stable.status_code == 410
    # Its number is never given to another release.
    later = publish(ctx, staff, clock, ko=("다음 자료", KO_BODY))
    assert later not in (number, kept)


def test_a_superseded_release_leads_to_the_one_that_replaced_it(
    browser: Browser, api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    old = publish(ctx, staff, clock, ko=("첫 발표", KO_BODY))
    new = publish(ctx, staff, clock, ko=("고쳐 쓴 발표", KO_BODY))
    old_id = release_id_of(ctx, old)
    svc.supersede_release(ctx, staff.approver, old_id, new)
    past_the_public_cache(ctx, clock)

    moved = browser.client.get(f"/releases/{old}?lang=en", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == f"/releases/{new}?lang=en"
    page = check_page(browser, f"/releases/{new}?lang=ko")
    assert f"제{old}호 보도자료를 대체합니다" in page
    assert numbers_listed(check_page(browser, "/?lang=ko")) == [new]
    assert feed_numbers(browser.client, "/feed.atom?lang=ko") == [new]
    answer = api(None, "GET", f"/api/v1/public/releases/{old}", follow_redirects=False)
    assert answer.status_code == 301
    assert answer.headers["location"] == f"/api/v1/public/releases/{new}"


def test_superseding_by_an_unpublished_or_the_same_release_is_refused(
    api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("발표", KO_BODY))
    release_id = release_id_of(ctx, number)
    draft = svc.create_release(
        ctx, staff.author, language="ko", title="초안", body=KO_BODY, topics=[staff.health]
    ).release_id
    url = f"/api/v1/releases/{release_id}/supersede"
    assert api("approver", "POST", url, json={"by": number}).status_code == 422
    assert api("approver", "POST", url, json={"by": "2026-9999"}).status_code == 422
    assert api("approver", "POST", url, json={"by": "not a number"}).status_code == 422
    assert api("author", "POST", url, json={"by": number}).status_code == 403
    assert get_release(ctx, release_id).state.value == "published"
    assert get_release(ctx, draft).state.value == "draft"


def test_a_correction_is_minor_or_major_and_bad_kinds_change_nothing(
    api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock, browser: Browser
) -> None:
    number = publish(ctx, staff, clock, ko=("회의 개최", KO_BODY))
    release_id = release_id_of(ctx, number)
    url = f"/api/v1/releases/{release_id}/correct"
    text = {"language": "ko", "title": "회의 개최", "body": KO_BODY + "\n오타 수정\n"}
    for body, status in [
        ({**text, "base_revision": 1, "change": "small"}, 422),
        ({**text, "base_revision": 1, "change": "major"}, 422),  # no note
        ({**text, "base_revision": 1, "change": "minor", "note": "안내"}, 422),
    ]:
        answer = api("author", "POST", url, json=body)
        assert answer.status_code == status, answer.text
        assert get_release(ctx, release_id).state.value == "published"

    minor = api.ok("author", "POST", url, json={**text, "base_revision": 1, "change": "minor"})
    assert minor["state"] == "correction_in_review"
    seen = api.ok("approver", "GET", f"/api/v1/releases/{release_id}")
    assert seen["pending_change"] == "minor"
    office = browser  # the public reads
    api.ok("approver", "POST", f"/api/v1/releases/{release_id}/approve")
    past_the_public_cache(ctx, clock)
    page = check_page(office, f"/releases/{number}?lang=ko")
    assert "오타 수정" in page and "수정 내역" not in page
    updated = feed(office.client, "/feed.atom?lang=ko").find(f"{ATOM}entry/{ATOM}updated")
    published = feed(office.client, "/feed.atom?lang=ko").find(f"{ATOM}entry/{ATOM}published")
    assert updated is not None and published is not None and updated.text == published.text
    with ctx.uow() as uow:
        kinds = list(uow.session.scalars(select(OutboxRow.event_type)))
    assert "MinorChangePublished" in kinds and "CorrectionPublished" not in kinds

    clock.advance(days=1)
    api.ok(
        "author",
        "POST",
        url,
        json={
            **text,
            "title": "회의 개최 (정정)",
            "base_revision": 2,
            "note": "날짜를 고쳤습니다.",
        },
    )
    api.ok("approver", "POST", f"/api/v1/releases/{release_id}/approve")
    past_the_public_cache(ctx, clock)
    page = check_page(office, f"/releases/{number}?lang=ko")
    assert "수정: 날짜를 고쳤습니다." in page
    entry = feed(office.client, "/feed.atom?lang=ko").find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}updated") != entry.findtext(f"{ATOM}published")
    assert number_of(ctx, release_id) == number


def test_the_editor_proposes_a_minor_change_without_a_note(
    app: FastAPI, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("회의 개최", KO_BODY))
    release_id = release_id_of(ctx, number)
    with ExitStack() as stack:
        office = Office(app, ctx, staff, stack)
        browser = office("author", lang="ko")
        url = f"/office/releases/{release_id}/edit"
        editor = page(browser, url).text
        assert 'name="change" value="minor"' in editor
        token = form_token(editor)
        saved = browser.client.post(
            url,
            data={
                "csrf_token": token,
                "title_ko": "회의 개최",
                "body_ko": KO_BODY + "\n오타를 고쳤습니다.\n",
                "base_ko": "1",
                "change": "minor",
            },
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text[:500]
        shown = page(office("approver", lang="ko"), f"/office/releases/{release_id}").text
        assert "경미한 변경: 공개 안내 없음, 메일 없음" in shown
    assert get_release(ctx, release_id).pending_change is not None
