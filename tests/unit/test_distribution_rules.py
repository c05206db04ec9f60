"""Who journalists are sent what, and what each event sets off: the pure rules of
``workflow.distribution.rules`` and the registry of ``workflow.handlers``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from config.settings import Settings
from workflow import handlers
from workflow.distribution import rules
from workflow.distribution.rules import ByTopic, Received, Rule
from workflow.domain import events as ev

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=3)


def published(embargo: datetime | None = None) -> ev.ReleasePublished:
    return ev.ReleasePublished(
        occurred_at=NOW.isoformat(),
        actor_id=1,
        release_id=7,
        number="2026-0001",
        languages=["ko"],
        scheduled_for=None,
        embargo_until=embargo.isoformat() if embargo else None,
    )


def scheduled(*, embargo: bool, rescheduled: bool = False) -> ev.ReleaseScheduled:
    return ev.ReleaseScheduled(
        occurred_at=NOW.isoformat(),
        actor_id=1,
        release_id=7,
        publish_at=LATER.isoformat(),
        embargo_until=LATER.isoformat() if embargo else None,
        rescheduled=rescheduled,
    )


def test_a_publication_goes_to_the_topics_subscribers_now_and_not_again_to_the_embargoed() -> None:
    assert handlers.delivery_rules(published(), NOW) == [
        Rule("release", ByTopic(), NOW, unless_planned="embargo")
    ]


def test_under_embargo_the_public_hear_of_it_when_the_embargo_lifts() -> None:
    [rule] = handlers.delivery_rules(published(embargo=LATER), NOW)
    assert rule.not_before == LATER
    [past] = handlers.delivery_rules(published(embargo=NOW - timedelta(hours=1)), NOW)
    assert past.not_before == NOW, "an embargo already over holds nothing back"


def test_an_embargoed_schedule_sends_the_copy_to_trusted_subscribers_only() -> None:
    assert handlers.delivery_rules(scheduled(embargo=True), NOW) == [
        Rule("embargo", ByTopic(trusted_only=True), NOW)
    ]
    assert handlers.delivery_rules(scheduled(embargo=False), NOW) == []


def test_a_new_time_under_embargo_is_told_to_those_who_had_the_copy() -> None:
    event = scheduled(embargo=True, rescheduled=True)
    copy, notice = handlers.delivery_rules(event, NOW)
    assert copy.kind == "embargo"
    assert notice == Rule(f"notice:{event.event_id[:8]}", Received(("embargo",)), NOW)
    unscheduled = ev.ReleaseUnscheduled(
        occurred_at=NOW.isoformat(), actor_id=1, release_id=7, embargo_until=LATER.isoformat()
    )
    [postponed] = handlers.delivery_rules(unscheduled, NOW)
    assert postponed.audience == Received(("embargo",))
    assert rules.base_kind(postponed.kind) == rules.EMBARGO_NOTICE


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (
            ev.CorrectionPublished(
                occurred_at="", actor_id=1, release_id=7, number="n", note="x", languages=["ko"]
            ),
            "correction",
        ),
        (
            ev.ReleaseWithdrawn(
                occurred_at="", actor_id=1, release_id=7, reason="x", was_public=True
            ),
            "withdrawal",
        ),
    ],
)
def test_a_correction_or_withdrawal_reaches_everyone_who_was_sent_the_release(
    event: ev.Event, kind: str
) -> None:
    [rule] = handlers.delivery_rules(event, NOW)
    assert rule.kind == f"{kind}:{event.event_id[:8]}", "once per event, not per release"
    assert rule.audience == Received(("release", "embargo"))
    assert rule.not_before == NOW


def test_one_version_is_read_by_everyone_two_by_each_in_their_own_language() -> None:
    assert rules.shared_language(set(), "ko") == "ko", "before publication: the original"
    assert rules.shared_language({"ko"}, "ko") == "ko"
    assert rules.shared_language({"ko", "en"}, "ko") is None


def test_what_happens_on_a_withdrawal_is_read_in_one_place() -> None:
    reactions = handlers.REGISTRY[ev.ReleaseWithdrawn]
    assert reactions.deliveries == (rules.withdrawn,)
    assert reactions.notices == () and reactions.follow_ups == ()


def test_events_that_call_for_nothing_are_not_in_the_registry() -> None:
    created = ev.ReleaseCreated(occurred_at="", actor_id=1, release_id=7, language="ko")
    assert handlers.reactions(created) is handlers.NONE
    assert handlers.delivery_rules(created, NOW) == []


def test_a_publication_due_within_the_horizon_gets_a_timer_and_a_later_one_the_sweep() -> None:
    ctx = SimpleNamespace(
        settings=Settings(environment="test", eta_horizon_seconds=300),
        clock=SimpleNamespace(now=lambda: NOW),
    )
    event = scheduled(embargo=False)
    assert handlers.follow_ups(ctx, event) == [  # type: ignore[arg-type]
        handlers.FollowUp("newsroom.publish_due", eta=LATER)
    ]
    ctx.settings.eta_horizon_seconds = 60
    assert handlers.follow_ups(ctx, event) == []  # type: ignore[arg-type]
