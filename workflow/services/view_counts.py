"""How often each public release was read ("Hit" / 조회수), without a database write
per view.

A view is counted by a ``ViewCounter``, at most once per visitor and release within
``settings.view_dedupe_minutes``, and the counts are added to ``releases.view_count`` in
batches by ``flush``. The page shows the stored count plus what is not flushed yet.

* ``RedisViewCounter`` when the broker is Redis: every web process counts in the same
  Redis, so a visitor is counted once whichever process answers. Counting is one Lua
  script (``SET NX EX`` on the visitor's key, then ``HINCRBY`` on the pending hash), so
  two processes cannot both count one visit. Beat runs ``flush`` (``tasks/view_counts``).
* ``MemoryViewCounter`` otherwise (the embedded mode has a single web process): the
  same, in a dictionary under a lock; the web process flushes it itself, after a
  response, once ``settings.view_flush_seconds`` have passed. Views not yet flushed
  when that process stops are lost; at most that many seconds' worth.

A flush takes the pending counts away as a *batch* with an id (Redis: ``RENAME`` into the
batch's key, atomically), adds them in one transaction that also records the batch id,
then forgets the batch. A flusher that dies before its commit leaves the batch for the
next flush; one that dies after it leaves a batch whose id is already recorded, which
the next flush drops without adding it again. Counts are neither lost nor doubled.

Visitors are told apart by a keyed hash of their address and user agent, so neither is
stored, and a browser that refuses cookies is still counted once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Protocol, cast

import redis
from sqlalchemy import Table, delete, update

from config.settings import Settings
from workflow.db.tables import ReleaseRow, ViewCountBatchRow
from workflow.domain.errors import ConcurrentUpdate
from workflow.services.context import ServiceContext

log = logging.getLogger(__name__)

# Records of applied batches are kept this long: far longer than any flusher could take
# to retry a batch it left behind.
KEEP_BATCH_RECORDS: Final = timedelta(days=2)
# A batch taken this long ago and still there was left behind by a flusher that died.
ORPHAN_AFTER_SECONDS: Final = 60.0
_BOTS: Final = ("bot", "crawl", "spider", "slurp", "preview")


@dataclass(frozen=True, slots=True)
class Batch:
    id: str
    counts: dict[int, int]


class ViewCounter(Protocol):
    def record(self, release_id: int, visitor: str) -> bool:
        """Count one view of ``release_id`` by ``visitor``, unless that visitor was
        counted within the window; True if counted."""
        ...

    def record_many(self, visits: Iterable[tuple[int, str]]) -> int:
        """``record`` for each (release id, visitor), at once; how many were counted."""
        ...

    def pending(self, release_ids: Iterable[int]) -> dict[int, int]:
        """Views counted and not yet in the database, per release (absent: none)."""
        ...

    def take(self) -> list[Batch]:
        """The counts to add now, as batches: the pending counts (which start again
        from zero) and any batch a failed flush left behind."""
        ...

    def finished(self, batch: Batch) -> None:
        """Forget ``batch``: its counts are in the database."""
        ...


def visitor_key(secret_key: str, address: str, user_agent: str) -> str:
    """Who is viewing, as a keyed hash: the same person gives the same key, and neither
    their address nor their browser is stored."""
    message = f"views\n{address}\n{user_agent}".encode("utf-8", "surrogatepass")
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def is_robot(user_agent: str) -> bool:
    """Crawlers and link previews that say so are not readers."""
    agent = user_agent.lower()
    return any(word in agent for word in _BOTS)


def new_batch_id() -> str:
    return f"{time.time():.3f}-{uuid.uuid4().hex}"


class MemoryViewCounter:
    """Counts in this process's memory: for the embedded mode's single web process."""

    def __init__(
        self, window_seconds: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_seconds = window_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seen: dict[tuple[int, str], float] = {}
        self._counts: Counter[int] = Counter()
        self._taken: dict[str, Batch] = {}
        self._last_flush = monotonic()

    def claim_flush(self, every_seconds: float) -> bool:
        """True for one caller once ``every_seconds`` have passed since the last claim:
        that caller flushes."""
        now = self._monotonic()
        with self._lock:
            if now - self._last_flush < every_seconds:
                return False
            self._last_flush = now
            return True

    def record(self, release_id: int, visitor: str) -> bool:
        now = self._monotonic()
        key = (release_id, visitor)
        with self._lock:
            until = self._seen.get(key)
            if until is not None and until > now:
                return False
            self._seen[key] = now + self.window_seconds
            self._counts[release_id] += 1
            return True

    def record_many(self, visits: Iterable[tuple[int, str]]) -> int:
        return sum(self.record(release_id, visitor) for release_id, visitor in visits)

    def pending(self, release_ids: Iterable[int]) -> dict[int, int]:
        wanted = set(release_ids)
        result: Counter[int] = Counter()
        with self._lock:
            for release_id in wanted:
                result[release_id] += self._counts.get(release_id, 0)
            for batch in self._taken.values():
                for release_id in wanted & batch.counts.keys():
                    result[release_id] += batch.counts[release_id]
        return {k: v for k, v in result.items() if v}

    def take(self) -> list[Batch]:
        now = self._monotonic()
        with self._lock:
            if self._counts:
                batch = Batch(new_batch_id(), dict(self._counts))
                self._taken[batch.id] = batch
                self._counts.clear()
            # Forget visitors whose window has passed, so memory stays bounded.
            self._seen = {k: until for k, until in self._seen.items() if until > now}
            return list(self._taken.values())

    def finished(self, batch: Batch) -> None:
        with self._lock:
            self._taken.pop(batch.id, None)


# KEYS: the visitor's key, the pending hash. ARGV: window (s), release id.
_RECORD: Final = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  return 1
end
return 0
"""
# KEYS: the pending hash, the new batch's hash, the set of batches. ARGV: now, batch id.
_TAKE: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
  return 1
end
return 0
"""


class RedisViewCounter:
    """Counts in Redis, shared by every web process; beat flushes it."""

    def __init__(
        self, client: redis.Redis, window_seconds: float, prefix: str = "newsroom:views:"
    ) -> None:
        self.client = client
        self.window_seconds = max(1, round(window_seconds))
        self.prefix = prefix
        self._record = client.register_script(_RECORD)
        self._take = client.register_script(_TAKE)

    @property
    def _pending_key(self) -> str:
        return f"{self.prefix}pending"

    @property
    def _batches_key(self) -> str:
        return f"{self.prefix}batches"

    def _batch_key(self, batch_id: str) -> str:
        return f"{self.prefix}batch:{batch_id}"

    def record(self, release_id: int, visitor: str) -> bool:
        return self.record_many([(release_id, visitor)]) == 1

    def record_many(self, visits: Iterable[tuple[int, str]]) -> int:
        """In one round trip to Redis, however many they are."""
        visits = list(visits)
        if not visits:
            return 0
        try:
            pipe = self.client.pipeline(transaction=False)
            for release_id, visitor in visits:
                self._record(
                    keys=[f"{self.prefix}seen:{release_id}:{visitor}", self._pending_key],
                    args=[self.window_seconds, release_id],
                    client=pipe,
                )
            counted = pipe.execute()
        except redis.RedisError as error:
            # The page matters more than its count: show it, uncounted.
            log.warning("%d views not counted: %s", len(visits), error)
            return 0
        return sum(1 for found in counted if found)

    def pending(self, release_ids: Iterable[int]) -> dict[int, int]:
        ids = sorted(set(release_ids))
        if not ids:
            return {}
        try:
            keys = [self._pending_key] + [self._batch_key(str(b)) for b in self._members()]
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(key, [str(i) for i in ids])
            found = pipe.execute()
        except redis.RedisError as error:
            log.warning("views not yet flushed are not shown: %s", error)
            return {}
        result: Counter[int] = Counter()
        for values in found:
            for release_id, value in zip(ids, values, strict=True):
                if value is not None:
                    result[release_id] += int(value)
        return {k: v for k, v in result.items() if v}

    def take(self) -> list[Batch]:
        now = time.time()
        batch_id = new_batch_id()
        self._take(
            keys=[self._pending_key, self._batch_key(batch_id), self._batches_key],
            args=[now, batch_id],
        )
        # Ours, and those another flusher took long ago and never finished. Two flushers
        # may take the same orphan: the database's record of the batch id lets one add it.
        batches = []
        scored = cast(
            "list[tuple[str, float]]",
            self.client.zrange(self._batches_key, 0, -1, withscores=True),
        )
        for found, taken_at in scored:
            if found != batch_id and taken_at > now - ORPHAN_AFTER_SECONDS:
                continue
            counts = cast("dict[str, str]", self.client.hgetall(self._batch_key(found)))
            batches.append(Batch(found, {int(k): int(v) for k, v in counts.items()}))
        return batches

    def _members(self) -> list[str]:
        return cast("list[str]", self.client.zrange(self._batches_key, 0, -1))

    def finished(self, batch: Batch) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self._batch_key(batch.id))
        pipe.zrem(self._batches_key, batch.id)
        pipe.execute()


def uses_redis(settings: Settings) -> bool:
    return settings.broker_url.startswith(("redis://", "rediss://"))


def counter_for(settings: Settings) -> ViewCounter:
    """The counter the settings call for: Redis when the broker is Redis, else memory."""
    if uses_redis(settings):
        client = redis.Redis.from_url(settings.broker_url, socket_timeout=2, decode_responses=True)
        return RedisViewCounter(client, settings.view_dedupe_minutes * 60)
    return MemoryViewCounter(settings.view_dedupe_minutes * 60)


def flush(ctx: ServiceContext, counter: ViewCounter) -> int:
    """Add the counted views to ``releases.view_count``, each batch in one transaction
    that records its id (so a batch is never added twice); returns the views added."""
    added = 0
    for batch in counter.take():
        if _apply(ctx, batch):
            added += sum(batch.counts.values())
        counter.finished(batch)
    if added:
        log.info("added %d page views to the database", added)
    return added


def _apply(ctx: ServiceContext, batch: Batch) -> bool:
    """Add one batch; False if it had been added already."""
    now = ctx.clock.now()
    releases = cast(Table, ReleaseRow.__table__)
    try:
        with ctx.uow() as uow:
            session = uow.session
            if session.get(ViewCountBatchRow, batch.id) is not None:
                return False
            # The batch's record first: a second flusher of the same batch stops here.
            session.add(ViewCountBatchRow(batch=batch.id, flushed_at=now))
            uow.flush()
            # In id order, so that two flushes never wait for each other crosswise.
            for release_id, views in sorted(batch.counts.items()):
                session.execute(
                    update(releases)
                    .where(releases.c.id == release_id)
                    .values(view_count=releases.c.view_count + views)
                )
            session.execute(
                delete(ViewCountBatchRow).where(
                    ViewCountBatchRow.flushed_at < now - KEEP_BATCH_RECORDS
                )
            )
            uow.commit()
    except ConcurrentUpdate:
        if _recorded(ctx, batch.id):
            return False  # another flusher added it
        raise  # a deadlock or the like: the batch stays for the next flush
    return True


def _recorded(ctx: ServiceContext, batch_id: str) -> bool:
    with ctx.uow() as uow:
        return uow.session.get(ViewCountBatchRow, batch_id) is not None
