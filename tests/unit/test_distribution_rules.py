"""Who journalists are told what: the pure table of ``workflow.distribution.rules``, the
registry of ``workflow.handlers``, and a model of the lifecycle driven at random."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from config.settings import Settings
from workflow import handlers
from workflow.distribution import rules
from workflow.distribution.rules import Holding, Message, Recipient
from workflow.domain import events as ev

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=3)
KO = rules.Release(primary="ko", live=frozenset({"ko"}), text_key="ko1")


def at(**fields: object) -> dict[str, object]:
    return {"occurred_at": NOW.isoformat(), "actor_id": 1, "release_id": 7, **fields}


def scheduled(*, embargo: datetime | None, rescheduled: bool = False) -> ev.ReleaseScheduled:
    return ev.ReleaseScheduled(
        **at(
            publish_at=LATER.isoformat(),
            embargo_until=embargo.isoformat() if embargo else None,
            rescheduled=rescheduled,
        )  # type: ignore[arg-type]
    )


def published(embargo: datetime | None = None) -> ev.ReleasePublished:
    return ev.ReleasePublished(
        **at(
            number="2026-0001",
            languages=["ko"],
            scheduled_for=None,
            embargo_until=embargo.isoformat() if embargo else None,
        )  # type: ignore[arg-type]
    )


def tell(event: ev.Event, release: rules.Release, who: Recipient) -> Message | None:
    [rule] = handlers.reactions(event).deliveries
    return rules.answer(rule, event, release, who, NOW)


TRUSTED = Recipient("ko", trusted=True, follows=True)
READER = Recipient("ko", trusted=False, follows=True)


def holding(**facts: object) -> Recipient:
    return Recipient("ko", trusted=True, follows=True, holding=Holding(**facts))  # type: ignore[arg-type]


def test_an_embargoed_schedule_sends_the_copy_to_trusted_followers_only() -> None:
    release = rules.Release("ko", frozenset({"ko"}), "ko1", embargo_until=LATER)
    event = scheduled(embargo=LATER)
    assert tell(event, release, TRUSTED) == Message("embargo", "ko", NOW, "ko1", LATER)
    assert tell(event, release, READER) is None
    assert tell(scheduled(embargo=None), KO, TRUSTED) is None, "no embargo: no early copy"


def test_a_new_schedule_tells_a_holder_what_changed_and_only_that() -> None:
    release = rules.Release("ko", frozenset({"ko"}), "ko2", embargo_until=LATER)
    event = scheduled(embargo=LATER)
    stale_text = holding(copy_text="ko1", announced=LATER)
    assert tell(event, release, stale_text) == Message("update", "ko", NOW, "ko2", LATER)
    stale_time = holding(copy_text="ko2", announced=NOW)
    assert tell(event, release, stale_time) == Message("notice", "ko", NOW, "ko2", LATER)
    suspended = holding(copy_text="ko2", announced=None)
    assert tell(event, release, suspended) == Message("notice", "ko", NOW, "ko2", LATER)
    current = holding(copy_text="ko2", announced=LATER)
    assert tell(event, release, current) is None


def test_postponed_publication_is_told_once_to_holders() -> None:
    event = ev.ReleaseUnscheduled(**at(embargo_until=LATER.isoformat()))  # type: ignore[arg-type]
    told = tell(event, KO, holding(copy_text="ko1", announced=LATER))
    assert told is not None and told.kind == "suspended"
    assert tell(event, KO, holding(copy_text="ko1", announced=None)) is None, "told already"
    assert tell(event, KO, READER) is None


def test_publication_lifts_the_embargo_for_holders_and_reaches_followers_when_public() -> None:
    event = published(embargo=LATER)
    release = rules.Release("ko", frozenset({"ko"}), "ko1", embargo_until=LATER)
    assert tell(event, release, holding(copy_text="ko1", announced=LATER)) == Message(
        "lifted", "ko", LATER
    )
    assert tell(event, release, READER) == Message("release", "ko", LATER)
    past = published(embargo=NOW - timedelta(hours=1))
    message = tell(past, rules.Release("ko", frozenset({"ko"}), "ko1", NOW), READER)
    assert message is not None and message.not_before == NOW
    assert tell(event, release, Recipient("ko", trusted=False, follows=False)) is None


def test_a_correction_reaches_only_those_who_were_sent_the_changed_version() -> None:
    both = rules.Release("ko", frozenset({"ko", "en"}), "en1.ko2")
    event = ev.CorrectionPublished(**at(number="n", note="x", languages=["ko"]))  # type: ignore[arg-type]
    korean = Recipient("ko", False, True, Holding(public=frozenset({"ko"})))
    english = Recipient("en", False, True, Holding(public=frozenset({"en"})))
    reads_both = Recipient("both", False, True, Holding(public=frozenset({"both"})))
    assert tell(event, both, korean) == Message("correction", "ko", NOW)
    assert tell(event, both, english) is None
    assert tell(event, both, reads_both) == Message("correction", "both", NOW)
    assert tell(event, both, Recipient("ko", False, True)) is None, "never received it"


def test_a_late_translation_reaches_its_readers_who_were_sent_another_language() -> None:
    both = rules.Release("ko", frozenset({"ko", "en"}), "en1.ko1")
    event = ev.TranslationPublished(**at(number="n", languages=["en"]))  # type: ignore[arg-type]
    english = Recipient("en", False, True, Holding(public=frozenset({"ko"})))
    assert tell(event, both, english) == Message("translation", "en", NOW)
    assert (
        tell(event, both, Recipient("ko", False, True, Holding(public=frozenset({"ko"})))) is None
    )
    assert (
        tell(event, both, Recipient("en", False, True, Holding(public=frozenset({"en"})))) is None
    )


def test_a_withdrawal_reaches_whoever_was_sent_anything_and_ends_the_story() -> None:
    event = ev.ReleaseWithdrawn(**at(reason="x", was_public=False))  # type: ignore[arg-type]
    assert tell(event, KO, holding(copy_text="ko1", announced=LATER)) is not None
    assert tell(event, KO, READER) is None
    after = holding(copy_text="ko1", withdrawn=True)
    assert tell(scheduled(embargo=LATER), KO, after) is None


def test_what_happens_on_a_withdrawal_is_read_in_one_place() -> None:
    reactions = handlers.REGISTRY[ev.ReleaseWithdrawn]
    assert reactions.deliveries == (rules.withdrawn,)
    assert reactions.follow_ups == ()


def test_events_that_call_for_nothing_are_not_in_the_registry() -> None:
    created = ev.ReleaseCreated(**at(language="ko"))  # type: ignore[arg-type]
    assert handlers.reactions(created) is handlers.NONE


def test_a_publication_due_within_the_horizon_gets_a_timer_and_a_later_one_the_sweep() -> None:
    ctx = SimpleNamespace(
        settings=Settings(environment="test", eta_horizon_seconds=300),
        clock=SimpleNamespace(now=lambda: NOW),
    )
    event = scheduled(embargo=None)
    assert handlers.follow_ups(ctx, event) == [  # type: ignore[arg-type]
        handlers.FollowUp("newsroom.publish_due", eta=LATER)
    ]
    ctx.settings.eta_horizon_seconds = 60
    assert handlers.follow_ups(ctx, event) == []  # type: ignore[arg-type]


def test_a_text_key_names_the_revisions_it_carries() -> None:
    assert rules.text_key({"ko": 3, "en": 12}) == "en12.ko3"
    assert rules.revisions("en12.ko3") == {"ko": 3, "en": 12}
