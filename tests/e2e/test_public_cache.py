"""The public page cache (workflow/web/public_cache.py): nothing shows before its time
however warm the cache is, a withdrawal or correction shows within its bound, every
reader's view is counted, and staff and anonymous readers never get each other's page."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.published import (
    draft,
    number_of,
    past_the_kept_counts,
    past_the_public_cache,
    publish,
    schedule,
)
from tests.e2e.web import PASSWORD, Browser
from workflow.clock import FrozenClock
from workflow.services import accounts
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.web.public_cache import PublicPageCache

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
    past_the_kept_counts(ctx, clock)
    again = client.get(f"/releases/{number}", headers={"User-Agent": "Mozilla/5.0 one"})
    shown = re.search(r"<dd class=\"views\">(\d+)</dd>", again.text)
    assert shown is not None and shown.group(1) == "3"


def shown_views(page: str) -> int:
    found = re.search(r"<dd class=\"views\">(\d+)</dd>", page)
    assert found is not None, "the page shows its view count"
    return int(found.group(1))


def set_stored_views(ctx: ServiceContext, number: str, views: int) -> None:
    """What a flush of view counts does to a release's row: not an edit, so not a change
    to what the public reads (no kept answer is dropped for it)."""
    from sqlalchemy import update

    from workflow.db.tables import ReleaseRow

    with ctx.engine.begin() as connection:
        connection.execute(
            update(ReleaseRow).where(ReleaseRow.number == number).values(view_count=views)
        )


def test_an_answer_is_kept_until_what_it_shows_changes(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    first = publish(ctx, staff, clock, ko=("첫째 보도자료", BODY))
    second = publish(ctx, staff, clock, ko=("둘째 보도자료", BODY))
    pages = (f"/releases/{first}", f"/releases/{second}")
    assert [shown_views(client.get(url).text) for url in pages] == [1, 1]  # and kept
    for number in (first, second):
        set_stored_views(ctx, number, 100)  # the stale count tells a kept answer

    def kept(url: str) -> bool:
        return shown_views(client.get(url).text) == 1

    # Checked again and again, nothing public changed: every answer stays.
    for _ in range(3):
        past_the_public_cache(ctx, clock)
        assert all(kept(url) for url in pages)
    # A release drafted, reviewed and approved but not published changes nothing public.
    unpublished = draft(ctx, staff, ko=("아직 비공개", BODY))
    past_the_public_cache(ctx, clock)
    assert all(kept(url) for url in pages)
    assert "아직 비공개" not in client.get("/?lang=ko").text

    # A publication drops the lists (they show it) but not the other releases' pages.
    svc.publish_release(ctx, staff.author, unpublished)
    past_the_public_cache(ctx, clock)
    assert "아직 비공개" in client.get("/?lang=ko").text
    assert all(kept(url) for url in pages)

    # A correction drops that release's answers only.
    svc.correct_release(
        ctx,
        staff.officer,
        _id(ctx, first),
        language="ko",
        title="고친 첫째",
        body=BODY,
        note="제목 수정",
        base_revision=1,
    )
    svc.approve_release(ctx, staff.approver, _id(ctx, first))
    past_the_public_cache(ctx, clock)
    corrected = client.get(pages[0]).text
    assert "고친 첫째" in corrected and shown_views(corrected) == 101
    assert kept(pages[1])


def test_a_kept_answer_is_never_older_than_its_max_age(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("오래 둔 페이지", BODY))
    url = f"/releases/{number}"
    assert shown_views(client.get(url).text) == 1
    set_stored_views(ctx, number, 41)
    clock.advance(seconds=ctx.settings.public_cache_max_age_seconds - 0.5)
    assert shown_views(client.get(url).text) == 1, "kept, younger than its max age"
    clock.advance(seconds=0.5)
    assert shown_views(client.get(url).text) == 42, "then rendered again"


def test_no_answer_is_replayed_while_the_marks_cannot_be_read(
    client: TestClient,
    ctx: ServiceContext,
    staff: Staff,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    number = publish(ctx, staff, clock, ko=("확인 불가", BODY))
    url = f"/releases/{number}"
    assert "확인 불가" in client.get(url).text  # kept
    svc.withdraw_release(ctx, staff.approver, _id(ctx, number), "확인 중 철회")
    from workflow.web import public_cache

    def unreachable(*_: object) -> None:
        raise ConnectionRefusedError("the database is restarting")

    monkeypatch.setattr(public_cache, "public_marks", unreachable)
    past_the_public_cache(ctx, clock)
    # The handler answers instead (here the database is up for it): the withdrawal.
    page = client.get(url).text
    assert "확인 중 철회" in page and "외교부는" not in page


def stand_in_get(cache: PublicPageCache) -> Callable[[str], Awaitable[str]]:
    """An anonymous GET of ``path`` through ``cache`` at the ASGI level, to its body."""

    async def get(path: str) -> str:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            sent.append(message)

        scope: Scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": b"",
            "headers": [],
        }
        await cache(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return body.decode()

    return get


def slow_after_the_first() -> tuple[ASGIApp, list[str], asyncio.Event]:
    """A stand-in app whose every rendering but the first waits for the event it returns,
    with the paths it rendered; it answers "list #n" for its n-th rendering."""
    renders: list[str] = []
    gate = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        renders.append(scope["path"])
        if len(renders) > 1:
            await gate.wait()  # a slow rendering, while others ask
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": f"list #{len(renders)}".encode()})

    return app, renders, gate


def withdrawn_while_rendering(
    ctx: ServiceContext,
    staff: Staff,
    clock: FrozenClock,
    url: str,
    withdrawn: str,
    reason: str,
) -> tuple[Callable[[str], Awaitable[str]], list[str]]:
    """A cache over a stand-in app that answers "render n" for its n-th rendering and,
    during its first rendering of ``url``, withdraws release ``withdrawn`` and has a
    reader of "/" (past the bound) make the cache check; its GET and the paths rendered."""
    renders: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        text = f"render {len(renders) + 1}"
        renders.append(scope["path"])
        if scope["path"] == url and len(renders) == 1:
            svc.withdraw_release(ctx, staff.approver, _id(ctx, withdrawn), reason)
            past_the_public_cache(ctx, clock)
            await get("/")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": text.encode()})

    get = stand_in_get(PublicPageCache(app, ctx))
    return get, renders


def test_an_answer_rendered_across_a_check_that_dropped_answers_is_not_kept(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    """The race no single-threaded client shows: a page rendered from the text before a
    withdrawal, while another request's check reads the withdrawal and drops answers,
    must not be kept after that check (it would show the withdrawn text past the bound).
    The app here is a stand-in that renders what it is told, so the race is exact."""
    number = publish(ctx, staff, clock, ko=("경합", BODY))
    url = f"/releases/{number}"
    # While this page renders the old text: the release is withdrawn, and a reader of
    # another page makes the cache check and drop.
    get, renders = withdrawn_while_rendering(ctx, staff, clock, url, number, "경합 중 철회")

    async def scenario() -> list[str]:
        return [await get(url), await get(url), await get(url)]

    assert asyncio.run(scenario()) == ["render 1", "render 3", "render 3"]
    assert renders == [url, "/", url], "rendered again after the check, then kept"


def test_an_answer_rendered_across_a_check_that_superseded_another_release_is_kept(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    """Only what a change touches is rendered again: a release page rendered while
    another release was withdrawn is kept, or a busy newsroom would keep nothing."""
    mine = publish(ctx, staff, clock, ko=("그대로", BODY))
    other = publish(ctx, staff, clock, ko=("철회될 다른 보도자료", BODY))
    url = f"/releases/{mine}"
    # The reader's check supersedes the other release's answers and the lists.
    get, renders = withdrawn_while_rendering(ctx, staff, clock, url, other, "다른 것 철회")

    async def scenario() -> list[str]:
        return [await get(url), await get(url)]

    assert asyncio.run(scenario()) == ["render 1", "render 1"]
    assert renders == [url, "/"]


def test_readers_of_an_answer_being_rendered_wait_for_it_instead_of_rendering_it_too(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    """After a publication drops the lists, every reader asking for one at that moment
    would render it: they wait for the first one's rendering instead, and are counted."""
    renders: list[str] = []
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        renders.append(scope["path"])
        await release.wait()  # a slow rendering, while the others ask
        await send({"type": "http.response.start", "status": 200, "headers": []})
        body = f"{scope['path']} #{renders.count(scope['path'])}"
        await send({"type": "http.response.body", "body": body.encode()})

    get = stand_in_get(PublicPageCache(app, ctx))

    async def scenario() -> list[str]:
        readers = [asyncio.ensure_future(get("/")) for _ in range(10)]
        other = asyncio.ensure_future(get("/feed.atom"))
        while len(renders) < 2:  # past the first check, both renderings have begun
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)  # and every other reader has asked
        release.set()
        return [*await asyncio.gather(*readers), await other]

    assert asyncio.run(scenario()) == ["/ #1"] * 10 + ["/feed.atom #1"]
    assert sorted(renders) == ["/", "/feed.atom"], "one rendering of each answer"


def test_a_superseded_list_is_replayed_while_its_successor_renders_but_never_past_the_bound(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    """Readers who ask for a list a publication changed, while its new version is being
    rendered, get the one before (a list that half the readers ask for is not held up
    for everyone), but only until the bound after the last check that had not seen the
    publication: past it they wait for the new one."""
    app, renders, gate = slow_after_the_first()
    cache = PublicPageCache(app, ctx)
    get = stand_in_get(cache)
    start = clock.now()

    async def checked() -> None:
        while cache._check is not None:  # the check began without anyone waiting
            await asyncio.sleep(0.001)

    async def scenario() -> list[str]:
        answers = [await get("/")]  # the first check at `start`, then the list kept
        publish(ctx, staff, clock, ko=("새 보도자료", BODY))  # moves the clock a minute
        clock.current = start + timedelta(seconds=0.5)
        answers.append(await get("/"))  # half the bound: a check begins, kept meanwhile
        await checked()  # it finds the publication
        first = asyncio.ensure_future(get("/"))  # renders the new list
        while len(renders) < 2:
            await asyncio.sleep(0.001)
        # Meanwhile: the one before, at once (within the bound).
        answers.append(await asyncio.wait_for(get("/"), timeout=5))
        clock.current = start + timedelta(seconds=1)
        late = asyncio.ensure_future(get("/"))  # at the bound: waits for the new one
        await asyncio.sleep(0.05)
        assert not late.done()
        gate.set()
        return [*answers, await first, await late]

    assert asyncio.run(scenario()) == ["list #1", "list #1", "list #1", "list #2", "list #2"]
    assert renders == ["/", "/"]


def test_an_answer_past_its_age_is_rendered_again_by_one_reader_while_the_others_get_it(
    ctx: ServiceContext, clock: FrozenClock
) -> None:
    app, renders, gate = slow_after_the_first()
    get = stand_in_get(PublicPageCache(app, ctx))
    max_age = ctx.settings.public_cache_max_age_seconds

    async def scenario() -> list[str]:
        answers = [await get("/")]
        clock.advance(seconds=max_age)  # every check since found nothing changed
        first = asyncio.ensure_future(get("/"))  # renders it again
        while len(renders) < 2:
            await asyncio.sleep(0.001)
        answers.append(await asyncio.wait_for(get("/"), timeout=5))  # the old one, at once
        clock.advance(seconds=max_age)  # twice its age: no more
        late = asyncio.ensure_future(get("/"))
        await asyncio.sleep(0.05)
        assert not late.done()
        gate.set()
        return [*answers, await first, await late]

    assert asyncio.run(scenario()) == ["list #1", "list #1", "list #2", "list #2"]
    assert renders == ["/", "/"]


def test_answers_past_their_age_are_rendered_again_one_at_a_time(
    ctx: ServiceContext, clock: FrozenClock
) -> None:
    """The answers a start-up rendered together come due together: a process renders
    them again one at a time, while the readers of the others get the old ones, until
    twice their age."""
    renders: list[str] = []
    gate = asyncio.Event()
    slow = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        renders.append(scope["path"])
        if slow:
            await gate.wait()  # a slow rendering, while others ask
        await send({"type": "http.response.start", "status": 200, "headers": []})
        body = f"{scope['path']} #{renders.count(scope['path'])}"
        await send({"type": "http.response.body", "body": body.encode()})

    get = stand_in_get(PublicPageCache(app, ctx))
    max_age = ctx.settings.public_cache_max_age_seconds

    async def started() -> None:
        while len(renders) < 3:
            await asyncio.sleep(0.001)

    async def scenario() -> list[str]:
        nonlocal slow
        answers = [await get("/"), await get("/feed.atom")]  # kept at the same moment
        slow = True
        clock.advance(seconds=max_age)  # both due; every check since found nothing
        first = asyncio.ensure_future(get("/"))  # rendered again
        await started()
        answers.append(await asyncio.wait_for(get("/feed.atom"), timeout=5))  # not yet
        clock.advance(seconds=max_age)  # twice its age: its turn or not, it is rendered
        late = asyncio.ensure_future(get("/feed.atom"))
        await asyncio.sleep(0.05)
        assert not late.done() and renders[-1] == "/feed.atom"
        gate.set()
        return [*answers, await first, await late]

    assert asyncio.run(scenario()) == [
        "/ #1",
        "/feed.atom #1",
        "/feed.atom #1",
        "/ #2",
        "/feed.atom #2",
    ]
    assert renders == ["/", "/feed.atom", "/", "/feed.atom"]


def _id(ctx: ServiceContext, number: str) -> int:
    from sqlalchemy import select

    from workflow.db.tables import ReleaseRow

    with ctx.uow() as uow:
        release_id = uow.session.scalar(select(ReleaseRow.id).where(ReleaseRow.number == number))
    assert release_id is not None
    return release_id
