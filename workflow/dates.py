"""Dates and times as each language writes them: "2026년 12월 7일 14:00" and
"7 December 2026, 14:00", in the office's time zone (Babel's CLDR data, so that no
template spells a month)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from babel.dates import format_date

# British order for English: day, month, year, as the ministry's English releases write it.
_LOCALES = {"ko": "ko_KR", "en": "en_GB"}


def long_date(moment: datetime, language: str, zone: tzinfo) -> str:
    """``2026년 12월 7일`` / ``7 December 2026``."""
    return format_date(moment.astimezone(zone).date(), "long", locale=_LOCALES[language])


def date_and_time(moment: datetime, language: str, zone: tzinfo) -> str:
    """``2026년 12월 7일 14:00`` / ``7 December 2026, 14:00``, the office's clock."""
    local = moment.astimezone(zone)
    day = long_date(local, language, zone)
    return f"{day} {local:%H:%M}" if language == "ko" else f"{day}, {local:%H:%M}"


def date_time_zone(moment: datetime, language: str, zone: tzinfo) -> str:
    """A moment a reader elsewhere must not misread, such as an embargo's end:
    ``2026년 12월 8일 09:00 KST``."""
    local = moment.astimezone(zone)
    return f"{date_and_time(local, language, zone)} {local.tzname()}"
