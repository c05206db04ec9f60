"""Times on the office pages: shown and typed in the office's time zone, stored in UTC.

A ``datetime-local`` field sends ``2026-05-14T10:30`` with no zone; it means that wall
clock time in the office (``NEWSROOM_OFFICE_TIMEZONE``), whatever the browser's zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from workflow.domain.errors import ValidationFailed
from workflow.web.i18n import Translator


def from_local_input(value: str, zone: ZoneInfo, field: str) -> datetime | None:
    """The UTC moment a ``datetime-local`` value means in ``zone``; None when empty."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(field, "must be a date and time like 2026-05-14T10:30") from None
    if moment.tzinfo is not None:
        raise ValidationFailed(field, "must be a local time, without a zone")
    return moment.replace(tzinfo=zone).astimezone(UTC)


def to_local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    """``moment`` as a ``datetime-local`` value in ``zone`` (empty for None)."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""


def time_left(until: datetime, now: datetime, _: Translator) -> str:
    """How long until ``until``, to the minute: "2 d 3 h", "3 h 20 min", "due now"."""
    left = until - now
    if left <= timedelta(0):
        return _("due now")
    minutes = int(left.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(days)s d %(hours)s h", days=days, hours=hours)
    if hours:
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    return _("%(minutes)s min", minutes=max(minutes, 1))
