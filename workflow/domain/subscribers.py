"""Journalists on the distribution list: their states, who may move them, and why.

The whole life of a subscriber is the table ``TRANSITIONS`` below. Consent is the rule
behind it: only an ``active`` subscriber is mailed, and ``active`` is reached only by a
confirmed opt-in (the link in the confirmation email) or by an import the press office
vouches for. An unsubscribed or bounced address stays as a row, a suppression record
(until retention reduces it to a keyed hash, ``SuppressionReason``); only a new opt-in
(subscribe, then confirm) brings an unsubscribed one back, and nothing a bounced one.
Every signed link names the subscriber's ``token_version``; bumping it, on unsubscribe
and on every new subscription, makes the links sent before worthless.

Link holders are not logged in: a valid signed link is their authority, so the methods
they call take the link's version rather than an actor.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Final

from workflow.domain.errors import N_, Conflict, ValidationFailed
from workflow.domain.users import User
from workflow.domain.values import MAX_NAME_LENGTH, normalise_email, single_line


class SubscriberState(StrEnum):
    PENDING = "pending"  # asked to subscribe, not confirmed yet
    ACTIVE = "active"  # the only state that is mailed
    UNSUBSCRIBED = "unsubscribed"
    SUSPENDED = "suspended"  # by an admin
    BOUNCED = "bounced"  # too many hard bounces


class SubscriberAction(StrEnum):
    SUBSCRIBE = "subscribe"
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    UPDATE_PREFERENCES = "update_preferences"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"
    IMPORT = "import"  # only ever creates a row; an existing one is left as it is
    BOUNCE = "bounce"


class Actor(StrEnum):
    """Who takes an action: nobody here is a logged-in member of staff except admins."""

    ANYONE = "anyone (the public form)"
    LINK_HOLDER = "the holder of a signed link"
    ADMIN = "admins"
    DELIVERY = "the delivery engine"


class LanguagePreference(StrEnum):
    KO = "ko"
    EN = "en"
    BOTH = "both"


class Delivery(StrEnum):
    """How a subscriber receives releases."""

    EACH = "each"  # each release as it is published
    DIGEST = "digest"  # one email a day, at a time of day they choose


@dataclass(frozen=True, slots=True)
class SubscriberTransition:
    source: SubscriberState
    action: SubscriberAction
    target: SubscriberState
    actor: Actor


S, A = SubscriberState, SubscriberAction
ANYONE, LINK, ADMIN, DELIVERY = Actor.ANYONE, Actor.LINK_HOLDER, Actor.ADMIN, Actor.DELIVERY

# fmt: off
_TABLE: Final = [
    # from           action                to              who
    (S.PENDING,      A.SUBSCRIBE,          S.PENDING,      ANYONE),    # a new confirmation link
    (S.UNSUBSCRIBED, A.SUBSCRIBE,          S.PENDING,      ANYONE),    # a new opt-in is needed
    (S.BOUNCED,      A.SUBSCRIBE,          S.BOUNCED,      ANYONE),    # unchanged: never mailed
    (S.ACTIVE,       A.SUBSCRIBE,          S.ACTIVE,       ANYONE),    # unchanged: proves nothing
    (S.SUSPENDED,    A.SUBSCRIBE,          S.SUSPENDED,    ANYONE),    # unchanged: an admin decided
    (S.PENDING,      A.CONFIRM,            S.ACTIVE,       LINK),
    (S.PENDING,      A.UNSUBSCRIBE,        S.UNSUBSCRIBED, LINK),
    (S.ACTIVE,       A.UNSUBSCRIBE,        S.UNSUBSCRIBED, LINK),
    (S.SUSPENDED,    A.UNSUBSCRIBE,        S.UNSUBSCRIBED, LINK),
    (S.BOUNCED,      A.UNSUBSCRIBE,        S.BOUNCED,      LINK),      # stopped: stays bounced
    (S.UNSUBSCRIBED, A.UNSUBSCRIBE,        S.UNSUBSCRIBED, LINK),      # a repeat changes nothing
    (S.PENDING,      A.UPDATE_PREFERENCES, S.PENDING,      LINK),
    (S.ACTIVE,       A.UPDATE_PREFERENCES, S.ACTIVE,       LINK),
    (S.SUSPENDED,    A.UPDATE_PREFERENCES, S.SUSPENDED,    LINK),
    (S.ACTIVE,       A.SUSPEND,            S.SUSPENDED,    ADMIN),
    (S.SUSPENDED,    A.UNSUSPEND,          S.ACTIVE,       ADMIN),
    (S.ACTIVE,       A.BOUNCE,             S.BOUNCED,      DELIVERY),  # at the limit
]
# fmt: on

TRANSITIONS: Final[dict[tuple[SubscriberState, SubscriberAction], SubscriberTransition]] = {
    (source, action): SubscriberTransition(source, action, target, actor)
    for source, action, target, actor in _TABLE
}

# Never mailed. An unsubscribed address comes back only by a new confirmed opt-in; a
# bounced one never does: an address that refused mail for good is not mailed again, not
# even a confirmation that anyone could ask for by typing it into the public form.
SUPPRESSED_STATES: Final = frozenset({S.UNSUBSCRIBED, S.BOUNCED})


class SuppressionReason(StrEnum):
    """Why an address reduced to a keyed hash (``Subscriber.suppression``) is not mailed.

    Retention keeps an unsubscribed or bounced address only as a keyed hash, which still
    blocks it: an import never adds it again. The public form treats it as it treats the
    subscriber it was: an address that unsubscribed may subscribe again, with a fresh
    confirmation, as anyone may change their mind; a bounced one is refused, without a
    word that would tell the form's user, and is never mailed again.
    """

    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"

    @property
    def allows_opt_in(self) -> bool:
        """Whether a new subscription through the public form may ask for confirmation."""
        return self is SuppressionReason.UNSUBSCRIBED

    def import_note(self) -> str:
        """Why an import does not add an address suppressed for this reason."""
        if self is SuppressionReason.BOUNCED:
            return "not added: it bounced, and a bounced address is never mailed again"
        return (
            "not added: it unsubscribed (and is kept only as a keyed hash); only a new "
            "confirmed subscription brings it back"
        )


def allowed_actions(state: SubscriberState) -> list[SubscriberAction]:
    return [action for (source, action) in TRANSITIONS if source is state]


class SubscriberTransitionRefused(Conflict):
    """The action is not allowed from the subscriber's current state."""

    code = "subscriber_transition_refused"

    def __init__(self, action: SubscriberAction, state: SubscriberState, reason: str = "") -> None:
        template = N_("cannot %(action)s a subscriber who is %(state)s")
        if reason:
            template = N_("cannot %(action)s a subscriber who is %(state)s: %(reason)s")
        action_text = action.value.replace("_", " ")
        super().__init__(template, action=action_text, state=state.value, reason=reason)
        allowed = ", ".join(allowed_actions(state)) or "none"
        self.message += f" (allowed from {state.value}: {allowed})"
        self.args = (self.message,)
        self.reason = reason
        self.action = action
        self.state = state


# --- checked input ---------------------------------------------------------------------


def subscriber_email(value: str) -> str:
    """A subscriber's address, lower-cased whole.

    Local parts are case-sensitive in theory and never in practice; a suppression record
    must match the address however it is typed next time, or an unsubscribed journalist
    comes back as ``Kim@…``.
    """
    return normalise_email(value).lower()


def language_preference(value: str) -> LanguagePreference:
    try:
        return LanguagePreference(value.strip().lower())
    except ValueError:
        raise ValidationFailed("language", "must be 'ko', 'en' or 'both'") from None


# A time of day as a person types it, or as a browser's time field sends it.
_TIME_OF_DAY: Final = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?")


def digest_time(value: str) -> time:
    """A daily digest's time of day, in the office's time zone: ``HH:MM`` (24-hour
    clock; a time field may add ``:SS``)."""
    found = _TIME_OF_DAY.fullmatch(value.strip())
    if found is None:
        raise ValidationFailed(
            "digest_time", "give the digest's time of day as HH:MM (24-hour), such as 08:00"
        )
    hour, minute, second = found.groups()
    return time(int(hour), int(minute), int(second or 0))


def delivery_choice(delivery: str, at: str) -> time | None:
    """The time of the daily digest a subscriber chose, or None for each release as it
    is published. ``at`` is read only for a digest."""
    try:
        chosen = Delivery(delivery.strip().lower() or Delivery.EACH)
    except ValueError:
        raise ValidationFailed("delivery", "must be 'each' or 'digest'") from None
    return digest_time(at) if chosen is Delivery.DIGEST else None


def time_of_day(value: time | None) -> str:
    """How a digest time is shown and exported: ``08:00`` (seconds only if it has any),
    or "" for each release as published."""
    if value is None:
        return ""
    return f"{value:%H:%M:%S}" if value.second else f"{value:%H:%M}"


def chosen_topics(topic_ids: Iterable[int], known: Iterable[int]) -> frozenset[int]:
    """At least one topic, each on the managed list."""
    chosen = frozenset(topic_ids)
    unknown = sorted(chosen - set(known))
    if unknown:
        raise ValidationFailed(
            "topics", "unknown topic ids: %(ids)s", ids=", ".join(map(str, unknown))
        )
    if not chosen:
        raise ValidationFailed(
            "topics", "choose at least one topic (to receive nothing, unsubscribe)"
        )
    return chosen


def topics_by_name(names: Iterable[str], known: Mapping[str, int]) -> frozenset[int]:
    """Topic names, as a person types them in a file, to ids. Names are matched without
    regard to case, as the topic list keeps them unique."""
    by_name = {name.lower(): topic_id for name, topic_id in known.items()}
    ids: set[int] = set()
    for raw in names:
        name = unicodedata.normalize("NFC", raw).strip()
        if not name:
            continue
        if name.lower() not in by_name:
            raise ValidationFailed("topics", "unknown topic %(name)r", name=name)
        ids.add(by_name[name.lower()])
    if not ids:
        raise ValidationFailed("topics", "at least one topic is required")
    return frozenset(ids)


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """What the public form (or an import line) asks for, checked."""

    email: str
    name: str
    topics: frozenset[int]
    language: LanguagePreference
    digest_time: time | None = None  # None: each release as it is published

    @classmethod
    def checked(
        cls,
        email: str,
        name: str,
        topics: Iterable[int],
        language: str,
        *,
        known_topics: Iterable[int],
        delivery: str = Delivery.EACH,
        digest_at: str = "",
    ) -> SubscriptionRequest:
        return cls(
            email=subscriber_email(email),
            name=single_line("name", name, max_length=MAX_NAME_LENGTH, required=False),
            topics=chosen_topics(topics, known_topics),
            language=language_preference(language),
            digest_time=delivery_choice(delivery, digest_at),
        )


# --- the aggregate -----------------------------------------------------------------------


@dataclass(slots=True)
class Subscriber:
    """One address on the distribution list; the repository saves whatever changed."""

    id: int | None
    email: str
    name: str
    language: LanguagePreference
    topics: frozenset[int]
    state: SubscriberState
    created_at: datetime
    embargo_trusted: bool = False
    hard_bounces: int = 0
    token_version: int = 1
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    bounced_at: datetime | None = None
    # The time of day (office time zone) of their daily digest; None: each release as it
    # is published.
    digest_time: time | None = None
    # What happened to it in this unit of work, for the log: (action, from, to).
    changes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def mailable(self) -> bool:
        return self.state is S.ACTIVE

    @property
    def suppressed(self) -> bool:
        return self.state in SUPPRESSED_STATES

    @property
    def suppression(self) -> SuppressionReason | None:
        """Why it is never mailed (now), or None for an address that may be."""
        if self.state is S.BOUNCED:
            return SuppressionReason.BOUNCED
        if self.state is S.UNSUBSCRIBED:
            return SuppressionReason.UNSUBSCRIBED
        return None

    @property
    def suppressed_since(self) -> datetime | None:
        """Since when it has been unsubscribed or bounced; retention counts from here."""
        if self.state is S.BOUNCED:
            return self.bounced_at
        if self.state is S.UNSUBSCRIBED:
            return self.unsubscribed_at
        return None

    def erasure_reason(self) -> SuppressionReason:
        """What the keyed hash left by erasing this subscriber at their request keeps: a
        bounced address stays bounced; anyone else asked to hear no more from us."""
        return self.suppression or SuppressionReason.UNSUBSCRIBED

    @classmethod
    def new(cls, request: SubscriptionRequest, now: datetime) -> Subscriber:
        """A first subscription: pending until the link in its confirmation is followed."""
        subscriber = cls(
            id=None,
            email=request.email,
            name=request.name,
            language=request.language,
            topics=request.topics,
            state=S.PENDING,
            created_at=now,
            digest_time=request.digest_time,
        )
        subscriber.changes.append((A.SUBSCRIBE.value, "", S.PENDING.value))
        return subscriber

    @classmethod
    def imported(
        cls,
        request: SubscriptionRequest,
        now: datetime,
        *,
        embargo_trusted: bool = False,
        state: SubscriberState = S.ACTIVE,
    ) -> Subscriber:
        """A new address from the office's own list: active, since the office vouches for
        it; a suppression record (or any other state) when the file says so."""
        subscriber = cls(
            id=None,
            email=request.email,
            name=request.name,
            language=request.language,
            topics=request.topics,
            state=state,
            created_at=now,
            embargo_trusted=embargo_trusted,
            confirmed_at=now if state in (S.ACTIVE, S.SUSPENDED) else None,
            unsubscribed_at=now if state is S.UNSUBSCRIBED else None,
            bounced_at=now if state is S.BOUNCED else None,
            digest_time=request.digest_time,
        )
        subscriber.changes.append((A.IMPORT.value, "", state.value))
        return subscriber

    # --- rules ---------------------------------------------------------------------------

    def _apply(self, action: SubscriberAction, reason: str = "") -> SubscriberState:
        transition = TRANSITIONS.get((self.state, action))
        if transition is None:
            raise SubscriberTransitionRefused(action, self.state, reason)
        source, self.state = self.state, transition.target
        self.changes.append((action.value, source.value, self.state.value))
        return source

    def require_link_version(self, token_version: int) -> None:
        """A link made before the last unsubscribe or subscription is worthless."""
        if token_version != self.token_version:
            raise ValidationFailed(
                "token",
                "this link has been replaced by a newer one; use the link in the most "
                "recent email from us",
            )

    def subscribe_again(self, request: SubscriptionRequest, *, link_just_sent: bool) -> bool:
        """Someone filled in the public form for this address again.

        Returns whether a new confirmation must be sent; ``token_version`` is then bumped,
        so that earlier links stop working. A pending subscriber whose confirmation went
        out moments ago (``link_just_sent``) gets the new choices but no second email, so
        that the form cannot be used to flood someone's inbox. An active or a suspended
        subscriber is left exactly as is: the form proves nothing about who filled it in,
        so it may neither change their choices nor stop their mail. A bounced one is left
        as is too, and never mailed again.
        """
        source = self._apply(A.SUBSCRIBE)
        if self.state is not S.PENDING:
            return False
        self.name = request.name or self.name
        self.language = request.language
        self.topics = request.topics
        self.digest_time = request.digest_time
        if source is S.PENDING and link_just_sent:
            return False
        self.confirmed_at = None
        self.token_version += 1
        return True

    def confirm(self, token_version: int, now: datetime) -> None:
        """The opt-in: the link in the confirmation email was followed."""
        self.require_link_version(token_version)
        if self.state is not S.PENDING:
            # With the same token version and not pending, the link has done its work.
            raise ValidationFailed(
                "token",
                "this confirmation link has already been used (the subscription is %(state)s)",
                code="link_used",
                state=self.state.value,
            )
        self._apply(A.CONFIRM)
        self.confirmed_at = now
        # A confirmed opt-in proves the address receives mail again.
        self.hard_bounces = 0

    def unsubscribe(self, token_version: int, now: datetime) -> bool:
        """Stop all mail at once. Returns False when it already was stopped: a repeated
        one-click POST, an older link of an address that is unsubscribed, or the link of
        one that bounced (which stays bounced, so that it is never mailed again)."""
        if self.suppressed:
            return False
        self.require_link_version(token_version)
        self._apply(A.UNSUBSCRIBE)
        self.unsubscribed_at = now
        self.token_version += 1
        return True

    def update_preferences(
        self,
        token_version: int,
        topics: frozenset[int],
        language: LanguagePreference,
        digest_time: time | None = None,
    ) -> None:
        """New topics, language, and each release or a daily digest (``digest_time``)."""
        self.require_link_version(token_version)
        self._apply(A.UPDATE_PREFERENCES, N_("subscribe again to choose topics and a language"))
        self.topics = topics
        self.language = language
        self.digest_time = digest_time

    def suspend(self, actor: User) -> None:
        actor.require_admin("suspend subscribers")
        self._apply(A.SUSPEND)

    def unsuspend(self, actor: User) -> None:
        actor.require_admin("unsuspend subscribers")
        self._apply(A.UNSUSPEND)

    def set_embargo_trusted(self, actor: User, trusted: bool) -> None:
        """Trusted subscribers receive releases before their embargo lifts."""
        actor.require_admin("decide who receives embargoed releases")
        if self.embargo_trusted != trusted:
            self.embargo_trusted = trusted
            action = "trust" if trusted else "untrust"
            self.changes.append((action, self.state.value, self.state.value))

    def import_note(self) -> str:
        """Why an import leaves this existing address exactly as it is. It always does:
        the subscriber's own choices stand, a suppression record above all, and even a
        pending address waits for its own confirmation, since it may be an address that
        opted out and that someone else has just typed into the form."""
        match self.state:
            case S.UNSUBSCRIBED:
                since = f" on {self.unsubscribed_at:%Y-%m-%d}" if self.unsubscribed_at else ""
                return (
                    f"not reactivated: it unsubscribed{since}; only a new confirmed "
                    "subscription brings it back"
                )
            case S.BOUNCED:
                return (
                    f"not reactivated: it bounced ({self.hard_bounces} hard bounces), and a "
                    "bounced address is never mailed again"
                )
            case S.SUSPENDED:
                return "left suspended: unsuspend it to mail it again"
            case S.PENDING:
                return "left pending: it becomes active when its owner confirms"
        return "already subscribed: left with the choices it made"

    def record_hard_bounce(self, limit: int, now: datetime) -> bool:
        """A permanent delivery failure. Counted in any state; an active subscriber who
        reaches ``limit`` is set to bounced. Returns whether that happened now."""
        self.hard_bounces += 1
        if self.state is S.ACTIVE and self.hard_bounces >= limit:
            self._apply(A.BOUNCE)
            self.bounced_at = now
            return True
        return False


def confirmation_language(preference: LanguagePreference) -> str:
    """The language of one-off emails (the confirmation): Korean unless English only."""
    return "en" if preference is LanguagePreference.EN else "ko"
