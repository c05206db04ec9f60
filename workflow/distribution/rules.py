"""Who is sent what when something happens to a release: pure rules, no database.

A ``Rule`` names a kind of message, its audience and the earliest moment it may go;
``workflow.distribution.planning`` turns it into one delivery row per subscriber. The
functions here are the journalists' part of ``workflow.handlers``' registry: each takes
its event and the present moment and answers the rules it calls for.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from workflow.domain import events as ev

BOTH: Final = "both"  # a subscriber's language: one message with both versions

# The kinds of delivery. A follow-up that can happen more than once per release (a
# notice of a changed embargo, a correction, a withdrawal) is keyed by its event:
# "correction:1a2b3c4d".
RELEASE: Final = "release"
EMBARGOED: Final = "embargo"
EMBARGO_NOTICE: Final = "notice"
CORRECTION: Final = "correction"
WITHDRAWAL: Final = "withdrawal"


@dataclass(frozen=True, slots=True)
class ByTopic:
    """Active subscribers following one of the release's topics."""

    trusted_only: bool = False  # only those trusted with embargoed copies


@dataclass(frozen=True, slots=True)
class Received:
    """Active subscribers who were sent one of ``kinds`` of this release, or are about
    to be: they hear of what changed."""

    kinds: tuple[str, ...]


Audience = ByTopic | Received


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    audience: Audience
    not_before: datetime
    # A kind that, already planned for a subscriber, makes this message unneeded.
    unless_planned: str | None = None


def base_kind(kind: str) -> str:
    """``"correction"`` for ``"correction:1a2b3c4d"``."""
    return kind.split(":", 1)[0]


def shared_language(live: Collection[str], primary: str) -> str | None:
    """The language every subscriber reads when the release has one version (live, or
    the original before publication); None when each reads their own ("both" included)."""
    return primary if len(live) <= 1 else None


def published(event: ev.ReleasePublished, now: datetime) -> list[Rule]:
    """The release to its topics' subscribers, once it is public (not before the
    embargo); those who had the embargoed copy are not sent it again."""
    not_before = now
    if event.embargo_until:
        not_before = max(now, datetime.fromisoformat(event.embargo_until))
    return [Rule(RELEASE, ByTopic(), not_before, unless_planned=EMBARGOED)]


def scheduled(event: ev.ReleaseScheduled, now: datetime) -> list[Rule]:
    """Under embargo, the embargoed copy to trusted subscribers at once; a new time
    tells those who had it."""
    if not event.embargo_until:
        return []
    rules = [Rule(EMBARGOED, ByTopic(trusted_only=True), now)]
    if event.rescheduled:
        rules.append(_follow_up(EMBARGO_NOTICE, event, now, EMBARGOED))
    return rules


def unscheduled(event: ev.ReleaseUnscheduled, now: datetime) -> list[Rule]:
    """Publication postponed under embargo: those who had the embargoed copy are told."""
    if not event.embargo_until:
        return []
    return [_follow_up(EMBARGO_NOTICE, event, now, EMBARGOED)]


def corrected(event: ev.CorrectionPublished, now: datetime) -> list[Rule]:
    return [_follow_up(CORRECTION, event, now, RELEASE, EMBARGOED)]


def withdrawn(event: ev.ReleaseWithdrawn, now: datetime) -> list[Rule]:
    return [_follow_up(WITHDRAWAL, event, now, RELEASE, EMBARGOED)]


def _follow_up(kind: str, event: ev.Event, now: datetime, *received: str) -> Rule:
    """News of a change, at once, to everyone who was sent one of ``received``."""
    return Rule(f"{kind}:{event.event_id[:8]}", Received(received), now)
