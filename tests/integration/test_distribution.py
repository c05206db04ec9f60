"""Distribution to journalists through a real SMTP server on loopback, with faults."""

from __future__ import annotations

from collections import Counter
from datetime import time, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, update

from tests.conftest import Staff
from tests.integration.test_release_services import BODY_EN, BODY_KO
from tests.smtp_faults import FaultyHandler
from workflow import handlers, outbox
from workflow.clock import FrozenClock
from workflow.db import deliveries as delivery_rows
from workflow.db.tables import DeliveryRow, SubscriberRow, SubscriberTopicRow
from workflow.distribution import planning, reports, sending
from workflow.mail.catcher import CatchingHandler
from workflow.mail.envelopes import ChunkHooks, Envelope, Outcome, Result
from workflow.mail.smtp_engine import SmtpBulkSender, send_all
from workflow.services import releases as svc
from workflow.services.context import ServiceContext


def subscribe(
    ctx: ServiceContext,
    email: str,
    topics: list[int],
    *,
    language: str = "ko",
    state: str = "active",
    trusted: bool = False,
    name: str = "",
    digest_time: time | None = None,
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
            digest_time=digest_time,
        )
        uow.session.add(row)
        uow.flush()
        uow.session.add_all(SubscriberTopicRow(subscriber_id=row.id, topic_id=t) for t in topics)
        uow.commit()
        return row.id


def subscribe_many(
    ctx: ServiceContext,
    count: int,
    topic: int,
    *,
    prefix: str = "j",
    digest_time: time | None = None,
) -> None:
    """``count`` active subscribers of ``topic`` in one transaction (a large list fast),
    with a daily digest at ``digest_time`` if given."""
    with ctx.uow() as uow:
        rows = [
            SubscriberRow(
                email=f"{prefix}{i}@press.example",
                name="",
                language="ko",
                state="active",
                embargo_trusted=False,
                hard_bounces=0,
                token_version=1,
                created_at=ctx.clock.now(),
                digest_time=digest_time,
            )
            for i in range(count)
        ]
        uow.session.add_all(rows)
        uow.flush()
        uow.session.add_all(SubscriberTopicRow(subscriber_id=r.id, topic_id=topic) for r in rows)
        uow.commit()


def handle_events(ctx: ServiceContext) -> int:
    """What the consumer does for each event, in-process."""
    planned = 0
    with ctx.uow() as uow:
        entries = outbox.pending(uow.session, ctx.clock.now(), limit=10_000)
        for entry in entries:
            outbox.mark_handled(uow.session, entry.event.event_id, ctx.clock.now())
        uow.commit()
    for entry in entries:
        planned += handlers.plan_deliveries(ctx, entry.event)
    return planned


def drain(ctx: ServiceContext, clock: FrozenClock, *, rounds: int = 30) -> None:
    """Send until nothing is left, letting time pass for retries."""
    for _ in range(rounds):
        sending.send_batch(ctx, limit=50, connections=3)
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
        | {subscribe(ctx, "both@press.example", [staff.health], language="both"): "both"}
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
    # One-click https only: no mailto that nothing reads.
    assert english["List-Unsubscribe"].startswith("<http") and "mailto:" not in str(
        english["List-Unsubscribe"]
    )
    assert english["Precedence"] == "bulk" and english["Auto-Submitted"] == "auto-generated"
    text, html = (part.get_content() for part in english.iter_parts())
    assert "Dear en0," in text and "The Ministry hosted a meeting." in text
    assert "<li" in html and 'style="' in html, "the body laid out, CSS inlined"
    assert "기자 0님께" in korean.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # One message with both versions, the original first, each linking to its own page.
    both = by_address["both@press.example"].message
    assert both["Subject"] == "2026-0001 국제보건 회의 / Health Meeting"
    both_text = both.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert both_text.index("국제보건 회의") < both_text.index("Health Meeting")
    assert "The Ministry hosted a meeting." in both_text
    assert "/releases/2026-0001\n" in both_text and "/releases/2026-0001?lang=en" in both_text
    both_html = both.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert both_html.count('class="section"') == 2 and 'lang="en"' in both_html
    report = reports.delivery_report(ctx, release_id)
    assert report.counts == {"sent": 11} and report.failures == []


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_temporary_failures_and_dropped_connections_lose_nobody(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler, pipelining: bool
) -> None:
    faulty.faults.temporary_share, faulty.faults.drop_share = 0.3, 0.05
    faulty.faults.pipelining = pipelining
    for i in range(60):
        subscribe(ctx, f"j{i}@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    rows = deliveries(ctx)
    assert faulty.temporary > 0 and faulty.dropped > 0
    assert {r.state for r in rows} == {"sent"}
    copies = Counter(m.message_id for m in faulty.received())
    assert set(copies) == {r.message_id for r in rows}, "everyone got the release"
    twice = {message_id for message_id, n in copies.items() if n > 1}
    flagged = {r.message_id for r in rows if r.possible_duplicate}
    # A second copy exactly where a reply was lost after the final dot (the relay kept the
    # message, the sender could not know), and every such copy is counted.
    assert twice == flagged, "a second copy only where a dropped reply made it unavoidable"
    assert sum(n - 1 for n in copies.values()) == faulty.dropped
    assert reports.delivery_report(ctx, release_id).possible_duplicates == len(twice)
    # Every transaction pipelined where the relay offered it, none where it did not.
    assert faulty.pipelined == (sum(r.attempts for r in rows) if pipelining else 0)


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_a_refused_recipient_fails_at_once_and_counts_toward_suspension(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler, pipelining: bool
) -> None:
    faulty.faults.refuse = {"gone@press.example"}
    faulty.faults.pipelining = pipelining
    gone = subscribe(ctx, "gone@press.example", [staff.health])
    subscribe(ctx, "here@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    states = {r.subscriber_id: (r.state, r.attempts) for r in deliveries(ctx)}
    assert states[gone] == ("failed", 1), "not retried"
    report = reports.delivery_report(ctx, release_id)
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
    assert all("gone@press.example" not in m.recipients for m in faulty.received())
    assert (faulty.pipelined > 0) is pipelining


def test_with_pipelining_refused_busy_and_lenient_relays_settle_each_delivery_as_before(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    """Refused (550: failed at once), busy (451: deferred, then sent), and a relay that
    answers DATA with 354 although it refused the only recipient (RFC 2920 section 3.1):
    the engine ends that DATA phase with a lone dot and sends nothing of the message."""
    faulty.faults.pipelining = True
    faulty.faults.refuse, faulty.faults.busy = {"gone@press.example"}, {"busy@press.example"}
    faulty.faults.data_after_refusal = True
    gone = subscribe(ctx, "gone@press.example", [staff.health])
    busy = subscribe(ctx, "busy@press.example", [staff.health])
    for i in range(5):
        subscribe(ctx, f"j{i}@press.example", [staff.health])
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    sending.send_batch(ctx, limit=50, connections=3)
    rows = {r.subscriber_id: r for r in deliveries(ctx)}
    assert (rows[gone].state, rows[gone].attempts) == ("failed", 1)
    assert rows[gone].smtp_reply.startswith("550 5.1.1")
    assert (rows[busy].state, rows[busy].attempts) == ("deferred", 1)
    assert rows[busy].smtp_reply.startswith("451 4.2.1")
    assert faulty.data_for_nobody == [b""], "a lone dot, nothing of the message"
    assert len(faulty.received()) == 5
    faulty.faults.busy = set()
    drain(ctx, clock)
    rows = {r.subscriber_id: r for r in deliveries(ctx)}
    assert (rows[busy].state, rows[busy].attempts) == ("sent", 2)
    assert rows[gone].state == "failed"
    assert Counter(m.recipients[0] for m in faulty.received()) == {
        **{f"j{i}@press.example": 1 for i in range(5)},
        "busy@press.example": 1,
    }
    assert faulty.pipelined == 8  # seven transactions, then the busy one's retry


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
    assert embargoed.subject == "[엠바고 2026년 5월 14일 12:00 KST] 엠바고 자료"
    top = embargoed.message.get_body(("plain",)).get_content().splitlines()[:4]  # type: ignore[union-attr]
    assert "*** 엠바고: 2026년 5월 14일 12:00 KST 이전 보도 금지 ***" in top, "the banner first"

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


def test_a_plan_in_steps_covers_everyone_once_even_when_a_step_is_planned_again(
    ctx: ServiceContext, staff: Staff
) -> None:
    """The consumer plans a large fan-out in steps, committing each so that sending can
    begin; an event handled again after a crash between steps plans only what is
    missing. Followers of another topic and suspended subscribers count toward a step's
    size (it is a range of subscriber ids) and get nothing."""
    for i in range(12):  # the first step ends on one of them (ids are in this order)
        subscribe(ctx, f"s{i}@press.example", [staff.health])
    subscribe(ctx, "suspended@press.example", [staff.health], state="suspended")
    for i in range(12):
        subscribe(ctx, f"other{i}@press.example", [staff.peninsula])
    published_release(ctx, staff, english=False)
    with ctx.uow() as uow:
        (event,) = [
            e.event
            for e in outbox.pending(uow.session, ctx.clock.now(), limit=100)
            if e.event.type_name == "ReleasePublished"
        ]

    tell = handlers.reactions(event).deliveries

    def step(after: int, limit: int | None = None) -> planning.Planned:
        with ctx.uow() as uow:
            planned = planning.plan(ctx, uow.session, event, tell, after=after, limit=limit)
            uow.commit()
        return planned

    first = step(0, limit=10)
    assert first.last is not None
    again = step(0, limit=10)  # the event handled again: the same step adds nothing
    assert again == planning.Planned(0, first.last)
    second = step(first.last, limit=10)
    assert second.last is not None
    third = step(second.last, limit=10)
    assert third.last is None  # fewer than 10 subscribers were left: the end
    assert (first.added, second.added, third.added) == (10, 2, 0)
    assert step(0) == planning.Planned(0)  # all of it again, without a limit
    recipients = Counter((d.subscriber_id, d.kind) for d in deliveries(ctx))
    assert len(recipients) == 12 and set(recipients.values()) == {1}


def test_a_message_rendered_after_a_correction_carries_the_corrected_text(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    # A process renders each variant once and keeps it: the release's message sent
    # after a correction, by the same process, must be made from the corrected text.
    first = subscribe(ctx, "first@press.example", [staff.health])
    subscribe(ctx, "second@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    assert sending.send_batch(ctx, limit=1, connections=1).claimed == 1
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="국제보건 회의",  # the same title: only the body tells them apart
        body="정정된 본문입니다.\n",
        note="본문을 정정합니다.",
        base_revision=1,
    )
    svc.approve_release(ctx, staff.approver_2, release_id)
    drain(ctx, clock)  # the second subscriber's "release" message
    bodies = {
        m.recipients[0]: m.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for m in faulty.received()
    }
    assert {r.subscriber_id for r in deliveries(ctx)} == {first, first + 1}
    assert "정정된 본문입니다." not in bodies["first@press.example"]
    assert "정정된 본문입니다." in bodies["second@press.example"]


@pytest.mark.parametrize("combined", [False, True], ids=["apart", "between_chunks"])
def test_each_chunk_is_marked_before_its_first_message_and_recorded_after_its_last(
    smtp: tuple[CatchingHandler, int], combined: bool
) -> None:
    """The bound on duplicates after a crash rests on this order: a message is never on
    the wire unless its chunk was marked started, and a chunk's results are recorded
    only once every one of its messages has had its reply. The same when one call
    records a chunk and marks the connection's next one."""
    import asyncio

    catcher, port = smtp
    envelopes = [
        Envelope(
            i, "newsroom@x.example", f"j{i}@press.example", b"Message-ID: <%d@x>\r\n\r\nhi\r\n" % i
        )
        for i in range(23)
    ]
    problems: list[str] = []
    chunks: list[list[int]] = []
    between_calls: list[int] = []

    def arrived() -> set[str]:
        return {m.message_id for m in catcher.received()}

    class Apart(ChunkHooks):
        def before(self, chunk: list[Envelope]) -> list[Envelope]:
            ids = [e.delivery_id for e in chunk]
            chunks.append(ids)
            if {f"<{i}@x>" for i in ids} & arrived():
                problems.append(f"chunk {ids} was on the wire before it was marked")
            return [e for e in chunk if e.delivery_id != 7]  # no longer ours: not sent

        def after(self, _chunk: list[Envelope], results: list[Result]) -> None:
            ids = {r.delivery_id for r in results}
            if not {f"<{i}@x>" for i in ids} <= arrived():
                problems.append(f"chunk {sorted(ids)} was recorded before its messages arrived")

    class Combined(Apart):
        def between(
            self, chunk: list[Envelope], results: list[Result], following: list[Envelope]
        ) -> list[Envelope]:
            between_calls.append(len(following))
            Apart.after(self, chunk, results)
            return Apart.before(self, following)

    relay = SmtpBulkSender("127.0.0.1", port)
    hooks = Combined() if combined else Apart()
    results = asyncio.run(send_all(envelopes, relay, connections=3, chunk=5, hooks=hooks))
    assert problems == []
    assert bool(between_calls) == combined
    assert sorted(len(c) for c in chunks) == [3, 5, 5, 5, 5]
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(r.delivery_id for r in results) == [i for i in range(23) if i != 7]
    sent = Counter(m.message_id for m in catcher.received())
    assert sent == {f"<{i}@x>": 1 for i in range(23) if i != 7}


def test_a_batch_slower_than_its_lease_leaves_rows_taken_over_to_their_new_holder(
    ctx: ServiceContext,
    staff: Staff,
    clock: FrozenClock,
    faulty: FaultyHandler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for i in range(10):
        subscribe(ctx, f"j{i}@press.example", [staff.health])
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    late = sending.claim(ctx, limit=10)  # worker A, which then stalls
    clock.advance(seconds=ctx.settings.delivery_lease_seconds + 1)
    taken = sending.claim(ctx, limit=4)  # worker B, after A's lease ran out
    assert len(late) == 10 and len(taken) == 4
    monkeypatch.setattr(sending, "claim", lambda ctx, limit, mailing: late)
    sending.send_batch(ctx, limit=10)  # A wakes up and sends what is still its own
    assert len(faulty.received()) == 6
    monkeypatch.setattr(sending, "claim", lambda ctx, limit, mailing: taken)
    sending.send_batch(ctx, limit=10)
    rows = deliveries(ctx)
    assert {r.state for r in rows} == {"sent"}
    assert Counter(m.message_id for m in faulty.received()) == {r.message_id: 1 for r in rows}
    assert not any(r.possible_duplicate for r in rows), "A never started what B took"


def test_the_relay_rate_limit_spaces_messages_out(smtp: tuple[CatchingHandler, int]) -> None:
    """``per_second`` is a floor on the time a batch takes, whatever the connections."""
    import asyncio
    import time

    _, port = smtp
    envelopes = [
        Envelope(i, "n@x.example", f"j{i}@press.example", b"Subject: x\r\n\r\nhi\r\n")
        for i in range(21)
    ]
    began = time.monotonic()
    results = asyncio.run(
        send_all(envelopes, SmtpBulkSender("127.0.0.1", port, per_second=40), connections=4)
    )
    # 21 messages at 40 a second: the last may start no earlier than 0.5 s in.
    assert time.monotonic() - began >= 0.5
    assert len(results) == 21 and {r.outcome for r in results} == {Outcome.SENT}


def test_hostile_text_and_names_reach_no_header_and_run_no_script(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    """A name with a line break and a header after it (as a careless CSV import might
    store it), a body with script, event handler and ``javascript:`` link: the email
    carries them as inert text, never as a header or live markup."""
    from tests.html_inspection import dangerous_markup
    from workflow.domain.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        svc.create_release(
            ctx,
            staff.author,
            language="ko",
            title="제목\r\nBcc: eve@evil.example",
            body=BODY_KO,
            topics=[staff.health],
        )
    subscribe(
        ctx,
        "kim@press.example",
        [staff.health],
        name="Kim\r\nBcc: eve@evil.example\r\n\r\n<script>alert(1)</script>",
    )
    hostile = (
        f'{BODY_KO}\n\n<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">\n\n'
        "[click](javascript:alert(1))\n"
    )
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="보안 시험", body=hostile, topics=[staff.health]
    ).release_id
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    handle_events(ctx)
    drain(ctx, clock)
    [mail] = faulty.received()
    assert mail.recipients == ("kim@press.example",)
    headers = mail.message.items()
    assert "Bcc" not in dict(headers) and not [v for _, v in headers if "evil" in str(v)]
    html = mail.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    body = html.split("<body", 1)[1]  # the document's own <head> has its <meta charset>
    assert dangerous_markup(body) == [], body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "the name shown as text"


def test_a_batch_slower_than_its_lease_sends_nothing_another_worker_took_over(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    """While the first message of a batch is at the relay, its lease runs out and another
    worker claims the batch again. The first worker must send none of the rest: they are
    the successor's now. Only the message in flight may arrive twice, and it is flagged,
    with the rest of its chunk (marked started together, so possibly sent for all the
    successor can know)."""
    for i in range(6):
        subscribe(ctx, f"slow{i}@press.example", [staff.health])
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    taken_over: list[delivery_rows.Claimed] = []

    def another_worker_claims() -> None:
        clock.advance(seconds=ctx.settings.delivery_lease_seconds + 1)
        taken_over.extend(sending.claim(ctx, limit=100))

    faulty.on_first_message = another_worker_claims
    first = sending.send_batch(ctx, limit=100, connections=1)
    assert first.claimed == 6 and len(taken_over) == 6
    assert len(faulty.received()) == 1, "the first worker stopped where its lease ended"
    clock.advance(seconds=ctx.settings.delivery_lease_seconds + 1)
    drain(ctx, clock)
    rows = deliveries(ctx)
    assert {r.state for r in rows} == {"sent"}
    copies = Counter(m.message_id for m in faulty.received())
    assert set(copies) == {r.message_id for r in rows}
    twice = {message_id for message_id, n in copies.items() if n > 1}
    flagged = {r.message_id for r in rows if r.possible_duplicate}
    assert len(twice) == 1 and twice <= flagged
    assert len(flagged) <= ctx.settings.delivery_record_every


def test_a_batch_near_the_end_of_its_lease_hands_the_rest_back_unflagged(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    """A stall that leaves the worker inside its lease but within the safety margin: it
    stops, hands back what it did not send, and nobody gets two copies or a flag."""
    ctx.settings.delivery_record_every = 3
    for i in range(6):
        subscribe(ctx, f"slow{i}@press.example", [staff.health])
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    lease = ctx.settings.delivery_lease_seconds
    faulty.on_first_message = lambda: clock.advance(seconds=lease - 5)
    first = sending.send_batch(ctx, limit=100, connections=1)
    assert first.claimed == 6 and len(faulty.received()) == 1
    states = Counter(r.state for r in deliveries(ctx))
    assert states == {"sent": 1, "pending": 5}, "handed back at once, not left leased"
    drain(ctx, clock)
    rows = deliveries(ctx)
    assert {r.state for r in rows} == {"sent"}
    assert Counter(m.message_id for m in faulty.received()) == {r.message_id: 1 for r in rows}
    assert not any(r.possible_duplicate for r in rows)


def test_recording_a_chunk_and_marking_the_next_touches_only_rows_still_held(
    ctx: ServiceContext, staff: Staff
) -> None:
    """The results of one chunk and the "started" mark of the next, written together
    (one statement on PostgreSQL): results land on the rows this worker holds, and the
    mark skips a row another worker has claimed since and says so."""
    for i in range(4):
        subscribe(ctx, f"held{i}@press.example", [staff.health])
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    first, second, third, fourth = (c.id for c in sending.claim(ctx, limit=10))
    with ctx.engine.begin() as connection:  # a successor holds the fourth now
        connection.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == fourth)
            .values(attempts=DeliveryRow.attempts + 1)
        )
    attempts = {row.id: row.attempts for row in deliveries(ctx)}
    attempts[fourth] -= 1  # what this worker claimed
    results = [
        Result(first, Outcome.SENT, "250 ok"),
        Result(second, Outcome.TRANSIENT, "451 later"),
    ]
    with ctx.engine.begin() as connection:
        recorded = sending.settled(results, attempts, ctx.settings, ctx.clock.now())
        marked = delivery_rows.RELEASES.record_and_mark(
            connection, recorded, [(third, 1), (fourth, 1)], ctx.clock.now()
        )
    assert marked == {third}
    rows = {row.id: row for row in deliveries(ctx)}
    assert (rows[first].state, rows[first].smtp_reply) == ("sent", "250 ok")
    assert rows[first].sent_at is not None
    assert (rows[second].state, rows[second].smtp_reply) == ("deferred", "451 later")
    assert rows[third].state == "sending" and rows[third].send_started_at is not None
    assert rows[fourth].state == "sending" and rows[fourth].send_started_at is None


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_an_address_smtp_cannot_carry_fails_alone_and_the_batch_goes_on(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler, pipelining: bool
) -> None:
    """The subscription form takes internationalised addresses (email-validator does),
    but a relay without SMTPUTF8 cannot be given one: that delivery fails at once, with
    the reason, and everyone else in its batch is sent."""
    faulty.faults.pipelining = pipelining
    korean = subscribe(ctx, "기자@press.example", [staff.health])
    others = [
        subscribe(ctx, f"reporter{i}@press.example", [staff.health], name=f"김기자{i}")
        for i in range(4)
    ]
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    states = {r.subscriber_id: (r.state, r.attempts) for r in deliveries(ctx)}
    assert states[korean] == ("failed", 1), "failed at once, not retried"
    assert all(states[other] == ("sent", 1) for other in others)
    assert {m.recipients[0] for m in faulty.received()} == {
        f"reporter{i}@press.example" for i in range(4)
    }
    report = reports.delivery_report(ctx, release_id)
    assert report.failures[0][0] == "기자@press.example"
    assert "SMTPUTF8" in report.failures[0][2]


def test_with_the_memory_backend_a_fan_out_is_delivered_into_memory(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    """``NEWSROOM_MAIL_BACKEND=memory`` applies to distribution as to notifications:
    nothing goes to any relay, every message is kept, and every row is recorded sent."""
    ctx.settings.mail_backend = "memory"
    ctx.settings.smtp_port = 1  # nothing listens there: a message sent by SMTP would fail
    ctx.settings.delivery_record_every = 4
    ids = [
        subscribe(ctx, f"m{i}@press.example", [staff.health], language="en" if i % 2 else "ko")
        for i in range(9)
    ]
    published_release(ctx, staff)
    handle_events(ctx)
    drain(ctx, clock)
    kept = ctx.bulk_mail.sent  # type: ignore[attr-defined]
    rows = deliveries(ctx)
    assert {r.state for r in rows} == {"sent"} and len(rows) == 9
    assert sorted(e.to for e in kept) == sorted(f"m{i}@press.example" for i in range(9))
    english = next(e for e in kept if e.to == "m1@press.example")
    message = message_from_bytes(english.data, policy=policy.default)
    assert message["Message-ID"] == next(r.message_id for r in rows if r.subscriber_id == ids[1])
    assert "Health Meeting" in str(message["Subject"])
