"""Daily digests: which day's digest a release goes in, and when each day's is due. Pure:
no database, no clock but the one given.

A subscriber who chose a digest names a time of day ``at``, read in the office's time
zone. Their digest of the office's calendar day ``D`` is due at ``cutoff(D)``, that time
on that day, and carries every release that became public to them (the moment their
release message was planned for: publication, or the embargo's end) before ``cutoff(D)``
and that no earlier digest carried. Day after day that is ``[cutoff(D - 1), cutoff(D))``:
a release public at or after the digest's time goes in the next day's.

A day with no such release has no digest. A digest is planned at the first look after
its cutoff (``due``): after downtime that spans several cutoffs, the one digest of the
last day carries everything that waited. Only the release itself waits for the digest;
whatever concerns what a subscriber already holds (an embargoed copy and its news, a
correction, a late translation, a withdrawal, a request to disregard) goes at once
(``workflow.distribution.rules.waits_for_digest``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def cutoff(day: date, at: time, zone: tzinfo) -> datetime:
    """When the digest of ``day`` at ``at`` (office time) is due, in UTC.

    Where daylight saving time makes the clock skip ``at`` that day, the time is read
    with the offset before the jump, so it falls as long after the jump as ``at`` is
    after its start (02:30, in a zone that jumps from 02:00 to 03:00, is 03:30); where
    the clock passes ``at`` twice, the first time (Python's ``fold=0``)."""
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone).astimezone(UTC)


def due(now: datetime, at: time, zone: tzinfo) -> tuple[date, datetime]:
    """The latest day whose digest is due by ``now``, and its cutoff."""
    day = now.astimezone(zone).date() + timedelta(days=1)
    while (moment := cutoff(day, at, zone)) > now:
        day -= timedelta(days=1)
    return day, moment


def day_of(public_at: datetime, at: time, zone: tzinfo) -> date:
    """The day whose digest carries a release public at ``public_at``, when every digest
    is sent on its day: the first day whose cutoff is after it."""
    day = public_at.astimezone(zone).date() - timedelta(days=1)
    while cutoff(day, at, zone) <= public_at:
        day += timedelta(days=1)
    return day


# A summary's length in characters, about five lines of an email.
SUMMARY_LENGTH = 400


def summary(subtitle: str, body: str, *, length: int = SUMMARY_LENGTH) -> str:
    """What a digest says of a release beside its title: its subtitle, or else the first
    paragraph of its body (Markdown), cut at a space near ``length`` characters."""
    text = subtitle.strip()
    if not text:
        blocks = (block.strip() for block in body.replace("\r\n", "\n").split("\n\n"))
        text = next((block for block in blocks if block), "")
    if len(text) <= length:
        return text
    cut = text.rfind(" ", 0, length)
    return text[: cut if cut > length // 2 else length].rstrip() + " …"
