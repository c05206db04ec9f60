"""The administrative acts the office keeps a record of, and how an admin picks some out.

Every act on staff accounts and their sign-in (passwords, second factors, the sign-in
policy), topics, the distribution list, API tokens and the office's data leaving the
system is one kind below. The record of each is written in the same
transaction as the act (``workflow.services.admin_acts.record_admin_act``) and never
changed afterwards; a new kind of act is a new member here and a label on the
administration page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from workflow.domain.errors import ValidationFailed


class AdminActKind(StrEnum):
    # S105 below: the names of acts, which ruff takes for passwords.
    USER_ADDED = "user.added"
    USER_ROLES_SET = "user.roles_set"
    USER_DEACTIVATED = "user.deactivated"
    # An admin (or the console) set someone's password, or a user their own through it.
    USER_PASSWORD_SET = "user.password_set"  # noqa: S105
    # A user changed their own password, giving the current one.
    USER_PASSWORD_CHANGED = "user.password_changed"  # noqa: S105
    TOPIC_ADDED = "topic.added"
    TOPIC_RENAMED = "topic.renamed"
    SUBSCRIBER_SUSPENDED = "subscriber.suspended"
    SUBSCRIBER_UNSUSPENDED = "subscriber.unsuspended"
    SUBSCRIBER_TRUSTED = "subscriber.trusted"
    SUBSCRIBER_UNTRUSTED = "subscriber.untrusted"
    # Reduced to the keyed hash of their address at their request, before retention would.
    SUBSCRIBER_ERASED = "subscriber.erased"
    SUBSCRIBERS_IMPORTED = "subscribers.imported"
    SUBSCRIBERS_EXPORTED = "subscribers.exported"
    TOKEN_CREATED = "token.created"  # noqa: S105
    TOKEN_REVOKED = "token.revoked"  # noqa: S105
    # Whose sign-in needs a second factor; whether single sign-on makes accounts.
    SIGN_IN_POLICY_CHANGED = "sign_in_policy.changed"
    TWO_FACTOR_TURNED_ON = "two_factor.turned_on"
    TWO_FACTOR_TURNED_OFF = "two_factor.turned_off"
    # An admin took someone's second factor away (a lost phone).
    TWO_FACTOR_RESET = "two_factor.reset"
    ADMIN_ACTS_EXPORTED = "admin_acts.exported"
    RELEASES_EXPORTED = "releases.exported"


def admin_act_kind(value: str) -> AdminActKind:
    try:
        return AdminActKind(value)
    except ValueError:
        choices = ", ".join(kind.value for kind in AdminActKind)
        raise ValidationFailed("kind", "must be one of %(choices)s", choices=choices) from None


@dataclass(frozen=True, slots=True)
class AdminActFilter:
    """Which acts an admin asks to see: by one actor, of one kind, on days ``since``
    to ``until`` inclusive, in the office's time zone; None is "any"."""

    actor_id: int | None = None
    kind: AdminActKind | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def checked(
        cls,
        *,
        actor_id: int | None = None,
        kind: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> AdminActFilter:
        if since is not None and until is not None and until < since:
            raise ValidationFailed("until", "the last day comes before the first")
        return cls(actor_id, admin_act_kind(kind) if kind else None, since, until)

    def window(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The instants the days cover: from the first day's midnight, to before the
        midnight after the last day, in ``zone``."""
        start = datetime.combine(self.since, time(), zone) if self.since else None
        end = datetime.combine(self.until + timedelta(days=1), time(), zone) if self.until else None
        return start, end

    def as_details(self) -> dict[str, str | int | None]:
        """What the filter asked for, as an audit entry keeps it."""
        return {
            "actor_id": self.actor_id,
            "kind": self.kind.value if self.kind else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
