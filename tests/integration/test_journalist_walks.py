"""What three or four journalists receive through the embargo, correction and
translation lifecycle, with real worker and beat processes and an SMTP server on
loopback: every walk ends with each journalist holding the text that is live.

The journalists follow one topic: one trusted with embargoed copies, who reads Korean;
a Korean and an English reader; in the bilingual walks, one who reads both.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Staff
from tests.integration.test_distribution import subscribe
from tests.processes import Cluster, wait_for
from workflow.mail.catcher import CatchingHandler, CaughtMail
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

pytestmark = pytest.mark.processes

TRUSTED, KOREAN, ENGLISH, BOTH = (
    "trusted@press.example",
    "korean@press.example",
    "english@press.example",
    "both@press.example",
)
OLD = "지원 규모는 1억 원입니다."
NEW = "지원 규모는 2억 원입니다."


def journalists(live: ServiceContext, staff: Staff, *, both: bool = False) -> None:
    subscribe(live, TRUSTED, [staff.health], language="ko", trusted=True)
    subscribe(live, KOREAN, [staff.health], language="ko")
    subscribe(live, ENGLISH, [staff.health], language="en")
    if both:
        subscribe(live, BOTH, [staff.health], language="both")


def add_english(live: ServiceContext, staff: Staff, release_id: int) -> None:
    svc.edit_version(
        live,
        staff.author,
        release_id,
        language="en",
        title="Global Health Support",
        body="The support amounts to 100 million won.",
        base_revision=0,
    )


def approved(live: ServiceContext, staff: Staff, *, english: bool = False) -> int:
    release_id = svc.create_release(
        live, staff.author, language="ko", title="국제보건 지원", body=OLD, topics=[staff.health]
    ).release_id
    if english:
        add_english(live, staff, release_id)
    svc.submit_release(live, staff.author, release_id)
    svc.approve_release(live, staff.approver, release_id)
    return release_id


def inbox(catcher: CatchingHandler, address: str) -> list[CaughtMail]:
    return [mail for mail in catcher.received() if address in mail.recipients]


def subjects(catcher: CatchingHandler, address: str) -> list[str]:
    return [mail.subject.split(" ")[0] for mail in inbox(catcher, address)]


def text(mail: CaughtMail) -> str:
    part = mail.message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def arrived(catcher: CatchingHandler, address: str, count: int, what: str) -> None:
    wait_for(lambda: len(inbox(catcher, address)) >= count, 60, what)


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.fixture
def running(cluster: Cluster) -> Cluster:
    cluster.worker()
    cluster.beat()
    return cluster


def test_a_trusted_journalist_holding_stale_embargoed_text_ends_with_the_live_text(
    live: ServiceContext, staff: Staff, running: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    catcher, _ = smtp
    journalists(live, staff)
    release_id = approved(live, staff)
    svc.schedule_release(
        live, staff.author, release_id, publish_at=soon(600), embargo_until=soon(660)
    )
    arrived(catcher, TRUSTED, 1, "the embargoed copy")
    assert OLD in text(inbox(catcher, TRUSTED)[0])
    svc.edit_version(
        live,
        staff.author,
        release_id,
        language="ko",
        title="국제보건 지원",
        body=NEW,
        base_revision=1,
    )
    arrived(catcher, TRUSTED, 2, "the embargo held until further notice")
    svc.approve_release(live, staff.approver, release_id)  # the edit sent it back to review
    embargo = soon(8)
    svc.schedule_release(live, staff.author, release_id, publish_at=soon(4), embargo_until=embargo)
    arrived(catcher, TRUSTED, 3, "the updated embargoed copy")
    update = inbox(catcher, TRUSTED)[2]
    assert NEW in text(update) and OLD not in text(update)
    assert f"{embargo.astimezone(live.settings.office_zone):%H:%M}" in update.subject
    assert inbox(catcher, KOREAN) == [], "nothing to readers before the embargo lifts"
    arrived(catcher, TRUSTED, 4, "the embargo lifted")
    arrived(catcher, KOREAN, 1, "the release")
    arrived(catcher, ENGLISH, 1, "the release")
    assert datetime.now(UTC) >= embargo
    assert subjects(catcher, TRUSTED) == ["[엠바고", "[엠바고", "[엠바고", "[엠바고"]
    assert [m.subject.split("]")[0] for m in inbox(catcher, TRUSTED)[1:]] == [
        "[엠바고 유지",
        "[엠바고 수정본",
        "[엠바고 해제",
    ]
    lifted = text(inbox(catcher, TRUSTED)[3])
    assert NEW in lifted and OLD not in lifted
    for reader in (KOREAN, ENGLISH):
        [release] = inbox(catcher, reader)
        assert NEW in text(release), "the only version, Korean, to the English reader too"


def test_published_at_once_after_a_postponement_the_holder_gets_the_release_too(
    live: ServiceContext, staff: Staff, running: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    catcher, _ = smtp
    journalists(live, staff)
    release_id = approved(live, staff)
    svc.schedule_release(
        live, staff.author, release_id, publish_at=soon(600), embargo_until=soon(600)
    )
    arrived(catcher, TRUSTED, 1, "the embargoed copy")
    svc.unschedule_release(live, staff.author, release_id)
    arrived(catcher, TRUSTED, 2, "the embargo held until further notice")
    svc.publish_release(live, staff.author, release_id)
    arrived(catcher, TRUSTED, 3, "the embargo lifted")
    arrived(catcher, KOREAN, 1, "the release")
    assert [m.subject.split("]")[0] for m in inbox(catcher, TRUSTED)[1:]] == [
        "[엠바고 유지",
        "[엠바고 해제",
    ]
    assert "2026-" in inbox(catcher, TRUSTED)[2].subject or "-0001" in text(
        inbox(catcher, TRUSTED)[2]
    ), "the number, once there is one"


def test_a_new_time_is_told_and_the_copy_links_to_a_page_that_works(
    live: ServiceContext, staff: Staff, running: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    catcher, _ = smtp
    journalists(live, staff)
    release_id = approved(live, staff)
    svc.schedule_release(
        live, staff.author, release_id, publish_at=soon(600), embargo_until=soon(700)
    )
    arrived(catcher, TRUSTED, 1, "the embargoed copy")
    assert f"/r/{release_id}" in text(inbox(catcher, TRUSTED)[0])
    later = soon(900)
    svc.schedule_release(live, staff.author, release_id, publish_at=later, embargo_until=later)
    arrived(catcher, TRUSTED, 2, "the new time")
    moved = inbox(catcher, TRUSTED)[1]
    assert moved.subject.startswith("[엠바고 변경]")
    assert f"{later.astimezone(live.settings.office_zone):%H:%M}" in text(moved)
    assert OLD not in text(moved), "the text stays with the copy held"
    time.sleep(3)
    assert len(inbox(catcher, TRUSTED)) == 2 and inbox(catcher, KOREAN) == []


def test_a_correction_goes_only_to_readers_of_the_version_it_changes(
    live: ServiceContext, staff: Staff, running: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    catcher, _ = smtp
    journalists(live, staff, both=True)
    release_id = approved(live, staff, english=True)
    svc.publish_release(live, staff.author, release_id)
    for reader in (TRUSTED, KOREAN, ENGLISH, BOTH):
        arrived(catcher, reader, 1, "the release")
    svc.correct_release(
        live,
        staff.officer,
        release_id,
        language="ko",
        title="국제보건 지원",
        body=NEW,
        note="지원 규모를 바로잡습니다.",
        base_revision=1,
    )
    svc.approve_release(live, staff.approver, release_id)
    for reader in (TRUSTED, KOREAN, BOTH):
        arrived(catcher, reader, 2, "the Korean correction")
    time.sleep(3)
    assert len(inbox(catcher, ENGLISH)) == 1, "the English version did not change"
    assert inbox(catcher, KOREAN)[1].subject.startswith("[정정]")
    assert NEW in text(inbox(catcher, KOREAN)[1])
    assert "지원 규모를 바로잡습니다." in text(inbox(catcher, KOREAN)[1]), "its own note"
    svc.correct_release(
        live,
        staff.officer,
        release_id,
        language="en",
        title="Global Health Support",
        body="The support amounts to 200 million won.",
        note="The amount is corrected.",
        base_revision=1,
    )
    svc.approve_release(live, staff.approver, release_id)
    arrived(catcher, ENGLISH, 2, "the English correction")
    arrived(catcher, BOTH, 3, "the English correction")
    time.sleep(3)
    assert len(inbox(catcher, KOREAN)) == 2, "the Korean version did not change again"
    english = text(inbox(catcher, ENGLISH)[1])
    assert inbox(catcher, ENGLISH)[1].subject.startswith("[CORRECTED]")
    assert "The amount is corrected." in english and "바로잡습니다" not in english
    both = text(inbox(catcher, BOTH)[2])
    assert "The amount is corrected." in both, "a reader of both: the note of what changed"
    assert "바로잡습니다" not in both, "not the earlier Korean note again"


def test_a_translation_live_after_publication_reaches_its_readers_once(
    live: ServiceContext, staff: Staff, running: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    catcher, _ = smtp
    journalists(live, staff)
    release_id = approved(live, staff)
    svc.publish_release(live, staff.author, release_id)
    arrived(catcher, ENGLISH, 1, "the Korean release")
    add_english(live, staff, release_id)
    svc.approve_release(live, staff.approver, release_id)
    arrived(catcher, ENGLISH, 2, "the translation")
    translation = inbox(catcher, ENGLISH)[1]
    assert translation.subject.startswith("[TRANSLATION]")
    assert "100 million won" in text(translation)
    time.sleep(3)
    assert len(inbox(catcher, KOREAN)) == 1 and len(inbox(catcher, ENGLISH)) == 2


def test_a_withdrawal_reaches_everyone_who_was_sent_anything(
    live: ServiceContext, staff: Staff, running: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    catcher, _ = smtp
    journalists(live, staff)
    release_id = approved(live, staff)
    svc.schedule_release(
        live, staff.author, release_id, publish_at=soon(600), embargo_until=soon(600)
    )
    arrived(catcher, TRUSTED, 1, "the embargoed copy")
    svc.withdraw_release(live, staff.approver, release_id, "잘못 배포되었습니다.")
    arrived(catcher, TRUSTED, 2, "the withdrawal")
    assert inbox(catcher, TRUSTED)[1].subject.startswith("[철회]")
    time.sleep(3)
    assert inbox(catcher, KOREAN) == [] and inbox(catcher, ENGLISH) == [], "they had nothing"
