"""A release's fields and the bookkeeping every transition shares.

``ReleaseCore`` checks who acts, saves revisions, puts text live, voids approvals, and
records each move three ways: the new state, an audit entry and a domain event. The
classes of ``editing``, ``review`` and ``publication`` build their transitions on it,
and ``workflow.domain.release.Release`` joins them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from workflow.domain import events as ev
from workflow.domain.attachments import Placement
from workflow.domain.errors import (
    N_,
    InvalidTransition,
    PermissionDenied,
    StaleEdit,
    ValidationFailed,
)
from workflow.domain.release_records import (
    Approval,
    AuditEntry,
    ChangeKind,
    Revision,
    Version,
    VersionCorrection,
)
from workflow.domain.states import (
    ACTION_ROLES,
    PUBLIC_STATES,
    TRANSITIONS,
    Action,
    ReleaseState,
    Role,
    Transition,
    allowed_actions,
)
from workflow.domain.users import User
from workflow.domain.values import Contact, Language, Text, single_line

MAX_COMMENT_LENGTH = 5_000
MAX_NOTE_LENGTH = 1_000

# One fixed sentence per language, so that the office pages find each in their Korean
# catalogue: the refusal says which version's note is missing.
NOTE_REQUIRED = {
    Language.KO: N_("a correction of the Korean text needs a public note"),
    Language.EN: N_("a correction of the English text needs a public note"),
}

_ROLE_NAMES = {
    Role.PRESS_OFFICER: "press officers",
    Role.APPROVER: "approvers",
    Role.TRANSLATOR: "translators",
    Role.ADMIN: "admins",
    Role.SCHEDULER: "the scheduler",
}


def role_names(roles: Iterable[Role]) -> str:
    """Who holds ``roles``, as a refusal names them: "approvers or press officers"."""
    return " or ".join(sorted(_ROLE_NAMES[r] for r in roles))


def role_values(actor: User) -> tuple[str, ...]:
    """``actor``'s roles as an audit entry keeps them."""
    return tuple(sorted(r.value for r in actor.roles))


def checked_comment(field_name: str, value: str, *, required: bool) -> str:
    """``value`` stripped, or ``ValidationFailed`` naming ``field_name``."""
    value = value.strip()
    if required and not value:
        raise ValidationFailed(field_name, "a comment is required for this action")
    if "\x00" in value:
        raise ValidationFailed(field_name, "must not contain NUL bytes")
    if len(value) > MAX_COMMENT_LENGTH:
        raise ValidationFailed(
            field_name, "must be at most %(limit)s characters", limit=MAX_COMMENT_LENGTH
        )
    return value


def checked_note(language: Language, note: str) -> str:
    """The public note of a correction of the ``language`` version: one line, required."""
    if not note.strip():
        raise ValidationFailed("note", NOTE_REQUIRED[language])
    return single_line("note", note, max_length=MAX_NOTE_LENGTH)


def checked_moment(field_name: str, moment: datetime) -> datetime:
    """``moment``, or ``ValidationFailed`` naming ``field_name`` if it has no time zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationFailed(field_name, "must include a time zone")
    return moment


def is_public(state: ReleaseState, embargo_until: datetime | None, now: datetime) -> bool:
    """Whether anyone may read a release in ``state`` now: published (its live text stays
    public while a correction is reviewed) and past any embargo. Lists check it on a row
    without loading the release."""
    if state not in PUBLIC_STATES:
        return False
    return embargo_until is None or now >= embargo_until


@dataclass(slots=True)
class ReleaseCore:
    """A release's fields, and what every transition does with them."""

    primary_language: Language
    author_id: int
    created_at: datetime
    state: ReleaseState = ReleaseState.DRAFT
    id: int | None = None
    topics: frozenset[int] = frozenset()
    contact: Contact = field(default_factory=Contact)
    versions: dict[Language, Version] = field(default_factory=dict)
    approvals: list[Approval] = field(default_factory=list)
    review_cycle: int = 1
    number: str | None = None
    publish_at: datetime | None = None
    embargo_until: datetime | None = None
    published_at: datetime | None = None
    withdrawal_reason: str = ""
    # The release that replaces this one, once superseded.
    superseded_by: int | None = None
    # The kind of the correction under review, or None when there is none.
    pending_change: ChangeKind | None = None
    # Written out by the repository, then cleared.
    new_revisions: list[Revision] = field(default_factory=list)
    new_approvals: list[Approval] = field(default_factory=list)
    new_corrections: list[VersionCorrection] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)

    def is_public(self, now: datetime) -> bool:
        return is_public(self.state, self.embargo_until, now)

    def primary_first(self, languages: Iterable[Language]) -> list[Language]:
        """``languages`` with the original's first: the order a correction names them in."""
        return sorted(languages, key=lambda lang: (lang is not self.primary_language, lang.value))

    @property
    def pending_notes(self) -> dict[Language, str]:
        """The public note of each version whose correction is under review, the
        original's first."""
        noted = self.primary_first(lang for lang, v in self.versions.items() if v.pending_note)
        return {lang: self.versions[lang].pending_note for lang in noted}

    @property
    def pending_correction_note(self) -> str:
        """The note of the correction under review that a single line names: the
        original's if it is being corrected, else the other version's ("" for none)."""
        return next(iter(self.pending_notes.values()), "")

    # --- bookkeeping ------------------------------------------------------------------

    def _check(self, actor: User, action: Action) -> Transition:
        actor.require_active()
        if not actor.roles & ACTION_ROLES[action]:
            raise PermissionDenied(f"only {role_names(ACTION_ROLES[action])} can {action.value}")
        transition = TRANSITIONS.get((self.state, action))
        if transition is None:
            raise InvalidTransition(action, self.state, self._allowed_names())
        if not actor.roles & transition.roles:
            raise PermissionDenied(
                f"only {role_names(transition.roles)} can {action.value} a release that is "
                f"{self.state.value}"
            )
        return transition

    def _check_base(self, language: Language, base_revision: int) -> None:
        version = self.versions.get(language)
        if version is None:
            if base_revision != 0:
                raise ValidationFailed(
                    "base_revision",
                    "there is no %(language)s version yet; start from revision 0",
                    language=language,
                )
            return
        current = version.revision
        if base_revision != current:
            raise StaleEdit(
                language.value, base_revision, current, version.edited_by_name, version.edited_at
            )

    def _save_text(
        self, actor: User, language: Language, text: Text, now: datetime, note: str = ""
    ) -> Revision:
        version = self.versions.get(language)
        number = version.revision + 1 if version else 1
        if version is None:
            version = Version(language, text, number, actor.id, actor.name, now)
            self.versions[language] = version
        else:
            version.text = text
            version.revision = number
            version.edited_by = actor.id
            version.edited_by_name = actor.name
            version.edited_at = now
        version.editors.add(actor.id)
        revision = Revision(language, number, text, actor.id, now, note)
        self.new_revisions.append(revision)
        return revision

    def _keeping_attachments(self, language: Language, text: Text) -> Text:
        """``text`` showing the attachments the version shows now: writing words never
        adds or drops a file (that is ``Release.change_attachments``). A new version
        shows the original's files, in its own words once someone writes them."""
        version = self.versions.get(language)
        if version is not None:
            return replace(text, attachments=version.text.attachments)
        original = self.versions.get(self.primary_language)
        if original is None:
            return replace(text, attachments=())
        unworded = tuple(Placement(p.attachment_id, p.kind) for p in original.text.attachments)
        return replace(text, attachments=unworded)

    def _go_live(self, version: Version) -> None:
        version.live_revision = version.revision
        version.live_text = version.text
        version.editors.clear()
        version.pending_note = ""

    def _void_approvals(self) -> int:
        voided = len(self.approvals)
        self.approvals = []
        self.review_cycle += 1
        return voided

    def _move(
        self,
        transition: Transition,
        actor: User,
        now: datetime,
        comment: str = "",
        *,
        details: Mapping[str, str | None] | None = None,
    ) -> None:
        self._audit(
            transition.action.value, actor, self.state, transition.target, now, comment, details
        )
        self.state = transition.target

    def _audit(
        self,
        action: str,
        actor: User,
        source: ReleaseState,
        target: ReleaseState,
        now: datetime,
        comment: str = "",
        details: Mapping[str, str | None] | None = None,
    ) -> None:
        self.audit.append(
            AuditEntry(
                action,
                actor.id,
                role_values(actor),
                source,
                target,
                now,
                comment,
                dict(details or {}),
            )
        )

    def _record(
        self, event_type: type[ev.ReleaseEvent], actor: User, now: datetime, **fields: object
    ) -> None:
        self.events.append(
            event_type(
                occurred_at=now.isoformat(),
                actor_id=actor.id,
                release_id=self.id if self.id is not None else 0,
                **fields,  # type: ignore[arg-type]  # each event type names its own fields
            )
        )

    def _allowed_names(self) -> list[str]:
        return [a.value for a in allowed_actions(self.state)]
