"""Minor and major changes, a release published in error, a superseded release: who is
mailed what, with the real planner and sender against an SMTP server on loopback."""

from __future__ import annotations

from collections import Counter
from datetime import time

from tests.conftest import Staff
from tests.integration.test_distribution import (
    drain,
    handle_events,
    published_release,
    subscribe,
)
from tests.integration.test_release_services import BODY_KO
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release


def subjects(faulty: FaultyHandler) -> Counter[str]:
    return Counter(m.subject.split(" ")[0] for m in faulty.received())


def test_a_minor_change_mails_no_one_and_a_major_one_everyone_who_received_it(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    for i in range(3):
        subscribe(ctx, f"r{i}@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="국제보건 회의 개최",
        body=BODY_KO,
        note="",
        base_revision=1,
        change="minor",
    )
    svc.approve_release(ctx, staff.approver_2, release_id)
    handle_events(ctx)
    drain(ctx, clock)
    assert subjects(faulty) == {"2026-0001": 3}
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="국제보건 회의 개최 (정정)",
        body=BODY_KO,
        note="회의 날짜를 바로잡았습니다.",
        base_revision=2,
        change="major",
    )
    svc.approve_release(ctx, staff.approver_2, release_id)
    handle_events(ctx)
    drain(ctx, clock)
    assert subjects(faulty) == {"2026-0001": 3, "[정정]": 3}


def test_published_in_error_asks_its_recipients_to_disregard_it(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    for i in range(3):
        subscribe(ctx, f"r{i}@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    subscribe(ctx, "late@press.example", [staff.health])  # never received it
    svc.unpublish_release(ctx, staff.approver, release_id, "다른 부처의 자료였습니다.")
    handle_events(ctx)
    drain(ctx, clock)
    assert subjects(faulty) == {"2026-0001": 3, "[배포": 3}
    disregard = [m for m in faulty.received() if m.subject.startswith("[배포 취소]")]
    assert len(disregard) == 3
    for mail in disregard:
        text = mail.message.get_body(("plain",))
        assert text is not None and "무시해 주시기 바랍니다" in text.get_content()
    assert all("late@press.example" not in m.recipients for m in faulty.received())


def test_a_superseded_release_mails_no_one_for_itself(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    subscribe(ctx, "r@press.example", [staff.health])
    old = published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    new = published_release(ctx, staff, english=False)
    number = get_release(ctx, new).number
    assert number is not None
    svc.supersede_release(ctx, staff.approver, old, number)
    handle_events(ctx)
    drain(ctx, clock)
    # The replacement's own email, as anyone following the topic gets it; nothing else.
    assert sorted(subjects(faulty)) == ["2026-0001", "2026-0002"]


def test_a_release_taken_down_before_its_publication_was_handled_mails_no_one(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    """Published and taken down as published in error before the worker handled the
    publication: the news it would have sent no longer holds, and no one holds it."""
    for i in range(2):
        subscribe(ctx, f"r{i}@press.example", [staff.health], digest_time=time(8) if i else None)
    release_id = published_release(ctx, staff, english=False)
    clock.advance(minutes=1)
    svc.unpublish_release(ctx, staff.approver, release_id, "잘못 배포되었습니다.")
    handle_events(ctx)
    drain(ctx, clock)
    assert faulty.received() == []
