"""Hints: a burst of commits asks for one run of a task, not one each, and still no
commit is left for the sweep. With Redis (NEWSROOM_TEST_BROKER_URL) for the waiting
flag; with the embedded broker every hint is a message."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery

from config.settings import Settings
from tasks.configuration import create_app
from tasks.runtime import Hints
from tests.conftest import Staff
from tests.integration.conftest import BROKER_URL
from tests.integration.test_backbone import (
    approved,
    cluster_settings,
    sent_notifications,
    unhandled,
)
from tests.processes import Cluster, wait_for
from workflow.mail.catcher import CatchingHandler
from workflow.services.context import ServiceContext

RELAY = "newsroom.relay_outbox"
needs_redis = pytest.mark.skipif(not BROKER_URL, reason="needs Redis: set NEWSROOM_TEST_BROKER_URL")


def redis_app() -> Celery:
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()
    return create_app(Settings(broker_url=BROKER_URL))


def waiting_messages(queue: str) -> int:
    import redis

    return int(redis.Redis.from_url(BROKER_URL).llen(queue))


@needs_redis
def test_a_burst_of_hints_asks_for_one_run_until_that_run_starts() -> None:
    hints = Hints(redis_app())
    for _ in range(3):
        hints.once(RELAY)
    assert waiting_messages("relay") == 1
    hints.running(RELAY)  # what the relay does first, before it reads the outbox
    hints.once(RELAY)
    hints.once(RELAY)
    assert waiting_messages("relay") == 2


@needs_redis
def test_a_hint_the_broker_refused_does_not_hold_back_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = redis_app()
    hints = Hints(app)

    def refused(*_: object, **__: object) -> None:
        raise ConnectionError("the broker went away")

    with monkeypatch.context() as patched:
        patched.setattr(app, "send_task", refused)
        hints.once(RELAY)
    assert waiting_messages("relay") == 0
    hints.once(RELAY)
    assert waiting_messages("relay") == 1, "nothing was waiting, so this hint is sent"


def test_with_the_embedded_broker_every_hint_is_a_message(tmp_path: Path) -> None:
    hints = Hints(create_app(Settings(broker_url="", var_dir=tmp_path)))
    for _ in range(3):
        hints.once(RELAY)
    assert len(list((tmp_path / "broker" / "queue").iterdir())) == 3


def test_commits_in_a_burst_all_reach_the_worker_without_beat(
    database_url: str,
    staff: Staff,
    cluster: Cluster,
    cluster_env: dict[str, str],
    smtp: tuple[CatchingHandler, int],
) -> None:
    """Twelve releases reviewed as fast as they can be, the relay woken only by the
    commits' hints (no beat sweeps): every event is handled, every notice sent."""
    cluster.worker()
    settings = cluster_settings(database_url, cluster_env)
    hints = Hints(create_app(settings))
    live = ServiceContext.from_settings(settings)
    live.outbox_hint = lambda: hints.once(RELAY)
    try:
        for i in range(12):
            approved(live, staff, f"연속 검토 {i}")
        wait_for(lambda: unhandled(live) == 0, 30, "every event handled")
        # Two sending runs may share the notices out, each in its own order: wait for
        # all of both kinds, not for one kind and then count the other.
        wait_for(
            lambda: (
                (
                    len(sent_notifications(live, "release_approved")),
                    len(sent_notifications(live, "review_requested")),
                )
                == (12, 12 * 3)
            ),
            30,
            "the author's twelve approval notices and the approvers' review requests",
        )
    finally:
        live.engine.dispose()
