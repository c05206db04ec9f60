"""Who is told what when something happens to a release: one pure table, no database.

Each journalist's answer depends on what happened, on what they already hold of the
release (``Holding``: an embargoed copy and the text and time it carries, the public
text and its language, a withdrawal) and on their language. ``tell`` answers with the
message they get, or None. The rules keep one promise above all: a journalist trusted
with an embargoed copy always ends with the text that is live (or the withdrawal),
whatever happened in between.

- An embargoed schedule: trusted subscribers of the release's topics get the embargoed
  copy; a holder of a copy with other text gets the updated copy (new text, new time),
  a holder whose copy has the same text but another time is told the embargo moved.
- Publication postponed (unscheduled, or sent back to review by an edit): holders are
  told the embargo holds until further notice.
- Publication: everyone following a topic gets the release when it is public; holders
  of an embargoed copy get it as the embargo lifted.
- A correction: those who were sent the changed language version (readers of both
  included).
- A translation live after publication: subscribers of that language who were sent
  another language's text, once.
- A withdrawal: everyone who was sent anything of the release.

A subscriber who chose a daily digest gets the release in it; every other message goes
at once (``waits_for_digest``).

``workflow.handlers.REGISTRY`` says which rule applies to which event;
``workflow.distribution.planning`` applies it, one delivery row per message. A subscriber
who was told of a withdrawal is told nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from workflow.domain import events as ev

BOTH: Final = "both"  # a subscriber's language: one message with both versions

# The kinds of message. Those that may happen more than once per release are keyed by
# their event in the delivery row ("correction:1a2b3c4d").
RELEASE: Final = "release"  # the release, once public
EMBARGOED: Final = "embargo"  # the embargoed copy, before it is public
UPDATED: Final = "update"  # an embargoed copy with new text, replacing the one held
EMBARGO_MOVED: Final = "notice"  # the embargo's new time; the text held is current
SUSPENDED: Final = "suspended"  # the embargo holds until further notice
LIFTED: Final = "lifted"  # the release, to a holder of its embargoed copy
CORRECTION: Final = "correction"
TRANSLATION: Final = "translation"  # a version live after publication
WITHDRAWAL: Final = "withdrawal"
DISREGARD: Final = "disregard"  # published in error: please disregard it

ONCE_PER_RELEASE: Final = frozenset({RELEASE, EMBARGOED, LIFTED})
# What carries text under embargo, or says what became of it.
EMBARGO_KINDS: Final = frozenset({EMBARGOED, UPDATED, EMBARGO_MOVED, SUSPENDED})
PUBLIC_KINDS: Final = frozenset({RELEASE, LIFTED, CORRECTION, TRANSLATION})


def base_kind(kind: str) -> str:
    """``"correction"`` for ``"correction:1a2b3c4d"``."""
    return kind.split(":", 1)[0]


def row_kind(kind: str, event: ev.Event) -> str:
    """The delivery row's kind: a message that may come more than once is keyed by its
    event, so that handling the event again plans nothing new."""
    return kind if kind in ONCE_PER_RELEASE else f"{kind}:{event.event_id[:8]}"


@dataclass(frozen=True, slots=True)
class Holding:
    """What one subscriber was sent of one release, or is about to be."""

    copy_text: str | None = None  # the text of the embargoed copy held, if any
    announced: datetime | None = None  # the embargo time last told (None: none, or suspended)
    public: frozenset[str] = frozenset()  # languages of the public text received
    public_planned: bool = False  # the public text is on its way, not yet sent
    withdrawn: bool = False

    @property
    def holds_copy(self) -> bool:
        """An embargoed copy, and nothing public yet: they are waiting on the embargo."""
        return self.copy_text is not None and not self.public and not self.public_planned

    @property
    def received(self) -> bool:
        return self.copy_text is not None or bool(self.public)


@dataclass(frozen=True, slots=True)
class Sent:
    """One message a subscriber was planned, as what they hold is read from it."""

    kind: str  # the row's kind, "correction:1a2b3c4d" included
    language: str
    sent: bool  # gone to the relay, or on its way there now; else still waiting
    text_key: str = ""
    embargo_until: datetime | None = None


def holding(messages: Iterable[Sent]) -> Holding:
    """What a subscriber holds, from their messages in the order they were planned (the
    cancelled and failed ones left out)."""
    copy_text: str | None = None
    announced: datetime | None = None
    public: set[str] = set()
    public_planned = withdrawn = False
    for message in messages:
        kind = base_kind(message.kind)
        if kind in (EMBARGOED, UPDATED):
            copy_text = message.text_key
        if kind in EMBARGO_KINDS:
            announced = None if kind == SUSPENDED else message.embargo_until
        if kind in (RELEASE, LIFTED, TRANSLATION):
            if message.sent:
                public.add(message.language)
            else:
                public_planned = True
        withdrawn = withdrawn or kind in (WITHDRAWAL, DISREGARD)
    return Holding(copy_text, announced, frozenset(public), public_planned, withdrawn)


@dataclass(frozen=True, slots=True)
class Recipient:
    language: str  # ko, en or both
    trusted: bool  # may be sent embargoed copies
    follows: bool  # follows one of the release's topics (and is active)
    holding: Holding = Holding()
    digest: bool = False  # chose a daily digest rather than each release at once


@dataclass(frozen=True, slots=True)
class Release:
    """What the table needs to know of the release."""

    primary: str
    live: frozenset[str]  # languages whose version is public (or, before, all there are)
    text_key: str  # the revisions of its current text: "ko3.en2"
    embargo_until: datetime | None = None
    publish_at: datetime | None = None

    def reads(self, language: str) -> str:
        """The language a subscriber reads: theirs if it is live, else the original;
        "both" reads both only when both are live."""
        if language == BOTH:
            return BOTH if len(self.live) > 1 else self.primary
        return language if language in self.live else self.primary


@dataclass(frozen=True, slots=True)
class Message:
    kind: str
    language: str
    not_before: datetime
    text_key: str = ""  # for an embargoed copy: the revisions it carries
    embargo_until: datetime | None = None  # the embargo time it announces


# A rule of the table: the message one recipient gets because of one event, or None.
# ``workflow.handlers.REGISTRY`` says which rule applies to which event.
TellRule = Callable[[Any, Release, Recipient, datetime], "Message | None"]


def answer(
    rule: TellRule, event: ev.Event, release: Release, recipient: Recipient, now: datetime
) -> Message | None:
    """``rule``'s message for ``recipient``; after a withdrawal, nothing more."""
    if recipient.holding.withdrawn:
        return None
    return rule(event, release, recipient, now)


def scheduled(
    event: ev.ReleaseScheduled, release: Release, who: Recipient, now: datetime
) -> Message | None:
    held = who.holding
    if held.public or held.public_planned:
        return None
    until = release.embargo_until or release.publish_at  # a holder's embargo ends then
    language = release.reads(who.language)
    if held.copy_text is None:
        if release.embargo_until is None or not (who.trusted and who.follows):
            return None
        return Message(EMBARGOED, language, now, release.text_key, release.embargo_until)
    if held.copy_text != release.text_key:
        return Message(UPDATED, language, now, release.text_key, until)
    if held.announced != until:
        return Message(EMBARGO_MOVED, language, now, release.text_key, until)
    return None


def unscheduled(
    event: ev.ReleaseUnscheduled, release: Release, who: Recipient, now: datetime
) -> Message | None:
    held = who.holding
    if not held.holds_copy or held.announced is None:
        return None  # nothing held, or already told it holds until further notice
    return Message(SUSPENDED, release.reads(who.language), now, held.copy_text or "")


def published(
    event: ev.ReleasePublished, release: Release, who: Recipient, now: datetime
) -> Message | None:
    held = who.holding
    if held.public or held.public_planned:
        return None
    public_at = public_from(release, now)
    language = release.reads(who.language)
    if held.copy_text is not None:
        return Message(LIFTED, language, public_at)
    if who.follows:
        return Message(RELEASE, language, public_at)
    return None


# What a subscriber who chose a daily digest is sent in it rather than at once: the
# release, once public. Everything about what they already hold (an embargoed copy and
# its news, the release as its embargo lifted, a correction, a late translation, a
# withdrawal, a request to disregard) goes at once. See ``workflow.distribution.digests``.
DIGESTED: Final = frozenset({RELEASE})


def waits_for_digest(message: Message, who: Recipient) -> bool:
    """Whether ``message`` waits for ``who``'s daily digest instead of going at once."""
    return who.digest and message.kind in DIGESTED


def public_from(release: Release, now: datetime) -> datetime:
    """When a release published ``now`` is public: nobody hears of it before the embargo."""
    return max(now, release.embargo_until) if release.embargo_until else now


def corrected(
    event: ev.CorrectionPublished, release: Release, who: Recipient, now: datetime
) -> Message | None:
    """Those who were sent a changed version, and read it still (not another language
    sent since); the text on its way carries the correction already. A reader of both
    who was sent each version in its own message (the original, then its translation)
    holds both, and is told as a reader of both."""
    received = who.holding.public
    reading = release.reads(who.language)
    if reading in received or languages(reading) <= received:
        relevant, language = languages(reading), reading
    elif len(received) == 1:
        [language] = received
        relevant = languages(language)
    else:
        return None
    if relevant & set(event.languages):
        return Message(CORRECTION, language, now)
    return None


def translated(
    event: ev.TranslationPublished, release: Release, who: Recipient, now: datetime
) -> Message | None:
    """A version live after publication, once, to its readers who were sent another."""
    received = who.holding.public
    if not received or BOTH in received:
        return None
    for language in sorted(set(event.languages) - received):
        if who.language in (language, BOTH):
            return Message(TRANSLATION, language, now)
    return None


def withdrawn(
    event: ev.ReleaseWithdrawn, release: Release, who: Recipient, now: datetime
) -> Message | None:
    if not who.holding.received:
        return None
    return Message(WITHDRAWAL, release.reads(who.language), now)


def unpublished(
    event: ev.ReleaseUnpublished, release: Release, who: Recipient, now: datetime
) -> Message | None:
    """Published in error: everyone who was sent any of it is asked to disregard it."""
    if not who.holding.received:
        return None
    return Message(DISREGARD, release.reads(who.language), now)


def languages(language: str) -> set[str]:
    """The versions a message in ``language`` shows."""
    return {"ko", "en"} if language == BOTH else {language}


def text_key(revisions: Mapping[str, int]) -> str:
    """``"en2.ko3"`` for the revisions ``{"ko": 3, "en": 2}``: which text a copy carries."""
    return ".".join(f"{language}{number}" for language, number in sorted(revisions.items()))


def revisions(key: str) -> dict[str, int]:
    """The revisions a ``text_key`` names."""
    return {part[:2]: int(part[2:]) for part in key.split(".") if part}


def shared_language(live: Collection[str], primary: str) -> str | None:
    """The language every subscriber reads when the release has one version (live, or
    the original before publication); None when each reads their own ("both" included)."""
    return primary if len(live) <= 1 else None
