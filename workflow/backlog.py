"""How far behind the service is, read when asked: by Prometheus (``/metrics``) and by
``/readyz``.

Two indexed statements (the outbox's unhandled rows by ``handled_at``; the first row of
the deliveries' due index) and, with Redis, one round trip of ``LLEN``s; kept for
``KEEP_SECONDS`` by each web process, so that scrapes and probes cost the database
little however often they come.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import func, select

from workflow.db.tables import DeliveryRow, DigestRow, OutboxRow
from workflow.services.context import ServiceContext

if TYPE_CHECKING:
    import redis
    from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)

KEEP_SECONDS: Final = 5.0
# The states of a delivery not yet settled (the due index's own condition).
UNSETTLED: Final = ("pending", "deferred", "sending")
# kombu's Redis transport keeps a queue's messages in one list per priority step.
_PRIORITY_STEPS: Final = (0, 3, 6, 9)
_PRIORITY_SEPARATOR: Final = "\x06\x16"


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits, at ``read_at``."""

    read_at: datetime
    # Events committed and not yet handled by the consumer, and the oldest one's age.
    unhandled_events: int
    oldest_unhandled_seconds: float
    # How long the delivery (or daily digest) longest due has been waiting past its time
    # (0: none is due).
    oldest_due_delivery_seconds: float
    # Messages waiting in each Celery queue; None when the broker could not be read.
    queues: dict[str, int] | None


def read(ctx: ServiceContext, queues: Sequence[str], broker: QueueLengths | None) -> Backlog:
    """The backlog now (see ``Backlog``)."""
    now = ctx.clock.now()
    with ctx.engine.connect() as connection:
        unhandled, oldest_event = connection.execute(
            select(func.count(), func.min(OutboxRow.created_at)).where(
                OutboxRow.handled_at.is_(None)
            )
        ).one()
        oldest = [
            connection.scalar(select(func.min(row.next_attempt_at)).where(row.state.in_(UNSETTLED)))
            for row in (DeliveryRow, DigestRow)
        ]
        due = min((moment for moment in oldest if moment is not None), default=None)
    return Backlog(
        read_at=now,
        unhandled_events=int(unhandled),
        oldest_unhandled_seconds=_since(oldest_event, now),
        oldest_due_delivery_seconds=_since(due, now),
        queues=None if broker is None else broker.lengths(queues),
    )


def _since(moment: datetime | None, now: datetime) -> float:
    return 0.0 if moment is None else max(0.0, (now - moment).total_seconds())


class QueueLengths:
    """The messages waiting in Celery's queues, at the broker ``url``: Redis lists, or
    the embedded broker's files (``tasks.embedded_broker``)."""

    def __init__(self, url: str, embedded_folder: Path) -> None:
        self.url = url
        self.folder = embedded_folder
        self._redis: redis.Redis | None = None
        if url.startswith(("redis://", "rediss://")):
            import redis

            self._redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    def lengths(self, queues: Sequence[str]) -> dict[str, int] | None:
        """Each queue's length; None if the broker cannot be read now."""
        try:
            if self._redis is not None:
                return self._redis_lengths(self._redis, queues)
            if not self.url:
                return self._file_counts(queues)
        except Exception as error:  # the broker being down is for /readyz to say
            log.warning("queue lengths not read: %s", error)
        return None

    @staticmethod
    def _redis_lengths(client: redis.Redis, queues: Sequence[str]) -> dict[str, int]:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            for step in _PRIORITY_STEPS:
                pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{step}" if step else queue)
        sizes = pipe.execute()
        steps = len(_PRIORITY_STEPS)
        return {
            queue: sum(int(size) for size in sizes[n * steps : (n + 1) * steps])
            for n, queue in enumerate(queues)
        }

    def _file_counts(self, queues: Sequence[str]) -> dict[str, int]:
        counts = dict.fromkeys(queues, 0)
        if not self.folder.is_dir():
            return counts
        with os.scandir(self.folder) as entries:
            for entry in entries:
                # <time>_<uuid>.<queue>.msg; a message being written starts with a dot.
                name = entry.name
                if name.endswith(".msg") and not name.startswith("."):
                    queue = name[:-4].rpartition(".")[2]
                    if queue in counts:
                        counts[queue] += 1
        return counts


class BacklogReader:
    """``read`` kept for ``keep_seconds``: one reader at a time reads, the others wait for
    its answer. A failure is raised to every caller, and read again on the next ask."""

    def __init__(
        self,
        ctx: ServiceContext,
        queues: Sequence[str],
        *,
        keep_seconds: float = KEEP_SECONDS,
    ) -> None:
        self.ctx = ctx
        self.queues = tuple(queues)
        self.keep_seconds = keep_seconds
        settings = ctx.settings
        self.broker = QueueLengths(settings.broker_url, settings.var_dir / "broker" / "queue")
        self._lock = threading.Lock()
        self._kept: tuple[float, Backlog] | None = None

    def __call__(self) -> Backlog:
        with self._lock:
            now = time.monotonic()
            if self._kept is not None and now - self._kept[0] < self.keep_seconds:
                return self._kept[1]
            backlog = read(self.ctx, self.queues, self.broker)
            self._kept = (now, backlog)
            return backlog

    def checks(self) -> dict[str, str]:
        """``/readyz``'s ``outbox`` and ``deliveries`` checks: ``ok``, ``skipped`` (no
        limit set), or what waited longer than ``NEWSROOM_READY_*_MAX_AGE_SECONDS``, as
        GOV.UK's email-alert-api reports mail not sent in time."""
        settings = self.ctx.settings
        limits = {
            "outbox": settings.ready_outbox_max_age_seconds,
            "deliveries": settings.ready_delivery_max_age_seconds,
        }
        if not any(limits.values()):
            return dict.fromkeys(limits, "skipped")
        try:
            backlog = self()
        except Exception as error:  # any failure means "not ready"
            failed = f"error: {type(error).__name__}"
            return {name: failed if limit else "skipped" for name, limit in limits.items()}
        waited = {
            "outbox": (backlog.oldest_unhandled_seconds, "the oldest unhandled event"),
            "deliveries": (backlog.oldest_due_delivery_seconds, "a delivery past its time"),
        }
        result = {}
        for name, limit in limits.items():
            age, what = waited[name]
            if not limit:
                result[name] = "skipped"
            elif age > limit:
                result[name] = f"behind: {what} has waited {age:.0f} s (limit {limit:.0f} s)"
            else:
                result[name] = "ok"
        return result

    def collect(self) -> Iterator[Metric]:
        """The backlog as Prometheus gauges (a collector for ``workflow.metrics``); none
        when the database cannot be read, which ``/readyz`` reports."""
        from prometheus_client.core import GaugeMetricFamily

        try:
            backlog = self()
        except Exception as error:
            log.warning("backlog not read for the metrics: %s", error)
            return
        yield GaugeMetricFamily(
            "newsroom_outbox_backlog",
            "Events committed and not yet handled by the consumer.",
            value=backlog.unhandled_events,
        )
        yield GaugeMetricFamily(
            "newsroom_outbox_oldest_unhandled_seconds",
            "Age of the oldest event not yet handled (0: none).",
            value=backlog.oldest_unhandled_seconds,
        )
        yield GaugeMetricFamily(
            "newsroom_delivery_oldest_due_seconds",
            "How long the delivery longest due has waited past its time (0: none is due).",
            value=backlog.oldest_due_delivery_seconds,
        )
        if backlog.queues is not None:
            family = GaugeMetricFamily(
                "newsroom_celery_queue_length",
                "Messages waiting in each Celery queue (ETA tasks a worker holds excluded).",
                labels=["queue"],
            )
            for queue, length in backlog.queues.items():
                family.add_metric([queue], length)
            yield family
