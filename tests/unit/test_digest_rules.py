"""The daily digest's pure rules: which day's digest a release goes in, when each day's is
due, in the office's time zone (Asia/Seoul, without daylight saving time, and zones with
it); what waits for a digest; what the subscriber chooses; what a digest says."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.distribution import digests, rules
from workflow.distribution.rules import Holding, Message, Recipient
from workflow.domain.errors import ValidationFailed
from workflow.domain.subscribers import delivery_choice, digest_time, time_of_day

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # daylight saving time of half an hour
EIGHT = time(8, 0)


def seoul(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, second, tzinfo=SEOUL)


def test_a_release_before_the_digest_time_is_in_that_days_digest_and_after_it_the_next() -> None:
    assert digests.day_of(seoul(14, 7, 59, 59), EIGHT, SEOUL) == date(2026, 5, 14)
    assert digests.day_of(seoul(14, 8), EIGHT, SEOUL) == date(2026, 5, 15), "at the time: next"
    assert digests.day_of(seoul(14, 23, 59), EIGHT, SEOUL) == date(2026, 5, 15)
    assert digests.day_of(seoul(15, 0, 0), EIGHT, SEOUL) == date(2026, 5, 15)
    # A digest at midnight carries the day before: 00:00 starts the next day's.
    assert digests.day_of(seoul(14, 23, 59), time(0), SEOUL) == date(2026, 5, 15)
    assert digests.day_of(seoul(15, 0, 0), time(0), SEOUL) == date(2026, 5, 16)


def test_the_day_is_the_office_day_whatever_the_moment_is_given_in() -> None:
    moment = datetime(2026, 5, 13, 23, 30, tzinfo=UTC)  # 08:30 on the 14th in Seoul
    assert digests.day_of(moment, EIGHT, SEOUL) == date(2026, 5, 15)
    assert digests.cutoff(date(2026, 5, 14), EIGHT, SEOUL) == datetime(
        2026, 5, 13, 23, 0, tzinfo=UTC
    )


def test_the_digest_due_is_the_latest_whose_time_has_come() -> None:
    assert digests.due(seoul(14, 7, 59), EIGHT, SEOUL) == (
        date(2026, 5, 13),
        seoul(13, 8).astimezone(UTC),
    )
    assert digests.due(seoul(14, 8), EIGHT, SEOUL) == (date(2026, 5, 14), seoul(14, 8))
    assert digests.due(seoul(14, 23), EIGHT, SEOUL)[0] == date(2026, 5, 14)
    # Just past midnight, a digest at 23:30 is yesterday's.
    assert digests.due(seoul(15, 0, 10), time(23, 30), SEOUL)[0] == date(2026, 5, 14)


def test_daylight_saving_time_makes_a_day_23_or_25_hours_and_loses_no_release() -> None:
    spring, autumn = date(2026, 3, 8), date(2026, 11, 1)  # New York's changes in 2026
    length = digests.cutoff(spring, EIGHT, NEW_YORK) - digests.cutoff(
        spring - timedelta(days=1), EIGHT, NEW_YORK
    )
    assert length == timedelta(hours=23)
    length = digests.cutoff(autumn, EIGHT, NEW_YORK) - digests.cutoff(
        autumn - timedelta(days=1), EIGHT, NEW_YORK
    )
    assert length == timedelta(hours=25)
    # 02:30 does not happen on the spring day: the digest goes at 03:30 (EDT).
    assert digests.cutoff(spring, time(2, 30), NEW_YORK) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    # 01:30 happens twice on the autumn day: the first (EDT).
    assert digests.cutoff(autumn, time(1, 30), NEW_YORK) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # A release at 02:45 EST on the autumn day, after both 01:30s: the next day's.
    moment = datetime(2026, 11, 1, 7, 45, tzinfo=UTC)
    assert digests.day_of(moment, time(1, 30), NEW_YORK) == date(2026, 11, 2)


# Hypothesis takes naive bounds, and gives aware moments in ``timezones``.
FROM, UNTIL = datetime(2025, 1, 1), datetime(2028, 12, 31)  # noqa: DTZ001


@given(
    moment=st.datetimes(min_value=FROM, max_value=UNTIL, timezones=st.just(UTC)),
    at=st.times(),
    zone=st.sampled_from([SEOUL, NEW_YORK, BERLIN, LORD_HOWE]),
)
def test_the_days_digests_divide_time_without_gap_or_overlap(
    moment: datetime, at: time, zone: ZoneInfo
) -> None:
    """Every moment is in exactly one day's digest: the one due at the first cutoff
    after it, the day before ending at or before it; and the digest due at that cutoff
    is that day's."""
    day = digests.day_of(moment, at, zone)
    ends = digests.cutoff(day, at, zone)
    assert digests.cutoff(day - timedelta(days=1), at, zone) <= moment < ends
    assert digests.due(ends, at, zone) == (day, ends)
    assert digests.due(ends - timedelta(microseconds=1), at, zone)[0] == day - timedelta(days=1)


def test_only_the_release_itself_waits_for_a_digest() -> None:
    digest = Recipient("ko", trusted=True, follows=True, digest=True)
    each = Recipient("ko", trusted=True, follows=True)
    now = datetime(2026, 5, 14, tzinfo=UTC)
    for kind in (
        rules.EMBARGOED,
        rules.UPDATED,
        rules.EMBARGO_MOVED,
        rules.SUSPENDED,
        rules.LIFTED,
        rules.CORRECTION,
        rules.TRANSLATION,
        rules.WITHDRAWAL,
        rules.DISREGARD,
    ):
        assert not rules.waits_for_digest(Message(kind, "ko", now), digest), kind
    assert rules.waits_for_digest(Message(rules.RELEASE, "ko", now), digest)
    assert not rules.waits_for_digest(Message(rules.RELEASE, "ko", now), each)


def test_a_release_waiting_for_a_digest_is_planned_not_held() -> None:
    """While it waits, the subscriber holds nothing of it: a correction or a withdrawal
    tells them nothing (the digest will carry the text live when it goes)."""
    waiting = rules.holding([rules.Sent(rules.RELEASE, "ko", sent=False)])
    assert waiting == Holding(public_planned=True)
    who = Recipient("ko", trusted=False, follows=True, holding=waiting, digest=True)
    release = rules.Release(primary="ko", live=frozenset({"ko"}), text_key="ko1")
    now = datetime(2026, 5, 14, tzinfo=UTC)
    assert rules.withdrawn(None, release, who, now) is None  # type: ignore[arg-type]
    assert rules.published(None, release, who, now) is None  # type: ignore[arg-type]


def test_a_digests_time_of_day_is_hours_and_minutes() -> None:
    assert digest_time("08:00") == time(8, 0)
    assert digest_time(" 7:30 ") == time(7, 30)
    assert digest_time("23:59:30") == time(23, 59, 30)  # a time field may send seconds
    for wrong in ("", "24:00", "08:60", "8", "08h00", "08:00 KST", "-1:00", "０８:００"):
        with pytest.raises(ValidationFailed) as refused:
            digest_time(wrong)
        assert refused.value.field == "digest_time"
    assert delivery_choice("digest", "06:15") == time(6, 15)
    assert delivery_choice("each", "not a time") is None, "the time is read only for a digest"
    assert delivery_choice("", "") is None
    with pytest.raises(ValidationFailed) as refused:
        delivery_choice("weekly", "08:00")
    assert refused.value.field == "delivery"
    assert (time_of_day(time(8)), time_of_day(time(8, 0, 30)), time_of_day(None)) == (
        "08:00",
        "08:00:30",
        "",
    )


def test_a_digest_shows_the_subtitle_or_else_the_first_paragraph() -> None:
    body = "1. 외교부는 회의를 개최하였다.\r\n\r\n   - 20여 명이 참석하였다.\n\n2. 강조하였다.\n"
    assert digests.summary("", body) == "1. 외교부는 회의를 개최하였다."
    assert digests.summary("장관 회담 결과", body) == "장관 회담 결과"
    assert digests.summary("", "\n\n\nOnly paragraph") == "Only paragraph"
    assert digests.summary("", "") == ""
    long = "word " * 200
    cut = digests.summary("", long, length=50)
    assert cut.endswith(" …") and len(cut) <= 52 and not cut.startswith(" ")
    assert digests.summary("", "x" * 80, length=50) == "x" * 50 + " …"
