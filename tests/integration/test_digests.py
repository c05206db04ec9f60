"""Daily digests through a real SMTP server on loopback, on a frozen clock: which releases
go in whose digest, one digest per subscriber and day, and what never waits for one."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.conftest import Staff
from tests.integration.test_distribution import drain, handle_events, subscribe
from tests.integration.test_release_services import BODY_EN, BODY_KO
from tests.smtp_faults import FaultyHandler
from workflow import backlog
from workflow.clock import FrozenClock
from workflow.db.tables import DeliveryRow, DigestRow
from workflow.distribution import planning, sending
from workflow.mail.catcher import CaughtMail
from workflow.services import releases as svc
from workflow.services import subscribers
from workflow.services.context import ServiceContext

SEOUL = ZoneInfo("Asia/Seoul")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of May 2026 in the office's time zone (the tests' default)."""
    return datetime(2026, 5, day, hour, minute, second, tzinfo=SEOUL).astimezone(UTC)


def approved(ctx: ServiceContext, staff: Staff, title: str, english: str = "") -> int:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title=title, body=BODY_KO, topics=[staff.health]
    ).release_id
    if english:
        svc.edit_version(
            ctx,
            staff.author,
            release_id,
            language="en",
            title=english,
            body=BODY_EN,
            base_revision=0,
        )
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    return release_id


def published(ctx: ServiceContext, staff: Staff, title: str, english: str = "") -> int:
    """A release published now, its events handled and what goes at once sent."""
    release_id = approved(ctx, staff, title, english)
    svc.publish_release(ctx, staff.author, release_id)
    settle(ctx)
    return release_id


def settle(ctx: ServiceContext) -> None:
    """Handle the events and send every delivery due now (the clock stays)."""
    handle_events(ctx)
    while sending.send_batch(ctx, limit=50, connections=2).claimed:
        pass


def plan_and_send(ctx: ServiceContext) -> int:
    """What beat and the workers do at this moment: plan the digests due, send them."""
    planned = planning.plan_digests(ctx)
    while sending.send_batch(ctx, limit=50, connections=2, mailing=sending.DIGESTS).claimed:
        pass
    return planned


def mail_to(handler: FaultyHandler, address: str) -> list[CaughtMail]:
    return [m for m in handler.received() if address in m.recipients]


def text_of(mail: CaughtMail) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def digest_rows(ctx: ServiceContext) -> list[tuple[int, str, str, int]]:
    """(subscriber, day, state, how many releases) of every digest, in order planned."""
    with ctx.uow() as uow:
        rows = uow.session.execute(select(DigestRow).order_by(DigestRow.id)).scalars().all()
        carried = Counter(
            uow.session.scalars(select(DeliveryRow.digest_id).where(DeliveryRow.digest_id > 0))
        )
        return [(r.subscriber_id, f"{r.day}", r.state, carried[r.id]) for r in rows]


def test_each_subscriber_gets_one_digest_a_day_with_the_releases_of_their_day(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    subscribe(ctx, "each@press.example", [staff.health])
    morning = subscribe(ctx, "morning@press.example", [staff.health], digest_time=time(8))
    evening = subscribe(
        ctx, "evening@press.example", [staff.health], language="en", digest_time=time(18)
    )
    clock.current = at(14, 9)
    published(ctx, staff, "첫째 보도자료", "First release")
    clock.current = at(14, 17, 59, 59)
    published(ctx, staff, "둘째 보도자료", "Second release")
    assert [m.recipients for m in faulty.received()] == [("each@press.example",)] * 2
    # At 18:00 exactly: the evening digest's day ends, and this one is the next day's.
    clock.current = at(14, 18)
    published(ctx, staff, "셋째 보도자료", "Third release")
    assert plan_and_send(ctx) == 1, "the evening digest; the morning's has nothing yet"
    assert plan_and_send(ctx) == 0, "once a day"
    clock.current = at(14, 23)
    published(ctx, staff, "넷째 보도자료", "Fourth release")
    clock.current = at(15, 8, 0, 5)
    assert plan_and_send(ctx) == 1
    clock.current = at(15, 18, 0, 5)
    assert plan_and_send(ctx) == 1
    clock.current = at(16, 8, 0, 5)
    assert plan_and_send(ctx) == 0, "no release, no digest"

    assert len(mail_to(faulty, "each@press.example")) == 4
    [morning_digest] = mail_to(faulty, "morning@press.example")
    assert morning_digest.subject == "[일일 보도자료] 2026년 5월 15일 · 보도자료 4건"
    text = text_of(morning_digest)
    titles = ["첫째 보도자료", "둘째 보도자료", "셋째 보도자료", "넷째 보도자료"]
    assert [text.index(title) for title in titles] == sorted(text.index(t) for t in titles)
    assert "2026년 5월 14일 17:59" in text and "1. 외교부는 회의를 개최하였다." in text
    assert "/releases/2026-0001" in text and "2. 참석자들은" not in text, "a summary only"
    first, second = mail_to(faulty, "evening@press.example")
    assert first.subject == "[DAILY DIGEST] 14 May 2026 · 2 releases"
    assert "First release" in text_of(first) and "Second release" in text_of(first)
    assert "Third release" not in text_of(first) and "첫째" not in text_of(first)
    assert second.subject == "[DAILY DIGEST] 15 May 2026 · 2 releases"
    assert "Third release" in text_of(second) and "Fourth release" in text_of(second)
    assert "/releases/2026-0003?lang=en" in text_of(second)
    assert second.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    assert digest_rows(ctx) == [
        (evening, "2026-05-14", "sent", 2),
        (morning, "2026-05-15", "sent", 4),
        (evening, "2026-05-15", "sent", 2),
    ]
    with ctx.uow() as uow:
        theirs = uow.session.execute(
            select(DeliveryRow.kind, DeliveryRow.state).where(
                DeliveryRow.subscriber_id.in_((morning, evening))
            )
        ).all()
    assert Counter(tuple(row) for row in theirs) == {("release", "sent"): 8}
    assert Counter(m.message_id for m in faulty.received()) == {
        m.message_id: 1 for m in faulty.received()
    }


def test_embargoed_copies_corrections_and_withdrawals_never_wait_for_a_digest(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    subscribe(ctx, "trusted@press.example", [staff.health], trusted=True, digest_time=time(8))
    subscribe(ctx, "reader@press.example", [staff.health], digest_time=time(8))
    clock.current = at(14, 9)
    corrected = published(ctx, staff, "정정될 보도자료")
    assert faulty.received() == []
    clock.current = at(15, 8, 0, 5)
    assert plan_and_send(ctx) == 2

    svc.correct_release(
        ctx,
        staff.officer,
        corrected,
        language="ko",
        title="정정된 보도자료",
        body=BODY_KO,
        note="제목을 바로잡았습니다.",
        base_revision=1,
    )
    svc.approve_release(ctx, staff.approver_2, corrected)
    settle(ctx)
    assert sorted(m.recipients[0] for m in faulty.received()[2:]) == [
        "reader@press.example",
        "trusted@press.example",
    ]
    assert all(m.subject.startswith("[정정]") for m in faulty.received()[2:])

    # Withdrawn, or taken down as published in error, while waiting for the digest:
    # nobody is sent it, nor told of it.
    clock.current = at(15, 10)
    withdrawn = published(ctx, staff, "철회될 보도자료")
    in_error = published(ctx, staff, "잘못 배포된 보도자료")
    clock.current = at(15, 10, 5)
    svc.withdraw_release(ctx, staff.approver, withdrawn, "중복 배포")
    svc.unpublish_release(ctx, staff.approver, in_error, "잘못 배포")
    settle(ctx)
    assert len(faulty.received()) == 4

    # Under embargo: the trusted journalist's copy at once, and the release as the
    # embargo lifts; the other reader has it in the next digest.
    embargoed = approved(ctx, staff, "엠바고 보도자료")
    svc.schedule_release(
        ctx, staff.author, embargoed, publish_at=at(15, 12), embargo_until=at(15, 14)
    )
    settle(ctx)
    [copy] = faulty.received()[4:]
    assert copy.recipients == ("trusted@press.example",)
    assert copy.subject.startswith("[엠바고 2026년 5월 15일 14:00 KST]")
    clock.current = at(15, 12)
    svc.publish_scheduled(ctx, embargoed)
    settle(ctx)
    clock.current = at(15, 14)
    settle(ctx)
    [lifted] = faulty.received()[5:]
    assert lifted.recipients == ("trusted@press.example",)
    assert lifted.subject.startswith("[엠바고 해제]")

    clock.current = at(16, 8, 0, 5)
    assert plan_and_send(ctx) == 1
    [digest] = faulty.received()[6:]
    assert digest.recipients == ("reader@press.example",)
    assert digest.subject == "[일일 보도자료] 2026년 5월 16일 · 보도자료 1건"
    assert "엠바고 보도자료" in text_of(digest)
    assert "철회될" not in text_of(digest) and "잘못 배포된" not in text_of(digest)
    with ctx.uow() as uow:
        states = uow.session.execute(
            select(DeliveryRow.release_id, DeliveryRow.state).where(
                DeliveryRow.release_id.in_((withdrawn, in_error))
            )
        ).all()
    assert {state for _, state in states} == {"cancelled"}


def test_choosing_each_release_sends_at_once_what_waited_for_the_digest(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    reader = subscribe(ctx, "reader@press.example", [staff.health], digest_time=time(7, 30))
    clock.current = at(14, 9)
    published(ctx, staff, "기다린 보도자료")
    assert faulty.received() == []
    token = parse_qs(urlsplit(subscribers.links_for(ctx, reader)["preferences"]).query)["token"][0]
    view = subscribers.update_preferences(ctx, token, [staff.health], "ko", delivery="each")
    assert (view.delivery, view.digest_time) == ("each", "")
    drain(ctx, clock)
    [waited] = faulty.received()
    assert waited.subject == "2026-0001 기다린 보도자료"
    published(ctx, staff, "바로 가는 보도자료")
    assert len(faulty.received()) == 2
    clock.current = at(15, 7, 30, 5)
    assert plan_and_send(ctx) == 0
    assert digest_rows(ctx) == []


def test_a_digest_the_relay_defers_goes_later_with_the_releases_it_was_planned_with(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    reader = subscribe(ctx, "reader@press.example", [staff.health], digest_time=time(8))
    clock.current = at(14, 9)
    published(ctx, staff, "어제 보도자료")
    faulty.faults.busy = {"reader@press.example"}
    clock.current = at(15, 8, 0, 5)
    assert plan_and_send(ctx) == 1
    assert digest_rows(ctx) == [(reader, "2026-05-15", "deferred", 1)]
    clock.current = at(15, 9)
    published(ctx, staff, "오늘 보도자료")  # the next day's
    faulty.faults.busy = set()
    clock.current += timedelta(hours=1)
    # Overdue, it counts where /readyz and the metrics look for deliveries past their time.
    assert backlog.read(ctx, (), None).oldest_due_delivery_seconds > 50 * 60
    assert plan_and_send(ctx) == 0
    [digest] = faulty.received()
    assert "어제 보도자료" in text_of(digest) and "오늘 보도자료" not in text_of(digest)
    assert digest_rows(ctx) == [(reader, "2026-05-15", "sent", 1)]
    clock.current = at(16, 8, 0, 5)
    assert plan_and_send(ctx) == 1
    assert digest_rows(ctx)[-1] == (reader, "2026-05-16", "sent", 1)


def test_a_bounced_digest_is_recorded_with_its_releases_and_counts_toward_suspension(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    from workflow.services import bounces

    reader = subscribe(ctx, "gone@press.example", [staff.health], digest_time=time(8))
    clock.current = at(14, 9)
    published(ctx, staff, "첫째 보도자료")
    published(ctx, staff, "둘째 보도자료")
    clock.current = at(15, 8, 0, 5)
    assert plan_and_send(ctx) == 1
    [digest] = mail_to(faulty, "gone@press.example")
    bounce = bounces.Bounce(
        recipient="gone@press.example",
        permanent=True,
        reason="550 5.1.1 no such user",
        message_id=digest.message_id,
    )
    assert bounces.record(ctx, [bounce])["bounced"] == 1
    assert bounces.record(ctx, [bounce])["already"] == 1, "the same report twice"
    with ctx.uow() as uow:
        [state] = uow.session.scalars(select(DigestRow.state))
        rows = list(
            uow.session.scalars(
                select(DeliveryRow.state).where(DeliveryRow.subscriber_id == reader)
            )
        )
    assert state == "bounced" and rows == ["bounced", "bounced"]
    assert subscribers.find_subscriber(ctx, staff.admin, "gone@press.example").hard_bounces == 1


def test_a_reader_who_leaves_is_sent_nothing_that_was_still_planned(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    """Unsubscribing stops the mail at once: the releases waiting for their digest, and a
    release planned but not yet sent to a reader of each release."""
    waiting = subscribe(ctx, "waiting@press.example", [staff.health], digest_time=time(8))
    each = subscribe(ctx, "each@press.example", [staff.health])
    clock.current = at(14, 9)
    release_id = approved(ctx, staff, "첫째 보도자료")
    svc.publish_release(ctx, staff.author, release_id)
    handle_events(ctx)  # planned, not sent
    for subscriber_id in (waiting, each):
        token = subscribers.links_for(ctx, subscriber_id)["unsubscribe"].split("token=")[1]
        subscribers.unsubscribe(ctx, token)
    settle(ctx)
    clock.current = at(15, 8, 0, 5)
    assert plan_and_send(ctx) == 0
    assert faulty.received() == []
    with ctx.uow() as uow:
        states = set(uow.session.scalars(select(DeliveryRow.state)))
    assert states == {"cancelled"}
