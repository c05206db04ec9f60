"""The "Hit" count on the public pages: one per visitor and window, shown at once,
written to the database only in batches."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import event, select

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.published import past_the_kept_counts, past_the_public_cache, publish
from workflow.api import create_app
from workflow.clock import FrozenClock
from workflow.db.tables import ReleaseRow
from workflow.services import releases as svc
from workflow.services import view_counts
from workflow.services.context import ServiceContext

BROKER_URL = os.environ.get("NEWSROOM_TEST_BROKER_URL", "")
BODY = "1. 본문입니다.\n"


def hits(client: TestClient, url: str, agent: str = "Mozilla/5.0 reader") -> int:
    page = client.get(url, headers={"User-Agent": agent})
    assert page.status_code == 200, page.text[:300]
    match = re.search(r'<dd class="views">(\d+)</dd>', page.text)
    assert match is not None
    return int(match.group(1))


def stored(ctx: ServiceContext, number: str) -> int:
    with ctx.uow() as uow:
        count = uow.session.scalar(select(ReleaseRow.view_count).where(ReleaseRow.number == number))
    assert count is not None
    return count


@pytest.fixture
def release_updates(ctx: ServiceContext) -> Iterator[list[str]]:
    """Every UPDATE of the releases table sent to the database."""
    seen: list[str] = []

    def listen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE RELEASES"):
            seen.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", listen)
    yield seen
    event.remove(ctx.engine, "before_cursor_execute", listen)


def test_views_are_counted_shown_and_written_in_one_batch(
    client: TestClient,
    ctx: ServiceContext,
    staff: Staff,
    clock: FrozenClock,
    release_updates: list[str],
) -> None:
    number = publish(ctx, staff, clock, ko=("조회수 시험", BODY))
    release_updates.clear()  # publishing's own
    url = f"/releases/{number}"

    def shown(url: str, agent: str = "Mozilla/5.0 reader") -> int:
        """The count a reader sees once the page's kept copy, if any, has expired."""
        past_the_kept_counts(ctx, clock)
        return hits(client, url, agent)

    assert shown(url) == 1
    assert shown(url) == 1, "the same visitor again, within the window"
    assert shown(url, "Mozilla/5.0 another reader") == 2
    for n in range(10):  # the first renders the page, the others get its kept copy
        hits(client, url, f"Mozilla/5.0 reader {n}")
    assert shown(url, "Googlebot/2.1 (+http://www.google.com/bot.html)") == 12
    assert shown("/?lang=ko") == 12, "the list shows them too"
    assert release_updates == [] and stored(ctx, number) == 0, "no write per view"

    ctx.settings.view_flush_seconds = 0.001
    time.sleep(0.01)
    assert shown(url, "Mozilla/5.0 one more") == 13
    # The web process flushed after that response (the embedded mode's own flush).
    assert stored(ctx, number) == 13
    assert len(release_updates) == 1, "one UPDATE for the batch"
    assert shown(url) == 13, "stored plus pending, not both"


def test_a_withdrawn_release_counts_no_views(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("철회 예정", BODY))
    assert hits(client, f"/releases/{number}") == 1
    with ctx.uow() as uow:
        release_id = uow.session.scalar(select(ReleaseRow.id).where(ReleaseRow.number == number))
    assert release_id is not None
    svc.withdraw_release(ctx, staff.approver, release_id, "오류")
    past_the_public_cache(ctx, clock)
    page = client.get(f"/releases/{number}", headers={"User-Agent": "someone else"})
    assert page.status_code == 200 and 'class="views"' not in page.text
    counter = client.app.state.view_counter  # type: ignore[attr-defined]
    assert counter.pending([release_id]) == {release_id: 1}


@pytest.fixture
def shared_redis() -> Iterator[str]:
    if not BROKER_URL.startswith("redis"):
        pytest.skip("needs Redis: set NEWSROOM_TEST_BROKER_URL")
    import redis

    prefix = f"newsroom-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(BROKER_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_two_web_processes_on_one_redis_count_a_visitor_once(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, shared_redis: str
) -> None:
    import redis

    number = publish(ctx, staff, clock, ko=("두 프로세스", BODY))
    apps = []
    for _ in range(2):
        app = create_app(ctx)
        app.state.view_counter = view_counts.RedisViewCounter(
            redis.Redis.from_url(BROKER_URL, decode_responses=True), 1800, prefix=shared_redis
        )
        apps.append(app)
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        url = f"/releases/{number}"
        assert hits(first, url) == 1
        assert hits(second, url) == 1, "the other process knows this visitor"
        past_the_kept_counts(ctx, clock)  # each process's kept page shows the count then
        assert hits(second, url, "another browser") == 2
        assert hits(first, "/") == 2
        # Redis mode: the web processes never flush; beat's task does.
        assert stored(ctx, number) == 0
        assert view_counts.flush(ctx, apps[0].state.view_counter) == 2
        assert stored(ctx, number) == 2
        past_the_kept_counts(ctx, clock)
        assert hits(second, url) == 2, "stored plus pending, not both"
