"""Workflow notifications through the services, with an in-memory sender and a real one
on loopback: who is told what, once, in their language."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from tests.conftest import Staff
from tests.integration.test_release_services import (
    BODY_EN,
    BODY_KO,
    add_english,
    approved,
    draft,
)
from workflow import handlers, outbox
from workflow.clock import FrozenClock
from workflow.db.tables import NotificationRow
from workflow.domain.users import CONSOLE
from workflow.mail.catcher import CatchingHandler
from workflow.mail.message import OutgoingMail
from workflow.mail.mime import HeaderInjection
from workflow.mail.senders import (
    MemorySender,
    PermanentMailError,
    SmtpSender,
    TransientMailError,
)
from workflow.services import people
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.notifications import (
    queue_deadline_notices,
    send_due_notifications,
)


def handle_all(ctx: ServiceContext) -> int:
    """What the relay and the consumer do, in-process: every pending event, handled."""
    added = 0
    with ctx.uow() as uow:
        entries = outbox.pending(uow.session, ctx.clock.now(), limit=1000)
    for entry in entries:
        added += handlers.store_event_notices(ctx, entry.event)
    return added


def rows(ctx: ServiceContext) -> list[NotificationRow]:
    with ctx.uow() as uow:
        found = list(uow.session.scalars(select(NotificationRow).order_by(NotificationRow.id)))
        uow.session.expunge_all()  # readable after the block ends
        return found


def test_each_step_tells_the_right_people_in_their_language(
    ctx: ServiceContext, staff: Staff
) -> None:
    english = people.add_user(
        ctx,
        CONSOLE.id,
        email="reviewer@newsroom.example",
        name="Reviewer",
        roles=["approver"],
        language="en",
    )
    release_id = svc.create_release(
        ctx,
        staff.author,
        language="ko",
        title="<b>회의</b> 개최",
        body=BODY_KO,
        topics=[staff.health],
    ).release_id
    svc.submit_release(ctx, staff.author, release_id)
    svc.request_changes(ctx, english, release_id, "Add the venue.")
    handle_all(ctx)
    sent = {(r.kind, r.to_address): r for r in rows(ctx)}
    assert set(sent) == {
        ("review_requested", "approver@newsroom.example"),
        ("review_requested", "director@newsroom.example"),
        ("review_requested", "both@newsroom.example"),
        ("review_requested", "reviewer@newsroom.example"),
        ("changes_requested", "author@newsroom.example"),
    }
    assert sent[("review_requested", "reviewer@newsroom.example")].subject == (
        "[Review requested] <b>회의</b> 개최"
    )
    changes = sent[("changes_requested", "author@newsroom.example")]
    assert changes.subject == "[수정 요청] <b>회의</b> 개최"
    assert "Add the venue." in changes.body_text
    assert "&lt;b&gt;회의&lt;/b&gt;" in changes.body_html and "<b>회의</b>" not in changes.body_html


def test_handling_an_event_twice_adds_nothing(ctx: ServiceContext, staff: Staff) -> None:
    approved(ctx, staff)
    first = handle_all(ctx)
    assert first == 3 + 1  # three approvers asked to review, the author told of approval
    assert handle_all(ctx) == 0
    assert len(rows(ctx)) == first


def test_an_event_that_tells_no_one_reads_nothing(ctx: ServiceContext, staff: Staff) -> None:
    """Most events (a release created, an approval given) notify no one by their kind;
    the consumer handles every event, so these read no rows at all."""
    approved(ctx, staff)
    with ctx.uow() as uow:
        events = [e.event for e in outbox.pending(uow.session, ctx.clock.now(), limit=1000)]
    silent = [e for e in events if e.type_name in {"ReleaseCreated", "ApprovalGiven"}]
    assert silent, [e.type_name for e in events]
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        for silent_event in silent:
            assert handlers.store_event_notices(ctx, silent_event) == 0
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")], statements


def test_translators_hear_of_a_corrected_original(ctx: ServiceContext, staff: Staff) -> None:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="원문", body=BODY_KO, topics=[staff.health]
    ).release_id
    request_id = svc.request_translation(
        ctx, staff.author, release_id, target_language="en", translator_id=staff.translator
    )
    svc.submit_translation(
        ctx, staff.translator, request_id, title="Original", body=BODY_EN, base_revision=0
    )
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="원문 (정정)",
        body=BODY_KO,
        note="날짜 정정",
        base_revision=1,
    )
    svc.approve_release(ctx, staff.approver_2, release_id)
    handle_all(ctx)
    corrected = [r for r in rows(ctx) if r.kind == "original_corrected"]
    assert [(r.to_address, r.language) for r in corrected] == [
        ("translator@newsroom.example", "ko")
    ]
    assert "날짜 정정" in corrected[0].body_text


class FlakySender(MemorySender):
    def __init__(self, error: Exception | None) -> None:
        super().__init__()
        self.error = error

    def send(self, mail: OutgoingMail) -> None:
        if self.error is not None:
            raise self.error
        super().send(mail)


def test_transient_failures_are_retried_later_and_permanent_ones_fail_at_once(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    approved(ctx, staff)
    handle_all(ctx)
    report = send_due_notifications(ctx, FlakySender(TransientMailError("451 try later")))
    assert report.deferred == 4
    assert send_due_notifications(ctx, MemorySender()).sent == 0, "not due yet: backoff"
    clock.advance(seconds=20)
    working = MemorySender()
    assert send_due_notifications(ctx, working).sent == 4
    assert {r.state for r in rows(ctx)} == {"sent"}
    assert len({m.message_id for m in working.sent}) == 4

    approved(ctx, staff, "둘째")
    handle_all(ctx)
    report = send_due_notifications(
        ctx, FlakySender(PermanentMailError("550 no such user", code=550))
    )
    assert report.failed > 0 and report.deferred == 0
    failed = [r for r in rows(ctx) if r.state == "failed"]
    assert failed and all(r.attempts == 1 and r.last_error.startswith("550") for r in failed)


def test_a_sender_killed_mid_send_leaves_its_claim_to_expire(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    approved(ctx, staff)
    handle_all(ctx)

    class Killed(BaseException):
        pass

    with pytest.raises(Killed):
        send_due_notifications(ctx, FlakySender(Killed()))  # type: ignore[arg-type]
    assert {r.state for r in rows(ctx)} == {"sending"}
    assert send_due_notifications(ctx, MemorySender()).sent == 0, "the lease still holds"
    clock.advance(minutes=3)
    assert send_due_notifications(ctx, MemorySender()).sent == 4


def test_reminders_and_escalations_go_out_once(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="기한", body=BODY_KO, topics=[staff.health]
    ).release_id
    svc.request_translation(
        ctx,
        staff.author,
        release_id,
        target_language="en",
        due_at=clock.now() + timedelta(hours=10),
    )
    assert queue_deadline_notices(ctx) == 0
    clock.advance(hours=5)  # six hours before the due time: the reminder
    assert queue_deadline_notices(ctx) == 1
    assert queue_deadline_notices(ctx) == 0
    clock.advance(hours=6)  # past due: the requester hears of it
    assert queue_deadline_notices(ctx) == 1
    assert queue_deadline_notices(ctx) == 0
    kinds = [(r.kind, r.to_address) for r in rows(ctx)]
    assert kinds == [
        ("translation_reminder", "translator@newsroom.example"),
        ("translation_overdue", "author@newsroom.example"),
    ]


def test_the_smtp_sender_delivers_multipart_mail_and_refuses_header_injection(
    smtp: tuple[CatchingHandler, int], clock: FrozenClock
) -> None:
    catcher, port = smtp
    sender = SmtpSender("127.0.0.1", port, timeout=5)
    mail = OutgoingMail(
        to="kim@newsroom.example",
        subject="[게시] 2026-0001 제목",
        text="본문",
        html="<p>본문</p>",
        sender="Newsroom <newsroom@newsroom.example>",
        message_id="<1@newsroom.example>",
        date=clock.now(),
    )
    sender.send(mail)
    [caught] = catcher.received()
    assert caught.subject == "[게시] 2026-0001 제목" and caught.message_id == "<1@newsroom.example>"
    assert [p.get_content_type() for p in caught.message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    with pytest.raises(HeaderInjection):
        sender.send(replace(mail, subject="Hi\r\nBcc: everyone@example.org"))
    assert len(catcher.received()) == 1


def test_an_unreachable_relay_is_a_transient_failure(clock: FrozenClock) -> None:
    from tests.integration.conftest import free_port

    sender = SmtpSender("127.0.0.1", free_port(), timeout=2)
    with pytest.raises(TransientMailError):
        sender.send(
            OutgoingMail(
                to="a@newsroom.example",
                subject="s",
                text="t",
                html="h",
                sender="n@newsroom.example",
                message_id="<3@x>",
                date=clock.now(),
            )
        )


def english_approver(ctx: ServiceContext) -> int:
    return people.add_user(
        ctx,
        CONSOLE.id,
        email="reviewer@newsroom.example",
        name="Reviewer",
        roles=["approver"],
        language="en",
    )


def english_officer(ctx: ServiceContext) -> int:
    return people.add_user(
        ctx,
        CONSOLE.id,
        email="desk@newsroom.example",
        name="Desk",
        roles=["press_officer"],
        language="en",
    )


def of_kind(
    ctx: ServiceContext, kind: str, release_id: int | None = None
) -> dict[str, NotificationRow]:
    """The stored notifications of one kind (about one release), by recipient."""
    found = [r for r in rows(ctx) if r.kind == kind and release_id in (None, r.release_id)]
    by_address = {r.to_address: r for r in found}
    assert len(by_address) == len(found), "one each"
    return by_address


def published(ctx: ServiceContext, staff: Staff) -> int:
    release_id = approved(ctx, staff)
    svc.publish_release(ctx, staff.author, release_id)
    return release_id


def test_approvers_hear_of_a_proposed_correction_with_its_note(
    ctx: ServiceContext, staff: Staff
) -> None:
    english_approver(ctx)
    release_id = published(ctx, staff)
    svc.correct_release(
        ctx,
        staff.officer_approver,
        release_id,
        language="ko",
        title="전문가 회의 개최",
        body=BODY_KO,
        note="참석 인원을 20여 명으로 정정",
        base_revision=1,
    )
    handle_all(ctx)
    told = of_kind(ctx, "correction_proposed")
    assert set(told) == {
        "approver@newsroom.example",
        "director@newsroom.example",
        "reviewer@newsroom.example",
    }, "every approver but the proposer"
    korean, english = told["approver@newsroom.example"], told["reviewer@newsroom.example"]
    assert korean.subject == "[정정 검토 요청] 전문가 회의 개최"
    assert "Han Ye-jin님이 게시된 보도자료의 한국어 본문 정정을 제안했습니다" in korean.body_text
    assert "한국어: 참석 인원을 20여 명으로 정정" in korean.body_text
    assert "참석 인원을 20여 명으로 정정" in korean.body_html
    assert english.subject == "[Correction proposed] 전문가 회의 개최"
    assert "Han Ye-jin proposed a correction of the published release's Korean text" in (
        english.body_text
    )
    assert "Korean: 참석 인원을 20여 명으로 정정" in english.body_text
    assert handle_all(ctx) == 0


def test_a_correction_of_both_versions_shows_approvers_each_note(
    ctx: ServiceContext, staff: Staff
) -> None:
    english_approver(ctx)
    release_id = draft(ctx, staff)
    add_english(ctx, staff, release_id)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    svc.save_edits(
        ctx,
        staff.officer,
        release_id,
        texts={
            "ko": svc.VersionEdit("전문가 회의 개최", BODY_KO + "\n3. 추가", base_revision=1),
            "en": svc.VersionEdit("Experts Meet", BODY_EN + "\n3. Added", base_revision=1),
        },
        notes={"ko": "3항 추가", "en": "Paragraph 3 added"},
    )
    handle_all(ctx)
    told = of_kind(ctx, "correction_proposed")
    korean, english = told["approver@newsroom.example"], told["reviewer@newsroom.example"]
    assert "게시된 보도자료의 한국어와 영어 본문 정정을 제안했습니다" in korean.body_text
    assert "한국어: 3항 추가" in korean.body_text and "영어: Paragraph 3 added" in korean.body_text
    assert "the published release's Korean and English text" in english.body_text
    assert "Korean: 3항 추가" in english.body_text
    assert "English: Paragraph 3 added" in english.body_text
    assert '<span lang="en">Paragraph 3 added</span>' in english.body_html


def test_the_officer_who_asked_hears_that_a_translation_was_handed_in(
    ctx: ServiceContext, staff: Staff
) -> None:
    for requester, title in ((staff.officer, "첫째"), (english_officer(ctx), "둘째")):
        release_id = svc.create_release(
            ctx, staff.author, language="ko", title=title, body=BODY_KO, topics=[staff.health]
        ).release_id
        request_id = svc.request_translation(
            ctx, requester, release_id, target_language="en", translator_id=staff.translator
        )
        svc.submit_translation(
            ctx, staff.translator, request_id, title=title, body=BODY_EN, base_revision=0
        )
    handle_all(ctx)
    told = of_kind(ctx, "translation_submitted")
    assert set(told) == {"officer@newsroom.example", "desk@newsroom.example"}
    korean, english = told["officer@newsroom.example"], told["desk@newsroom.example"]
    assert korean.subject == "[번역 제출] 첫째"
    assert "Choi Ha-eun님이 요청하신 영어 번역을 제출했습니다." in korean.body_text
    assert english.subject == "[Translation handed in] 둘째"
    assert "Choi Ha-eun handed in the English translation you asked for." in english.body_text
    assert handle_all(ctx) == 0


def test_approvers_hear_that_an_edit_sent_an_approved_release_back_to_review(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    english_approver(ctx)
    was_approved = approved(ctx, staff, "승인됨")
    svc.edit_version(
        ctx,
        staff.officer_approver,
        was_approved,
        language="ko",
        title="승인됨",
        body=BODY_KO + "\n3. 추가",
        base_revision=1,
    )
    was_scheduled = approved(ctx, staff, "예약됨")
    svc.schedule_release(
        ctx, staff.author, was_scheduled, publish_at=clock.now() + timedelta(hours=2)
    )
    svc.edit_version(
        ctx,
        staff.author,
        was_scheduled,
        language="en",
        title="Scheduled",
        body=BODY_EN,
        base_revision=0,
    )
    in_review = draft(ctx, staff, "검토 중")
    svc.submit_release(ctx, staff.author, in_review)
    svc.edit_version(
        ctx, staff.author, in_review, language="ko", title="검토 중", body=BODY_KO, base_revision=1
    )
    handle_all(ctx)

    approvers = {
        "approver@newsroom.example",
        "director@newsroom.example",
        "both@newsroom.example",
        "reviewer@newsroom.example",
    }
    after_approval = of_kind(ctx, "sent_back_to_review", was_approved)
    assert set(after_approval) == approvers - {"both@newsroom.example"}, "not the editor"
    korean = after_approval["approver@newsroom.example"]
    assert korean.subject == "[재검토 요청] 승인됨"
    assert (
        "Han Ye-jin님이 승인된 보도자료의 한국어 본문을 편집하여 보도자료가 다시 검토 단계로 "
        "돌아왔습니다. 지금까지의 승인은 무효가 되었습니다." in korean.body_text
    )
    after_schedule = of_kind(ctx, "sent_back_to_review", was_scheduled)
    assert set(after_schedule) == approvers
    english = after_schedule["reviewer@newsroom.example"]
    assert english.subject == "[Back in review] 예약됨"
    assert (
        "Kim Min-ji edited the English text of the release after it was scheduled, which sent "
        "it back to review: the approvals it had are void and its scheduled publication is "
        "cancelled." in english.body_text
    )
    assert "예약된 공개도 취소되었습니다" in after_schedule["approver@newsroom.example"].body_html
    assert of_kind(ctx, "sent_back_to_review", in_review) == {}, "it was in review already"
    assert handle_all(ctx) == 0


def scheduled_under_embargo(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, author: int, title: str
) -> int:
    """Published by the scheduler in an hour, public an hour after that."""
    release_id = svc.create_release(
        ctx, author, language="ko", title=title, body=BODY_KO, topics=[staff.health]
    ).release_id
    svc.submit_release(ctx, author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.schedule_release(
        ctx,
        author,
        release_id,
        publish_at=clock.now() + timedelta(hours=1),
        embargo_until=clock.now() + timedelta(hours=2),
    )
    return release_id


def test_published_says_when_an_embargoed_release_becomes_public(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    at_once = approved(ctx, staff, "즉시")
    svc.publish_release(ctx, staff.officer, at_once)
    korean = scheduled_under_embargo(ctx, staff, clock, staff.author, "엠바고")
    english = scheduled_under_embargo(ctx, staff, clock, english_officer(ctx), "Embargoed")
    clock.advance(hours=1)
    assert svc.publish_due(ctx) == [korean, english]
    handle_all(ctx)

    plain = of_kind(ctx, "release_published", at_once)["author@newsroom.example"]
    assert plain.subject == "[게시] 2026-0001 즉시"
    assert "보도자료가 2026-0001번으로 게시되었습니다." in plain.body_text
    assert "공개됩니다" not in plain.body_text
    held = of_kind(ctx, "release_published", korean)["author@newsroom.example"]
    assert held.subject == "[게시] 2026-0002 엠바고 (2026-05-14 11:00 KST 공개)"
    assert (
        "보도자료가 2026-0002번으로 게시되었고, 엠바고가 해제되는 2026-05-14 11:00 KST부터 "
        "공개됩니다." in held.body_text
    )
    assert "2026-05-14 11:00 KST부터 공개됩니다" in held.body_html
    held_en = of_kind(ctx, "release_published", english)["desk@newsroom.example"]
    assert held_en.subject == "[Published] 2026-0003 Embargoed (public from 2026-05-14 11:00 KST)"
    assert (
        "Your release was published as number 2026-0003 and is public from 2026-05-14 11:00 "
        "KST, when its embargo lifts" in held_en.body_text
    )


def now_public(sender: MemorySender) -> list[tuple[str, str]]:
    return sorted(
        (m.to, m.subject) for m in sender.sent if m.subject.startswith(("[공개]", "[Now public]"))
    )


def test_the_author_hears_that_the_release_is_public_when_its_embargo_lifts(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    korean = scheduled_under_embargo(ctx, staff, clock, staff.author, "엠바고")
    english = scheduled_under_embargo(ctx, staff, clock, english_officer(ctx), "Embargoed")
    at_once = approved(ctx, staff, "즉시")
    clock.advance(hours=1)
    assert svc.publish_due(ctx) == [korean, english]
    svc.publish_release(ctx, staff.officer, at_once)
    handle_all(ctx)
    assert of_kind(ctx, "release_now_public", at_once) == {}, "public when published"
    sender = MemorySender()
    send_due_notifications(ctx, sender)
    assert any(m.subject.startswith("[게시] 2026-0001") for m in sender.sent)
    assert now_public(sender) == [], "published, but not public yet"
    clock.advance(minutes=59)
    send_due_notifications(ctx, sender)
    assert now_public(sender) == []

    clock.advance(minutes=1)  # the embargo lifts
    assert send_due_notifications(ctx, sender).sent == 2
    assert now_public(sender) == [
        ("author@newsroom.example", "[공개] 2026-0001 엠바고"),
        ("desk@newsroom.example", "[Now public] 2026-0002 Embargoed"),
    ]
    by_address = {m.to: m for m in sender.sent if m.subject.startswith(("[공개]", "[Now"))}
    assert (
        "2026-0001번 보도자료의 엠바고가 2026-05-14 11:00 KST에 해제되어 이제 공개 사이트에서 "
        "누구나 볼 수 있습니다." in by_address["author@newsroom.example"].text
    )
    assert (
        "The embargo on release 2026-0002 lifted at 2026-05-14 11:00 KST: it is now on the "
        "public site for anyone to read." in by_address["desk@newsroom.example"].text
    )
    assert handle_all(ctx) == 0
    assert send_due_notifications(ctx, sender).sent == 0


def test_a_release_withdrawn_under_embargo_is_never_said_to_be_public(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = scheduled_under_embargo(ctx, staff, clock, staff.author, "철회")
    clock.advance(hours=1)
    svc.publish_due(ctx)
    svc.withdraw_release(ctx, staff.approver, release_id, "수치 오류")
    handle_all(ctx)
    clock.advance(hours=1)
    sender = MemorySender()
    send_due_notifications(ctx, sender)
    assert now_public(sender) == []
    held = of_kind(ctx, "release_now_public", release_id)["author@newsroom.example"]
    assert held.state == "cancelled"


def test_approvers_are_asked_to_review_a_translation_added_after_publication(
    ctx: ServiceContext, staff: Staff
) -> None:
    english_approver(ctx)
    release_id = approved(ctx, staff, "번역 대기")
    svc.publish_release(ctx, staff.author, release_id)
    handle_all(ctx)
    svc.edit_version(
        ctx,
        staff.author,
        release_id,
        language="en",
        title="Awaiting translation",
        body=BODY_EN,
        base_revision=0,
    )
    handle_all(ctx)
    asked = of_kind(ctx, "translation_to_review", release_id)
    assert set(asked) == {
        "approver@newsroom.example",
        "director@newsroom.example",
        "both@newsroom.example",
        "reviewer@newsroom.example",
    }
    assert asked["approver@newsroom.example"].subject == "[번역 검토 요청] 번역 대기"
    assert asked["reviewer@newsroom.example"].subject == "[Translation to review] 번역 대기"
    assert "added the English translation" in asked["reviewer@newsroom.example"].body_text
    assert of_kind(ctx, "sent_back_to_review", release_id) == {}, "it was not approved text"
    assert handle_all(ctx) == 0
