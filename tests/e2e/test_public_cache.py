"""The public page cache (workflow/web/public_cache.py): nothing shows before its time
however warm the cache is, a withdrawal or correction shows within its bound, every
reader's view is counted, and staff and anonymous readers never get each other's page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.published import number_of, past_the_public_cache, publish, schedule
from tests.e2e.web import PASSWORD, Browser
from workflow.clock import FrozenClock
from workflow.services import accounts
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

BODY = "1. 외교부는 회의를 개최하였다.\n"
URLS = (
    "/?lang=ko",
    "/?lang=en",
    "/feed.atom?lang=ko",
    "/api/v1/public/releases",
)


def listed(client: TestClient, number: str) -> dict[str, bool]:
    """Where ``number`` shows, on each list and by its own page and API."""
    shown = {url: number in client.get(url).text for url in URLS}
    shown["page"] = client.get(f"/releases/{number}").status_code == 200
    shown["api"] = client.get(f"/api/v1/public/releases/{number}").status_code == 200
    return shown


def test_the_cache_is_on_and_keeps_an_answer_for_its_bound_only(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    assert ctx.settings.public_cache_seconds == 1.0, "the bound the README promises"
    number = publish(ctx, staff, clock, ko=("처음 제목", BODY))
    release_id = _id(ctx, number)
    assert "처음 제목" in client.get(f"/releases/{number}").text
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="고친 제목",
        body=BODY,
        note="제목 수정",
        base_revision=1,
    )
    svc.approve_release(ctx, staff.approver, release_id)
    clock.advance(seconds=0.5)
    assert "처음 제목" in client.get(f"/releases/{number}").text, "kept, within the bound"
    clock.advance(seconds=0.5)
    assert "고친 제목" in client.get(f"/releases/{number}").text, "at the bound, the new text"


def test_a_withdrawal_leaves_every_public_path_within_the_bound(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("철회될 보도자료", BODY), en=("To withdraw", BODY))
    assert all(listed(client, number).values())  # and now kept everywhere
    svc.withdraw_release(ctx, staff.approver, _id(ctx, number), "잘못 배포")
    past_the_public_cache(ctx, clock)
    assert not any(v for k, v in listed(client, number).items() if k not in {"page", "api"})
    page = client.get(f"/releases/{number}").text
    assert "잘못 배포" in page and "외교부는" not in page
    assert client.get(f"/api/v1/public/releases/{number}").json()["status"] == "withdrawn"


def test_a_scheduled_or_embargoed_release_never_shows_early_however_warm_the_cache(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    start = clock.now()
    scheduled = schedule(
        ctx, staff, clock, in_hours=1, ko=("예약 보도자료", BODY), en=("Scheduled", BODY)
    )
    embargoed = schedule(
        ctx,
        staff,
        clock,
        in_hours=1,
        embargo_hours=2,
        ko=("엠바고 보도자료", BODY),
        en=("Embargoed", BODY),
    )

    def at(moment: timedelta) -> None:
        clock.advance(seconds=(start + moment - clock.now()).total_seconds())

    # Every list asked for, and so kept, up to a moment before the releases are due.
    for before in (1, 0.5, 0.25):
        at(timedelta(hours=1, seconds=-before))
        assert svc.publish_due(ctx) == []
        for url in (*URLS, "/?lang=ko&q=보도자료"):
            page = client.get(url).text
            assert "예약 보도자료" not in page and "엠바고 보도자료" not in page, url
    at(timedelta(hours=1))
    assert sorted(svc.publish_due(ctx)) == sorted([scheduled, embargoed])
    on_time, held = number_of(ctx, scheduled), number_of(ctx, embargoed)
    # A 404 is never kept: the release's own page and API answer once it is public.
    assert client.get(f"/releases/{on_time}").status_code == 200
    assert client.get(f"/api/v1/public/releases/{on_time}").status_code == 200
    past_the_public_cache(ctx, clock)
    assert all(listed(client, on_time).values())

    # The embargoed one, asked for on every path until its embargo ends: nowhere.
    for before in (1, 0.5, 0.25):
        at(timedelta(hours=2, seconds=-before))
        assert not any(listed(client, held).values()), before
    at(timedelta(hours=2))
    assert client.get(f"/releases/{held}").status_code == 200
    past_the_public_cache(ctx, clock)
    assert all(listed(client, held).values())


@pytest.fixture
def staff_client(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[TestClient]:
    """A second browser on the same app (so the same cache), signed in as the author."""
    accounts.set_password(ctx, staff.author, staff.author, PASSWORD)
    with TestClient(app) as second:
        Browser(second).log_in("author@newsroom.example")
        yield second


def test_staff_and_anonymous_readers_never_get_each_others_page(
    client: TestClient,
    staff_client: TestClient,
    ctx: ServiceContext,
    staff: Staff,
    clock: FrozenClock,
) -> None:
    number = publish(ctx, staff, clock, ko=("누구의 페이지", BODY))
    for url in ("/?lang=ko", f"/releases/{number}?lang=ko"):
        anonymous = client.get(url).text  # kept
        assert "Kim Min-ji" not in anonymous
        assert "Kim Min-ji" in staff_client.get(url).text, "staff get their own page"
        assert "Kim Min-ji" not in client.get(url).text, "nor is the staff page kept"
    fresh = publish(ctx, staff, clock, ko=("새 페이지", BODY))
    assert "Kim Min-ji" in staff_client.get(f"/releases/{fresh}").text  # rendered first
    assert "Kim Min-ji" not in client.get(f"/releases/{fresh}").text


def test_every_reader_of_a_kept_page_is_counted_once(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("조회수", BODY))
    release_id = _id(ctx, number)
    for reader in ("one", "two", "three", "one", "two"):
        page = client.get(f"/releases/{number}", headers={"User-Agent": f"Mozilla/5.0 {reader}"})
        assert page.status_code == 200
    client.get(f"/releases/{number}", headers={"User-Agent": "Googlebot/2.1"})
    counter = client.app.state.view_counter  # type: ignore[attr-defined]
    assert counter.pending([release_id]) == {release_id: 3}
    past_the_public_cache(ctx, clock)
    again = client.get(f"/releases/{number}", headers={"User-Agent": "Mozilla/5.0 one"})
    shown = re.search(r"<dd class=\"views\">(\d+)</dd>", again.text)
    assert shown is not None and shown.group(1) == "3"


def _id(ctx: ServiceContext, number: str) -> int:
    from sqlalchemy import select

    from workflow.db.tables import ReleaseRow

    with ctx.uow() as uow:
        release_id = uow.session.scalar(select(ReleaseRow.id).where(ReleaseRow.number == number))
    assert release_id is not None
    return release_id
