"""Distribution to journalists through a real SMTP server on loopback, with faults."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import Staff
from tests.integration.conftest import free_port
from tests.integration.test_release_services import BODY_EN, BODY_KO
from tests.smtp_faults import Faults, FaultyHandler
from workflow import outbox
from workflow.clock import FrozenClock
from workflow.db.tables import DeliveryRow, SubscriberRow, SubscriberTopicRow
from workflow.mail.catcher import start_catcher
from workflow.services import distribution
from workflow.services import releases as svc
from workflow.services.context import ServiceContext


@pytest.fixture
def faulty(ctx: ServiceContext) -> Iterator[FaultyHandler]:
    handler = FaultyHandler(Faults())
    port = free_port()
    controller, _ = start_catcher("127.0.0.1", port, handler=handler)
    ctx.settings.smtp_port = port
    ctx.settings.smtp_timeout = 5
    yield handler
    controller.stop()


def subscribe(
    ctx: ServiceContext,
    email: str,
    topics: list[int],
    *,
    language: str = "ko",
    state: str = "active",
    trusted: bool = False,
    name: str = "",
) -> int:
    with ctx.uow() as uow:
        row = SubscriberRow(
            email=email,
            name=name,
            language=language,
            state=state,
            embargo_trusted=trusted,
            hard_bounces=0,
            token_version=1,
            created_at=ctx.clock.now(),
        )
        uow.session.add(row)
        uow.flush()
        uow.session.add_all(SubscriberTopicRow(subscriber_id=row.id, topic_id=t) for t in topics)
        uow.commit()
        return row.id


def handle_events(ctx: ServiceContext) -> int:
    """What the consumer does for each event, in-process."""
    planned = 0
    with ctx.uow() as uow:
        entries = outbox.pending(uow.session, ctx.clock.now(), limit=10_000)
        for entry in entries:
            outbox.mark_handled(uow.session, entry.event.event_id, ctx.clock.now())
        uow.commit()
    for entry in entries:
        planned += distribution.plan_for_event(ctx, entry.event)
    return planned


def drain(ctx: ServiceContext, clock: FrozenClock, *, rounds: int = 30) -> None:
    """Send until nothing is left, letting time pass for retries."""
    for _ in range(rounds):
        distribution.send_batch(ctx, limit=50, connections=3)
        with ctx.uow() as uow:
            left = uow.session.scalar(
                select(DeliveryRow.id)
                .where(DeliveryRow.state.in_(("pending", "deferred", "sending")))
                .limit(1)
            )
        if left is None:
            return
        clock.advance(hours=1)
    raise AssertionError("deliveries still pending")


def deliveries(ctx: ServiceContext) -> list[DeliveryRow]:
    with ctx.uow() as uow:
        found = list(uow.session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))
        uow.session.expunge_all()
        return found


def published_release(ctx: ServiceContext, staff: Staff, *, english: bool = True) -> int:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="국제보건 회의", body=BODY_KO, topics=[staff.health]
    ).release_id
    if english:
        svc.edit_version(
            ctx,
            staff.author,
            release_id,
            language="en",
            title="Health Meeting",
            body=BODY_EN,
            base_revision=0,
        )
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    return release_id


def test_every_subscriber_of_a_topic_gets_one_message_in_their_language(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    readers = (
        {
            subscribe(ctx, f"ko{i}@press.example", [staff.health], name=f"기자 {i}"): "ko"
            for i in range(5)
        }
        | {
            subscribe(
                ctx, f"en{i}@press.example", [staff.health, staff.peninsula], language="en"
            ): "en"
            for i in range(5)
        }
        | {subscribe(ctx, "both@press.example", [staff.health], language="both"): "ko"}
    )
    subscribe(ctx, "other-topic@press.example", [staff.peninsula])
    subscribe(ctx, "unconfirmed@press.example", [staff.health], state="pending")
    subscribe(ctx, "left@press.example", [staff.health], state="unsubscribed")
    subscribe(ctx, "bounced@press.example", [staff.health], state="bounced")
    release_id = published_release(ctx, staff)
    assert handle_events(ctx) == 11
    assert handle_events(ctx) == 0, "an event handled again plans nothing"
    drain(ctx, clock)

    rows = deliveries(ctx)
    assert {r.subscriber_id: r.language for r in rows} == readers
    assert {r.state for r in rows} == {"sent"}
    received = faulty.received()
    assert Counter(m.message_id for m in received) == {r.message_id: 1 for r in rows}
    by_address = {m.recipients[0]: m for m in received}
    assert set(by_address) == {f"ko{i}@press.example" for i in range(5)} | {
        f"en{i}@press.example" for i in range(5)
    } | {"both@press.example"}
    korean, english = (
        by_address["ko0@press.example"].message,
        by_address["en0@press.example"].message,
    )
    assert korean["Subject"] == "2026-0001 국제보건 회의"
    assert english["Subject"] == "2026-0001 Health Meeting"
    assert english["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        english["List-Unsubscribe"].startswith("<http") and "mailto:" in english["List-Unsubscribe"]
    )
    assert english["Precedence"] == "bulk" and english["Auto-Submitted"] == "auto-generated"
    text, html = (part.get_content() for part in english.iter_parts())
    assert "Dear en0," in text and "The Ministry hosted a meeting." in text
    assert "<li" in html and 'style="' in html, "the body laid out, CSS inlined"
    assert "기자 0님께" in korean.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    report = distribution.delivery_report(ctx, release_id)
    assert report.counts == {"sent": 11} and report.failures == []


def test_temporary_failures_and_dropped_connections_lose_nobody(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    faulty.faults.temporary_share, faulty.faults.drop_share = 0.3, 0.05
    for i in range(60):
        subscribe(ctx, f"j{i}@press.example", [staff.health])
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    rows = deliveries(ctx)
    assert faulty.temporary > 0 and faulty.dropped > 0
    assert {r.state for r in rows} == {"sent"}
    copies = Counter(m.message_id for m in faulty.received())
    assert set(copies) == {r.message_id for r in rows}, "everyone got the release"
    twice = {message_id for message_id, n in copies.items() if n > 1}
    flagged = {r.message_id for r in rows if r.possible_duplicate}
    assert twice <= flagged, "a second copy only where a dropped reply made it unavoidable"
    assert len(flagged) == faulty.dropped


def test_a_refused_recipient_fails_at_once_and_counts_toward_suspension(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    faulty.faults.refuse = {"gone@press.example"}
    gone = subscribe(ctx, "gone@press.example", [staff.health])
    subscribe(ctx, "here@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    states = {r.subscriber_id: (r.state, r.attempts) for r in deliveries(ctx)}
    assert states[gone] == ("failed", 1), "not retried"
    report = distribution.delivery_report(ctx, release_id)
    assert report.counts == {"failed": 1, "sent": 1}
    assert report.failures[0][0] == "gone@press.example" and report.failures[0][2].startswith("550")
    with ctx.uow() as uow:
        row = uow.session.get(SubscriberRow, gone)
        assert row is not None and row.hard_bounces == 1 and row.state == "active"
    for _ in range(2):  # two more refusals: bounced, never mailed again
        other = published_release(ctx, staff, english=False)
        handle_events(ctx)
        drain(ctx, clock)
    with ctx.uow() as uow:
        row = uow.session.get(SubscriberRow, gone)
        assert row is not None and row.state == "bounced"
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    assert all(r.subscriber_id != gone for r in deliveries(ctx) if r.release_id > other)


def test_embargoed_copies_go_to_trusted_journalists_only_and_changes_are_announced(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    trusted = subscribe(ctx, "trusted@press.example", [staff.health], trusted=True)
    subscribe(ctx, "public@press.example", [staff.health])
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="엠바고 자료", body=BODY_KO, topics=[staff.health]
    ).release_id
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    publish_at = clock.now() + timedelta(hours=3)
    svc.schedule_release(
        ctx, staff.author, release_id, publish_at=publish_at, embargo_until=publish_at
    )
    handle_events(ctx)
    drain(ctx, clock)
    [embargoed] = faulty.received()
    assert embargoed.recipients == ("trusted@press.example",)
    assert embargoed.subject == "EMBARGOED UNTIL 2026-05-14 12:00 KST 엠바고 자료"
    assert (
        embargoed.message.get_body(("plain",))
        .get_content()
        .startswith(  # type: ignore[union-attr]
            "EMBARGOED UNTIL 2026-05-14 12:00 KST"
        )
    )

    svc.schedule_release(
        ctx,
        staff.author,
        release_id,
        publish_at=publish_at + timedelta(hours=1),
        embargo_until=publish_at + timedelta(hours=1),
    )
    handle_events(ctx)
    drain(ctx, clock)
    notice = faulty.received()[-1]
    assert notice.recipients == ("trusted@press.example",)
    assert (
        "[엠바고 변경]" in notice.subject
        and "13:00 KST" in notice.message.get_body(("plain",)).get_content()
    )  # type: ignore[union-attr]

    clock.current = publish_at + timedelta(hours=1)
    svc.publish_scheduled(ctx, release_id)
    handle_events(ctx)
    drain(ctx, clock)
    public_copies = [m for m in faulty.received() if m.subject.startswith("2026-")]
    assert [m.recipients for m in public_copies] == [("public@press.example",)]
    assert all(r.subscriber_id != trusted or r.kind != "release" for r in deliveries(ctx))


def test_corrections_and_withdrawals_reach_everyone_who_received_the_release(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    for i in range(3):
        subscribe(ctx, f"r{i}@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    subscribe(ctx, "late@press.example", [staff.health])  # never received it
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="국제보건 회의 (정정)",
        body=BODY_KO,
        note="날짜를 정정합니다.",
        base_revision=1,
    )
    svc.approve_release(ctx, staff.approver_2, release_id)
    svc.withdraw_release(ctx, staff.approver, release_id, "잘못 배포되었습니다.")
    handle_events(ctx)
    drain(ctx, clock)
    subjects = Counter(m.subject.split(" ")[0] for m in faulty.received())
    assert subjects == {"2026-0001": 3, "[정정]": 3, "[철회]": 3}
    assert all("late@press.example" not in m.recipients for m in faulty.received())
