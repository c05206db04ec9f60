"""Every kind of message a subscriber can receive, in Korean and English, produced by
the real workflow and sent through a real SMTP server on loopback.

One walk through a release's life (embargoed copy, embargo held, updated copy, moved
embargo, lifted, correction, withdrawal) and a second release's (published in Korean
only, its English translation, published in error) gives each kind to a Korean and an
English reader. Used by the header and part checks and by the browser's layout checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from email.message import EmailMessage

from tests.conftest import Staff
from tests.integration.test_distribution import drain, handle_events, subscribe
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.distribution import planning, sending
from workflow.domain.users import CONSOLE
from workflow.services import people
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

KOREAN, ENGLISH = "ko-reader@press.example", "en-reader@press.example"
TRUSTED_KO, TRUSTED_EN = "ko-trusted@press.example", "en-trusted@press.example"
DIGEST_KO, DIGEST_EN = "ko-digest@press.example", "en-digest@press.example"
READERS = {
    KOREAN: "ko",
    ENGLISH: "en",
    TRUSTED_KO: "ko",
    TRUSTED_EN: "en",
    DIGEST_KO: "ko",
    DIGEST_EN: "en",
}

BODY_KO = """1. 외교부는 12월 7일 서울에서 글로벌 보건 안보를 위한 국제회의를 개최하였다.

   o 회의에는 20여 개국 대표가 참석하였다.

2. 정부는 개발도상국의 보건 체계 강화를 위해 1억 원을 지원할 예정이다.
"""
BODY_EN = """1. The Ministry of Foreign Affairs hosted an international conference on global
health security in Seoul on 7 December.

   - Representatives of some 20 countries attended.

2. The Government will provide 100 million won to strengthen health systems in
developing countries.
"""


@dataclass(frozen=True)
class Received:
    kind: str
    lang: str
    to: str
    message: EmailMessage

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.lang}"

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


def every_kind(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> dict[str, Received]:
    """``{"release-ko": …, "embargoed_release-en": …, …}``: the first message of each
    kind each reader language received; ``korean_only-*``, the release of a Korean text
    not yet translated."""
    people.rename_topic(ctx, CONSOLE.id, staff.health, "Global Health", "글로벌 보건")
    subscribe(ctx, KOREAN, [staff.health], name="김기자")
    subscribe(ctx, ENGLISH, [staff.health], language="en", name="Jane Reporter")
    subscribe(ctx, TRUSTED_KO, [staff.health], trusted=True, name="박기자")
    subscribe(ctx, TRUSTED_EN, [staff.health], language="en", trusted=True, name="John Wire")
    # Readers of a daily digest at 08:00: every other kind reaches them at once.
    subscribe(ctx, DIGEST_KO, [staff.health], name="이기자", digest_time=time(8))
    subscribe(ctx, DIGEST_EN, [staff.health], language="en", name="Ann Desk", digest_time=time(8))
    kinds: list[str] = []
    seen = 0

    def step(kind: str) -> None:
        nonlocal seen
        handle_events(ctx)
        drain(ctx, clock)
        got = faulty.received()
        kinds.extend([kind] * (len(got) - seen))
        seen = len(got)
        clock.advance(minutes=1)  # the next act comes later, as it would

    # An embargoed release in both languages, from copy to withdrawal.
    release_id = svc.create_release(
        ctx,
        staff.author,
        language="ko",
        title="글로벌 보건 안보를 위한 국제회의 개최",
        subtitle="20여 개국 대표 참석, 개발도상국 보건 체계 지원 합의",
        body=BODY_KO,
        topics=[staff.health],
    ).release_id
    svc.edit_version(
        ctx,
        staff.author,
        release_id,
        language="en",
        title="International Conference on Global Health Security",
        subtitle="Representatives of 20 countries agree to support health systems",
        body=BODY_EN,
        base_revision=0,
    )
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    publish_at = clock.now() + timedelta(hours=3)
    svc.schedule_release(
        ctx, staff.author, release_id, publish_at=publish_at, embargo_until=publish_at
    )
    step("embargoed_release")
    svc.edit_version(
        ctx,
        staff.author,
        release_id,
        language="ko",
        title="글로벌 보건 안보를 위한 국제회의 개최",
        body=BODY_KO.replace("1억 원", "2억 원"),
        base_revision=1,
    )
    step("embargo_suspended")
    svc.approve_release(ctx, staff.approver, release_id)
    svc.schedule_release(
        ctx, staff.author, release_id, publish_at=publish_at, embargo_until=publish_at
    )
    step("embargo_update")
    publish_at += timedelta(hours=1)
    svc.schedule_release(
        ctx, staff.author, release_id, publish_at=publish_at, embargo_until=publish_at
    )
    step("embargo_change")
    clock.current = publish_at
    svc.publish_scheduled(ctx, release_id)
    step("embargo_lifted|release")
    for language, note in (("ko", "지원 금액을 바로잡습니다."), ("en", "The amount is corrected.")):
        svc.correct_release(
            ctx,
            staff.officer,
            release_id,
            language=language,
            title="글로벌 보건 안보를 위한 국제회의 개최"
            if language == "ko"
            else "International Conference on Global Health Security",
            body=(BODY_KO if language == "ko" else BODY_EN).replace("1", "3", 1),
            note=note,
            base_revision=2 if language == "ko" else 1,
        )
        svc.approve_release(ctx, staff.approver_2, release_id)
    step("correction")
    svc.withdraw_release(ctx, staff.approver, release_id, "행사가 연기되었습니다.")
    step("withdrawal")

    # A release in Korean only, then its English, then found published in error.
    second = svc.create_release(
        ctx,
        staff.author,
        language="ko",
        title="재외국민 안전 공지",
        body=BODY_KO,
        topics=[staff.health],
    ).release_id
    svc.submit_release(ctx, staff.author, second)
    svc.approve_release(ctx, staff.approver, second)
    svc.publish_release(ctx, staff.author, second)
    step("korean_only")
    svc.edit_version(
        ctx,
        staff.author,
        second,
        language="en",
        title="Safety Notice for Nationals Abroad",
        body=BODY_EN,
        base_revision=0,
    )
    svc.approve_release(ctx, staff.approver, second)
    step("translation")
    svc.unpublish_release(ctx, staff.approver, second, "잘못 배포되었습니다.")
    step("disregard")

    # A release that stays, then the next morning's digest (the others were taken back).
    third = svc.create_release(
        ctx,
        staff.author,
        language="ko",
        title="한-아세안 보건 협력 강화",
        subtitle="보건 안보 공동 대응 체계 구축",
        body=BODY_KO,
        topics=[staff.health],
    ).release_id
    svc.edit_version(
        ctx,
        staff.author,
        third,
        language="en",
        title="Korea and ASEAN Strengthen Health Cooperation",
        body=BODY_EN,
        base_revision=0,
    )
    svc.submit_release(ctx, staff.author, third)
    svc.approve_release(ctx, staff.approver, third)
    svc.publish_release(ctx, staff.author, third)
    step("release")
    clock.current = (
        (clock.now() + timedelta(days=1))
        .astimezone(ctx.settings.office_zone)
        .replace(hour=8, minute=0, second=5)
    )
    planning.plan_digests(ctx)
    while sending.send_batch(ctx, limit=50, connections=2, mailing=sending.DIGESTS).claimed:
        pass
    step("digest")

    found: dict[str, Received] = {}
    for kind, mail in zip(kinds, faulty.received(), strict=True):
        [to] = mail.recipients
        message = mail.message
        assert isinstance(message, EmailMessage)
        actual = _kind_of(kind, str(message["Subject"]))
        key = f"{kind}-{READERS[to]}"  # "korean_only-en": a release in Korean only
        if kind != "korean_only":
            key = f"{actual}-{READERS[to]}"
        found.setdefault(key, Received(actual, READERS[to], to, message))
    return found


def _kind_of(step: str, subject: str) -> str:
    """The step that publishes an embargoed release sends two kinds."""
    if step == "korean_only":
        return "release"
    if step != "embargo_lifted|release":
        return step
    return (
        "embargo_lifted" if subject.startswith(("[EMBARGO LIFTED]", "[엠바고 해제]")) else "release"
    )
