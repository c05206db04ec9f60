"""View counts: one per visitor and window, no database write per view, batches added
once even when flushers die or run at the same time. The Redis tests need
NEWSROOM_TEST_BROKER_URL (a Redis database) and use real threads and connections."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.conftest import Staff
from workflow.db.tables import ReleaseRow, ViewCountBatchRow
from workflow.services import releases as svc
from workflow.services import view_counts
from workflow.services.context import ServiceContext
from workflow.services.view_counts import MemoryViewCounter, RedisViewCounter

BROKER_URL = os.environ.get("NEWSROOM_TEST_BROKER_URL", "")
needs_redis = pytest.mark.skipif(
    not BROKER_URL.startswith("redis"), reason="needs Redis: set NEWSROOM_TEST_BROKER_URL"
)


class Ticker:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def published(ctx: ServiceContext, staff: Staff, n: int) -> list[int]:
    ids = []
    for i in range(n):
        release_id = svc.create_release(
            ctx,
            staff.author,
            language="ko",
            title=f"제목 {i}",
            body="1. 본문",
            topics=[staff.health],
        ).release_id
        svc.submit_release(ctx, staff.author, release_id)
        svc.approve_release(ctx, staff.approver, release_id)
        svc.publish_release(ctx, staff.author, release_id)
        ids.append(release_id)
    return ids


def stored(ctx: ServiceContext) -> dict[int, int]:
    with ctx.uow() as uow:
        return {
            row.id: row.view_count
            for row in uow.session.execute(select(ReleaseRow.id, ReleaseRow.view_count))
        }


def test_a_visitor_counts_once_per_window(ctx: ServiceContext, staff: Staff) -> None:
    ticker = Ticker()
    counter = MemoryViewCounter(window_seconds=1800, monotonic=ticker)
    assert counter.record(1, "alice") is True
    assert counter.record(1, "alice") is False
    assert counter.record(2, "alice") is True, "another release"
    assert counter.record(1, "bob") is True, "another visitor"
    ticker.now += 1799
    assert counter.record(1, "alice") is False
    ticker.now += 2
    assert counter.record(1, "alice") is True, "the window has passed"
    assert counter.pending([1, 2, 3]) == {1: 3, 2: 1}


def test_counts_reach_the_database_only_when_flushed(ctx: ServiceContext, staff: Staff) -> None:
    first, second = published(ctx, staff, 2)
    counter = MemoryViewCounter(window_seconds=1800)
    for visitor in range(30):
        counter.record(first, f"v{visitor}")
    counter.record(second, "v0")
    assert stored(ctx) == {first: 0, second: 0}
    assert view_counts.flush(ctx, counter) == 31
    assert stored(ctx) == {first: 30, second: 1}
    assert counter.pending([first, second]) == {}
    assert view_counts.flush(ctx, counter) == 0, "nothing twice"
    counter.record(first, "v0")  # still within v0's window
    counter.record(first, "new")
    view_counts.flush(ctx, counter)
    assert stored(ctx) == {first: 31, second: 1}


def test_a_flush_leaves_the_edit_lock_alone(ctx: ServiceContext, staff: Staff) -> None:
    """The flush's plain UPDATE leaves ``row_version`` alone: staff who loaded the
    release before it still save."""
    (release_id,) = published(ctx, staff, 1)
    with ctx.uow() as uow:
        version = uow.session.scalar(
            select(ReleaseRow.row_version).where(ReleaseRow.id == release_id)
        )
    counter = MemoryViewCounter(window_seconds=60)
    counter.record(release_id, "x")
    view_counts.flush(ctx, counter)
    with ctx.uow() as uow:
        row = uow.session.get(ReleaseRow, release_id)
        assert row is not None and row.row_version == version and row.view_count == 1
    svc.withdraw_release(ctx, staff.approver, release_id, "test")
    assert stored(ctx)[release_id] == 1


def test_a_failed_flush_keeps_its_batch_and_adds_it_once_later(
    ctx: ServiceContext, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    (release_id,) = published(ctx, staff, 1)
    counter = MemoryViewCounter(window_seconds=60)
    counter.record(release_id, "a")

    def broken(*_: object) -> bool:
        raise RuntimeError("database down")

    monkeypatch.setattr(view_counts, "_apply", broken)
    with pytest.raises(RuntimeError):
        view_counts.flush(ctx, counter)
    monkeypatch.undo()
    assert counter.pending([release_id]) == {release_id: 1}, "still shown"
    counter.record(release_id, "b")
    assert view_counts.flush(ctx, counter) == 2
    assert stored(ctx)[release_id] == 2


def test_a_batch_added_but_not_forgotten_is_not_added_again(
    ctx: ServiceContext, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flusher that dies between its commit and forgetting the batch."""
    (release_id,) = published(ctx, staff, 1)
    counter = MemoryViewCounter(window_seconds=60)
    counter.record(release_id, "a")
    monkeypatch.setattr(counter, "finished", lambda batch: None)
    assert view_counts.flush(ctx, counter) == 1
    monkeypatch.undo()
    assert view_counts.flush(ctx, counter) == 0, "the same batch again: recorded, skipped"
    assert stored(ctx)[release_id] == 1
    with ctx.uow() as uow:
        assert len(list(uow.session.scalars(select(ViewCountBatchRow.batch)))) == 1


# --- Redis: several web processes --------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
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


def redis_counter(prefix: str) -> RedisViewCounter:
    """A counter with a connection pool of its own, as a separate web process has."""
    import redis

    client = redis.Redis.from_url(BROKER_URL, decode_responses=True)
    return RedisViewCounter(client, window_seconds=1800, prefix=prefix)


@needs_redis
def test_web_processes_sharing_redis_count_each_visitor_once(
    ctx: ServiceContext, staff: Staff, redis_prefix: str
) -> None:
    release_ids = published(ctx, staff, 3)
    processes = [redis_counter(redis_prefix) for _ in range(4)]
    visitors = [f"visitor-{i}" for i in range(40)]
    start = threading.Barrier(8)
    counted: list[int] = []
    lock = threading.Lock()

    def web_thread(index: int) -> None:
        counter = processes[index % len(processes)]
        start.wait()
        mine = 0
        # Every thread sends every visitor to every release: all but one are repeats.
        for visitor in visitors:
            for release_id in release_ids:
                mine += counter.record(release_id, visitor)
        with lock:
            counted.append(mine)

    threads = [threading.Thread(target=web_thread, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counted) == len(visitors) * len(release_ids)
    expected = dict.fromkeys(release_ids, len(visitors))
    assert processes[0].pending(release_ids) == expected
    assert view_counts.flush(ctx, processes[1]) == len(visitors) * len(release_ids)
    assert {k: v for k, v in stored(ctx).items() if k in release_ids} == expected
    assert processes[2].pending(release_ids) == {}


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_a_batch_of_views_counts_each_visitor_once_as_single_views_do(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """``record_many`` is how the public page cache hands over the views of the pages it
    replayed, many at a time: the same count as one ``record`` each."""
    if kind == "redis":
        counter: view_counts.ViewCounter = redis_counter(request.getfixturevalue("redis_prefix"))
    else:
        counter = MemoryViewCounter(window_seconds=1800)
    assert counter.record_many([]) == 0
    batch = [(1, "alice"), (1, "alice"), (2, "alice"), (1, "bob"), (1, "alice")]
    assert counter.record_many(batch) == 3, "alice twice on release 1 counts once"
    assert counter.record_many([(1, "bob"), (1, "carol")]) == 1, "bob was counted before"
    assert counter.record(1, "carol") is False
    assert counter.pending([1, 2]) == {1: 3, 2: 1}


@needs_redis
def test_flushers_running_at_once_while_views_arrive_add_every_view_once(
    ctx: ServiceContext, staff: Staff, redis_prefix: str
) -> None:
    release_ids = published(ctx, staff, 2)
    web = [redis_counter(redis_prefix) for _ in range(3)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def viewer(index: int) -> None:
        for n in range(150):
            web[index].record(release_ids[n % 2], f"p{index}-{n}")

    def flusher() -> None:
        counter = redis_counter(redis_prefix)
        try:
            while not stop.is_set():
                view_counts.flush(ctx, counter)
        except BaseException as error:  # reported below
            errors.append(error)

    flushers = [threading.Thread(target=flusher) for _ in range(2)]
    viewers = [threading.Thread(target=viewer, args=(i,)) for i in range(3)]
    for thread in flushers + viewers:
        thread.start()
    for thread in viewers:
        thread.join()
    stop.set()
    for thread in flushers:
        thread.join()
    assert errors == []
    view_counts.flush(ctx, redis_counter(redis_prefix))
    totals = stored(ctx)
    assert totals[release_ids[0]] + totals[release_ids[1]] == 3 * 150
    assert totals[release_ids[0]] == totals[release_ids[1]] == 3 * 75


@needs_redis
def test_a_batch_left_by_a_dead_flusher_is_added_once(
    ctx: ServiceContext, staff: Staff, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (release_id,) = published(ctx, staff, 1)
    counter = redis_counter(redis_prefix)
    counter.record(release_id, "a")
    counter.take()  # a flusher took the batch and died before its commit
    counter.record(release_id, "b")
    assert counter.pending([release_id]) == {release_id: 2}, "both are still shown"
    assert view_counts.flush(ctx, counter) == 1, "the orphan is not old enough yet"
    monkeypatch.setattr(view_counts, "ORPHAN_AFTER_SECONDS", 0.0)
    # A second flusher dies after its commit, before forgetting the batch.
    monkeypatch.setattr(counter, "finished", lambda batch: None)
    assert view_counts.flush(ctx, counter) == 1
    monkeypatch.undo()
    monkeypatch.setattr(view_counts, "ORPHAN_AFTER_SECONDS", 0.0)
    assert view_counts.flush(ctx, counter) == 0, "recorded already: dropped, not added"
    assert stored(ctx)[release_id] == 2
    assert counter.pending([release_id]) == {}


def test_redis_out_of_reach_shows_the_page_uncounted() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    counter = RedisViewCounter(client, window_seconds=60, prefix="nowhere:")
    assert counter.record(1, "a") is False
    assert counter.pending([1]) == {}
