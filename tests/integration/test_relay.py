"""The relay and the consumer in-process, with the task functions run as a worker runs
them: events go a few to a message, in commit order; a message's events are handled
each on its own, so that a retry repeats only what was left and a failure holds back
no other event. (``test_backbone.py`` runs them in real worker processes.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import tasks.events
import tasks.relay
from config.settings import Settings
from tasks.configuration import create_app
from tasks.runtime import Hints, wake_relay
from tests.conftest import Staff
from workflow import outbox
from workflow.db.tables import OutboxRow
from workflow.services import releases as svc
from workflow.services.context import ServiceContext


class NoHints:
    """The hints' broker is not under test here."""

    def once(self, task_name: str, **options: Any) -> None:
        pass

    def running(self, task_name: str) -> None:
        pass


@pytest.fixture
def worker_ctx(ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch) -> ServiceContext:
    """The tasks' context is the test's."""
    for module in (tasks.relay, tasks.events):
        monkeypatch.setattr(module, "context", lambda: ctx)
        monkeypatch.setattr(module, "hints", NoHints)
    monkeypatch.setattr(tasks.events, "hint", lambda *_, **__: None)
    return ctx


def some_events(ctx: ServiceContext, staff: Staff, releases: int) -> list[str]:
    """A created and a submitted event for each of ``releases`` drafts; their ids, in
    commit order."""
    for n in range(releases):
        release_id = svc.create_release(
            ctx,
            staff.author,
            language="en",
            title=f"Release {n}",
            body="1. A paragraph.",
            topics=[staff.health],
        ).release_id
        svc.submit_release(ctx, staff.author, release_id)
    with ctx.uow() as uow:
        return [e.event.event_id for e in outbox.pending(uow.session, ctx.clock.now(), limit=100)]


def unhandled_ids(ctx: ServiceContext) -> set[str]:
    with ctx.uow() as uow:
        query = select(OutboxRow.event_id).where(OutboxRow.handled_at.is_(None))
        return set(uow.session.scalars(query))


def payloads(ctx: ServiceContext) -> list[dict[str, Any]]:
    with ctx.uow() as uow:
        return [e.event.to_json() for e in outbox.pending(uow.session, ctx.clock.now())]


def test_the_relay_sends_the_events_in_order_a_few_to_a_message(
    worker_ctx: ServiceContext, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = some_events(worker_ctx, staff, 4)
    sent: list[tuple[str, list[Any]]] = []

    class Broker:
        def send_task(self, name: str, args: list[Any], **_: Any) -> None:
            sent.append((name, args))

    monkeypatch.setattr(tasks.relay, "celery_app", Broker)
    monkeypatch.setattr(tasks.relay, "EVENTS_A_MESSAGE", 3)

    assert tasks.relay.relay_outbox() == 8

    assert {name for name, _ in sent} == {"newsroom.handle_events"}
    assert [len(args[0]) for _, args in sent] == [3, 3, 2]
    assert [p["event_id"] for _, args in sent for p in args[0]] == ids
    assert tasks.relay.relay_outbox() == 0, "each was relayed once"


def test_a_retry_of_a_message_handles_only_what_was_left(
    worker_ctx: ServiceContext, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = some_events(worker_ctx, staff, 2)
    handled: list[str] = []
    real = tasks.events.handle

    def once_down(payload: dict[str, Any]) -> None:
        handled.append(payload["event_id"])
        if payload["event_id"] == ids[2] and handled.count(ids[2]) == 1:
            raise OperationalError("UPDATE outbox", {}, Exception("the database restarts"))
        real(payload)

    monkeypatch.setattr(tasks.events, "handle", once_down)
    result = tasks.events.handle_events.apply(args=[payloads(worker_ctx)])

    assert result.successful(), result.traceback
    assert handled == [ids[0], ids[1], ids[2], ids[2], ids[3]]
    assert unhandled_ids(worker_ctx) == set()


def test_an_event_that_fails_for_good_holds_back_no_other(
    worker_ctx: ServiceContext, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = some_events(worker_ctx, staff, 2)
    real = tasks.events.handle

    def broken(payload: dict[str, Any]) -> None:
        if payload["event_id"] == ids[1]:
            raise ValueError("a bug in a consumer")
        real(payload)

    monkeypatch.setattr(tasks.events, "handle", broken)
    result = tasks.events.handle_events.apply(args=[payloads(worker_ctx)])

    assert result.successful(), result.traceback
    assert unhandled_ids(worker_ctx) == {ids[1]}, "left for the sweep to relay again"


def relay_messages(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((folder / "queue").iterdir())]


@pytest.mark.parametrize(("gather", "eta"), [(0.2, True), (0.0, False)])
def test_a_hinted_relay_waits_the_gathering_time_the_settings_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gather: float, eta: bool
) -> None:
    settings = Settings(broker_url="", var_dir=tmp_path, relay_gather_seconds=gather)
    hints = Hints(create_app(settings))
    patch: Callable[..., None] = monkeypatch.setattr
    patch("tasks.runtime.get_settings", lambda: settings)
    patch("tasks.runtime.hints", lambda: hints)

    wake_relay()

    (message,) = relay_messages(tmp_path / "broker")
    assert message["headers"]["task"] == "newsroom.relay_outbox"
    assert (message["headers"]["eta"] is not None) is eta
