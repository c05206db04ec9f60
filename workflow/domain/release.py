"""The press release aggregate: its language versions, review, publication and amendments.

Every public method applies one row of ``states.TRANSITIONS`` after checking who is acting,
then records what happened three ways: the new state, an audit entry, and a domain event.
New revisions, audit entries and events accumulate in lists that the repository writes
out; the aggregate itself never touches a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from workflow.domain import events as ev
from workflow.domain.errors import (
    Conflict,
    InvalidTransition,
    PermissionDenied,
    StaleEdit,
    ValidationFailed,
)
from workflow.domain.states import (
    ACTION_ROLES,
    FINAL_STATES,
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

_ROLE_NAMES = {
    Role.PRESS_OFFICER: "press officers",
    Role.APPROVER: "approvers",
    Role.TRANSLATOR: "translators",
    Role.ADMIN: "admins",
    Role.SCHEDULER: "the scheduler",
}


def _who(roles: Iterable[Role]) -> str:
    return " or ".join(sorted(_ROLE_NAMES[r] for r in roles))


def _comment(field_name: str, value: str, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise ValidationFailed(field_name, "a comment is required for this action")
    if "\x00" in value:
        raise ValidationFailed(field_name, "must not contain NUL bytes")
    if len(value) > MAX_COMMENT_LENGTH:
        raise ValidationFailed(field_name, f"must be at most {MAX_COMMENT_LENGTH} characters")
    return value


def _utc(field_name: str, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationFailed(field_name, "must include a time zone")
    return moment


@dataclass(frozen=True, slots=True)
class Revision:
    """One immutable save of a language version."""

    language: Language
    number: int
    text: Text
    author_id: int
    created_at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class Approval:
    approver_id: int
    at: datetime
    cycle: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    actor_id: int
    actor_roles: tuple[str, ...]
    from_state: ReleaseState | None
    to_state: ReleaseState
    at: datetime
    comment: str = ""
    details: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(slots=True)
class Version:
    """The current state of one language version of a release."""

    language: Language
    text: Text
    revision: int
    edited_by: int
    edited_by_name: str
    edited_at: datetime
    live_revision: int | None = None
    live_text: Text | None = None
    # Who wrote any part of this text since it was last live: none of them may approve it.
    editors: set[int] = field(default_factory=set)

    @property
    def is_live(self) -> bool:
        return self.live_revision is not None

    @property
    def has_unpublished_changes(self) -> bool:
        return self.live_revision != self.revision


class TranslationState(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class TranslationRequest:
    release_id: int
    source_language: Language
    target_language: Language
    translator_id: int
    requested_by: int
    due_at: datetime
    created_at: datetime
    state: TranslationState = TranslationState.OPEN
    submitted_at: datetime | None = None
    id: int | None = None


# Not a row of the transition table: asking for a translation moves no state.
REQUEST_TRANSLATION = "request_translation"


@dataclass(frozen=True, slots=True)
class Choice:
    """Something a person might do to a release now, and why they may not."""

    action: str  # an ``Action``, or ``REQUEST_TRANSLATION``
    refusal: str | None = None  # None: they may

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def is_public(state: ReleaseState, embargo_until: datetime | None, now: datetime) -> bool:
    """Whether anyone may read a release in ``state`` now: published (its live text stays
    public while a correction is reviewed) and past any embargo. Lists check it on a row
    without loading the release."""
    if state not in PUBLIC_STATES:
        return False
    return embargo_until is None or now >= embargo_until


@dataclass(slots=True)
class Release:
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
    correction_note: str = ""
    pending_correction_note: str = ""
    withdrawal_reason: str = ""
    # Written out by the repository, then cleared.
    new_revisions: list[Revision] = field(default_factory=list)
    new_approvals: list[Approval] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)

    # --- creation ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        actor: User,
        language: Language,
        text: Text,
        now: datetime,
        *,
        topics: Iterable[int] = (),
        contact: Contact | None = None,
    ) -> Release:
        """A new draft written by a press officer, with its first revision."""
        actor.require_active()
        if not actor.has(Role.PRESS_OFFICER):
            raise PermissionDenied("only press officers create releases")
        release = cls(
            primary_language=language,
            author_id=actor.id,
            created_at=now,
            topics=frozenset(topics),
            contact=contact or Contact(),
        )
        release._save_text(actor, language, text, now)
        release.audit.append(
            AuditEntry("create", actor.id, _roles(actor), None, ReleaseState.DRAFT, now)
        )
        release._record(ev.ReleaseCreated, actor, now, language=language.value)
        return release

    def assign_id(self, release_id: int) -> None:
        """Events recorded before the release was first saved learn its id now."""
        self.id = release_id
        self.events = [
            replace(e, release_id=release_id) if isinstance(e, ev.ReleaseEvent) else e
            for e in self.events
        ]

    # --- queries ----------------------------------------------------------------------

    @property
    def editors(self) -> set[int]:
        """The author and everyone who wrote the text under review."""
        return {self.author_id}.union(*(v.editors for v in self.versions.values()))

    def is_public(self, now: datetime) -> bool:
        return is_public(self.state, self.embargo_until, now)

    def approval_refusal(self, actor: User) -> str | None:
        """Why ``actor`` may not approve the current text, or None if they may."""
        if actor.id == self.author_id:
            return "authors cannot approve their own release"
        if actor.id in self.editors:
            return "you edited this text, so someone else must approve it"
        return None

    def choices(self, actor: User, assignments: Iterable[TranslationRequest] = ()) -> list[Choice]:
        """What ``actor`` might do now, each with the reason they may not (None: they
        may): every action the state allows, then asking for a translation.

        The one place that decides it: ``available_actions``, the API's
        ``allowed_actions`` and the office pages' buttons all read these. The rules are
        the table's (state and role) and those on people: four eyes, one approval each,
        the author alone abandons, a translator edits only with an open request of
        their own in ``assignments``."""
        result = [
            Choice(action, self._refusal(actor, action, assignments))
            for action in allowed_actions(self.state)
        ]
        result.append(Choice(REQUEST_TRANSLATION, self.translation_refusal(actor)))
        return result

    def available_actions(
        self, actor: User, assignments: Iterable[TranslationRequest] = ()
    ) -> list[Action]:
        """The actions of the transition table ``actor`` may take now (see ``choices``)."""
        return [
            Action(c.action)
            for c in self.choices(actor, assignments)
            if c.allowed and c.action != REQUEST_TRANSLATION
        ]

    def translation_refusal(self, actor: User) -> str | None:
        """Why ``actor`` may not ask for a translation now, or None if they may."""
        if not actor.active:
            return f"the account of {actor.name} is deactivated"
        if not actor.has(Role.PRESS_OFFICER):
            return "only press officers request translations"
        if self.state in FINAL_STATES:
            return "the release is closed"
        return None

    def _refusal(
        self, actor: User, action: Action, assignments: Iterable[TranslationRequest]
    ) -> str | None:
        if not actor.active:
            return f"the account of {actor.name} is deactivated"
        transition = TRANSITIONS[(self.state, action)]
        if not transition.roles & actor.roles:
            if transition.roles == {Role.SCHEDULER}:
                return "the scheduler publishes it at the scheduled time"
            return f"only {_who(transition.roles)} can {action.value.replace('_', ' ')}"
        if action is Action.APPROVE:
            refusal = self.approval_refusal(actor)
            if refusal:
                return refusal
            if any(a.approver_id == actor.id for a in self.approvals):
                return "you have already approved this text"
        if action is Action.ABANDON and actor.id != self.author_id:
            return "only the author can abandon a release"
        if action is Action.EDIT and not actor.has(Role.PRESS_OFFICER):
            assigned = any(
                r.translator_id == actor.id and r.state is TranslationState.OPEN
                for r in assignments
            )
            if not assigned:
                return "translators edit only the language version assigned to them"
        return None

    # --- editing ----------------------------------------------------------------------

    def edit(
        self,
        actor: User,
        language: Language,
        text: Text,
        base_revision: int,
        now: datetime,
        *,
        assignment: TranslationRequest | None = None,
    ) -> Revision:
        """Save a new revision of one language version, started from ``base_revision``.

        A translator may only edit the language an open request assigns to them. An edit
        voids the approvals given so far; on an approved or scheduled release it sends the
        text back to review. On a published release only a language that is not live yet
        (a late translation) can be edited this way; live text changes through ``correct``.
        """
        transition = self._check(actor, Action.EDIT)
        if not actor.has(Role.PRESS_OFFICER):
            self._check_assignment(actor, language, assignment)
        version = self.versions.get(language)
        if version is not None and version.is_live and not self.pending_correction_note:
            # Live text changes only as a correction, which the public is told about.
            raise InvalidTransition(
                Action.EDIT,
                self.state,
                self._allowed_names(),
                f"the {language} text is live; propose a correction with a public note instead",
            )
        self._check_base(language, base_revision)
        was_scheduled = self.state is ReleaseState.SCHEDULED
        voided = self._void_approvals()
        revision = self._save_text(actor, language, text, now)
        details: dict[str, str | None] = {"language": language.value}
        if was_scheduled:
            details["cancelled_schedule"] = ev.iso(self.publish_at)
        self._move(transition, actor, now, details=details)
        self._record(
            ev.ReleaseEdited,
            actor,
            now,
            language=language.value,
            revision=revision.number,
            approvals_voided=voided,
        )
        if was_scheduled:
            self._record(
                ev.ReleaseUnscheduled, actor, now, embargo_until=ev.iso(self.embargo_until)
            )
            self.publish_at = None
        return revision

    def update_details(
        self,
        actor: User,
        now: datetime,
        *,
        topics: Iterable[int] | None = None,
        contact: Contact | None = None,
    ) -> None:
        transition = self._check(actor, Action.UPDATE_DETAILS)
        if topics is not None:
            self.topics = frozenset(topics)
        if contact is not None:
            self.contact = contact
        self._move(transition, actor, now)
        self._record(ev.ReleaseDetailsUpdated, actor, now)

    # --- review -----------------------------------------------------------------------

    def submit(self, actor: User, now: datetime) -> None:
        transition = self._check(actor, Action.SUBMIT)
        primary = self.versions.get(self.primary_language)
        if primary is None or not primary.text.body.strip():
            raise ValidationFailed("body", "an empty release cannot be submitted for review")
        if not self.topics:
            raise ValidationFailed("topics", "choose at least one topic before submitting")
        self._void_approvals()
        self._move(transition, actor, now)
        self._record(ev.ReleaseSubmitted, actor, now)

    def request_changes(self, actor: User, comment: str, now: datetime) -> None:
        transition = self._check(actor, Action.REQUEST_CHANGES)
        comment = _comment("comment", comment, required=True)
        self._void_approvals()
        self._move(transition, actor, now, comment)
        self._record(ev.ChangesRequested, actor, now, comment=comment)

    def approve(self, actor: User, now: datetime, *, required: int) -> bool:
        """Record ``actor``'s approval; True when it completes the ``required`` number.

        Approval completes review (``in_review → approved``) or, for an amendment of a
        published release, puts the amended text live at once.
        """
        transition = self._check(actor, Action.APPROVE)
        refusal = self.approval_refusal(actor)
        if refusal:
            raise PermissionDenied(refusal)
        if any(a.approver_id == actor.id for a in self.approvals):
            raise Conflict("you have already approved this text")
        approval = Approval(actor.id, now, self.review_cycle)
        self.approvals.append(approval)
        self.new_approvals.append(approval)
        self._record(ev.ApprovalGiven, actor, now, approvals=len(self.approvals), required=required)
        if len(self.approvals) < max(required, 1):
            self._audit(
                "approve",
                actor,
                self.state,
                self.state,
                now,
                details={"approvals": str(len(self.approvals)), "required": str(required)},
            )
            return False
        if self.state is ReleaseState.CORRECTION_IN_REVIEW:
            self._apply_amendment(transition, actor, now)
        else:
            self._move(transition, actor, now)
            self._record(ev.ReleaseApproved, actor, now)
        return True

    def reject(self, actor: User, comment: str, now: datetime) -> None:
        transition = self._check(actor, Action.REJECT)
        comment = _comment("comment", comment, required=True)
        if self.state is ReleaseState.CORRECTION_IN_REVIEW:
            self._discard_amendment(actor, now)
            self._move(transition, actor, now, comment)
            self._record(ev.CorrectionDiscarded, actor, now, comment=comment)
            return
        self._void_approvals()
        self._move(transition, actor, now, comment)
        self._record(ev.ReleaseRejected, actor, now, comment=comment)

    def reopen(self, actor: User, now: datetime) -> None:
        transition = self._check(actor, Action.REOPEN)
        self._move(transition, actor, now)
        self._record(ev.ReleaseReopened, actor, now)

    def abandon(self, actor: User, now: datetime) -> None:
        transition = self._check(actor, Action.ABANDON)
        if actor.id != self.author_id:
            raise PermissionDenied("only the author can abandon a release")
        if self.state is ReleaseState.CORRECTION_CHANGES_REQUESTED:
            self._discard_amendment(actor, now)
            self._move(transition, actor, now)
            self._record(ev.CorrectionDiscarded, actor, now, comment="abandoned by the author")
            return
        self._move(transition, actor, now)
        self._record(ev.ReleaseAbandoned, actor, now)

    # --- publication ------------------------------------------------------------------

    def schedule(
        self,
        actor: User,
        publish_at: datetime,
        now: datetime,
        *,
        embargo_until: datetime | None = None,
    ) -> None:
        transition = self._check(actor, Action.SCHEDULE)
        publish_at = _utc("publish_at", publish_at)
        if publish_at <= now:
            raise ValidationFailed("publish_at", "must be in the future")
        if embargo_until is not None:
            embargo_until = _utc("embargo_until", embargo_until)
            if embargo_until < publish_at:
                raise ValidationFailed(
                    "embargo_until", "an embargo cannot end before the publication time"
                )
        rescheduled = self.state is ReleaseState.SCHEDULED
        previous = self.publish_at
        self.publish_at = publish_at
        self.embargo_until = embargo_until
        self._move(
            transition,
            actor,
            now,
            details={
                "publish_at": ev.iso(publish_at),
                "embargo_until": ev.iso(embargo_until),
                "previous_publish_at": ev.iso(previous),
            },
        )
        self._record(
            ev.ReleaseScheduled,
            actor,
            now,
            publish_at=publish_at.isoformat(),
            embargo_until=ev.iso(embargo_until),
            rescheduled=rescheduled,
        )

    def unschedule(self, actor: User, now: datetime) -> None:
        transition = self._check(actor, Action.UNSCHEDULE)
        embargo = self.embargo_until
        self._move(transition, actor, now, details={"cancelled_schedule": ev.iso(self.publish_at)})
        self.publish_at = None
        self.embargo_until = None
        self._record(ev.ReleaseUnscheduled, actor, now, embargo_until=ev.iso(embargo))

    def publish(self, actor: User, now: datetime, *, number: str | None) -> None:
        """Put every language version live. ``number`` is allocated by the caller on the
        first publication; the scheduler publishes a scheduled release once it is due."""
        transition = self._check(actor, Action.PUBLISH)
        if self.state is ReleaseState.SCHEDULED:
            assert self.publish_at is not None  # scheduled always has a time
            if now < self.publish_at:
                raise InvalidTransition(
                    Action.PUBLISH,
                    self.state,
                    self._allowed_names(),
                    f"it is not due until {self.publish_at.isoformat()}",
                )
        if self.number is None:
            if number is None:
                raise ValidationFailed("number", "a first publication needs a release number")
            self.number = number
        scheduled_for = self.publish_at if self.state is ReleaseState.SCHEDULED else None
        for version in self.versions.values():
            self._go_live(version)
        self.published_at = now
        self._void_approvals()
        self._move(
            transition,
            actor,
            now,
            details={
                "number": self.number,
                "scheduled_for": ev.iso(scheduled_for),
                "published_at": now.isoformat(),
            },
        )
        self._record(
            ev.ReleasePublished,
            actor,
            now,
            number=self.number,
            languages=sorted(self.versions),
            scheduled_for=ev.iso(scheduled_for),
            embargo_until=ev.iso(self.embargo_until),
        )

    def correct(
        self,
        actor: User,
        language: Language,
        text: Text,
        note: str,
        base_revision: int,
        now: datetime,
    ) -> Revision:
        """Propose corrected live text with a public note; the live text stays until an
        approver accepts the correction."""
        transition = self._check(actor, Action.CORRECT)
        note = single_line("note", note, max_length=1_000)
        version = self.versions.get(language)
        if version is None or not version.is_live:
            raise ValidationFailed("language", f"the {language} version is not live")
        self._check_base(language, base_revision)
        revision = self._save_text(actor, language, text, now, note="correction")
        self.pending_correction_note = note
        self._move(transition, actor, now, note, details={"language": language.value})
        self._record(ev.CorrectionProposed, actor, now, language=language.value, note=note)
        return revision

    def withdraw(self, actor: User, reason: str, now: datetime) -> None:
        transition = self._check(actor, Action.WITHDRAW)
        reason = _comment("reason", reason, required=True)
        was_public = self.is_public(now)
        self.withdrawal_reason = reason
        self._move(transition, actor, now, reason)
        self._record(ev.ReleaseWithdrawn, actor, now, reason=reason, was_public=was_public)

    # --- translation ------------------------------------------------------------------

    def request_translation(
        self,
        actor: User,
        target: Language,
        translator: User | None,
        due_at: datetime,
        now: datetime,
        *,
        open_requests: Iterable[TranslationRequest] = (),
        candidates: Iterable[User] = (),
        workload: Mapping[int, int] | None = None,
    ) -> TranslationRequest:
        """A request for ``translator`` to write the ``target`` version from the primary one.

        With no translator named, the active translator among ``candidates`` with the
        fewest open requests (``workload``) gets it; ties go to the lowest id, so requests
        go round the team in turn.
        """
        refusal = self.translation_refusal(actor)
        if refusal is not None:
            if actor.active and actor.has(Role.PRESS_OFFICER):  # the state refuses, not a rule
                raise InvalidTransition("request a translation for", self.state, [], refusal)
            raise PermissionDenied(refusal)
        if translator is None:
            translator = _least_busy(candidates, workload or {}, exclude=actor.id)
        if target is self.primary_language:
            raise ValidationFailed("target_language", "must differ from the original language")
        if not translator.active or not translator.has(Role.TRANSLATOR):
            raise ValidationFailed("translator", f"{translator.name} is not an active translator")
        if _utc("due_at", due_at) <= now:
            raise ValidationFailed("due_at", "must be in the future")
        if any(
            r.target_language is target and r.state is TranslationState.OPEN for r in open_requests
        ):
            raise Conflict(f"a translation into {target} is already requested")
        assert self.id is not None  # a saved release
        self._audit(
            "request_translation",
            actor,
            self.state,
            self.state,
            now,
            details={"target_language": target.value, "translator_id": str(translator.id)},
        )
        return TranslationRequest(
            release_id=self.id,
            source_language=self.primary_language,
            target_language=target,
            translator_id=translator.id,
            requested_by=actor.id,
            due_at=due_at,
            created_at=now,
        )

    def submit_translation(
        self,
        actor: User,
        request: TranslationRequest,
        text: Text,
        base_revision: int,
        now: datetime,
    ) -> Revision:
        """The translator's text becomes the target version, to be reviewed like any draft."""
        if request.translator_id != actor.id:
            raise PermissionDenied("only the assigned translator submits this translation")
        if request.state is not TranslationState.OPEN:
            raise Conflict(f"this translation request is already {request.state.value}")
        revision = self.edit(
            actor, request.target_language, text, base_revision, now, assignment=request
        )
        request.state = TranslationState.SUBMITTED
        request.submitted_at = now
        assert request.id is not None
        self._record(
            ev.TranslationSubmitted,
            actor,
            now,
            request_id=request.id,
            language=request.target_language.value,
            revision=revision.number,
        )
        return revision

    # --- internals --------------------------------------------------------------------

    def _check(self, actor: User, action: Action) -> Transition:
        actor.require_active()
        if not actor.roles & ACTION_ROLES[action]:
            raise PermissionDenied(f"only {_who(ACTION_ROLES[action])} can {action.value}")
        transition = TRANSITIONS.get((self.state, action))
        if transition is None:
            raise InvalidTransition(action, self.state, self._allowed_names())
        if not actor.roles & transition.roles:
            raise PermissionDenied(
                f"only {_who(transition.roles)} can {action.value} a release that is "
                f"{self.state.value}"
            )
        return transition

    def _check_assignment(
        self, actor: User, language: Language, assignment: TranslationRequest | None
    ) -> None:
        if (
            assignment is None
            or assignment.translator_id != actor.id
            or assignment.release_id != self.id
            or assignment.target_language is not language
            or assignment.state is not TranslationState.OPEN
        ):
            raise PermissionDenied("translators edit only the language version assigned to them")

    def _check_base(self, language: Language, base_revision: int) -> None:
        version = self.versions.get(language)
        if version is None:
            if base_revision != 0:
                raise ValidationFailed(
                    "base_revision", f"there is no {language} version yet; start from revision 0"
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

    def _go_live(self, version: Version) -> None:
        version.live_revision = version.revision
        version.live_text = version.text
        version.editors.clear()

    def _apply_amendment(self, transition: Transition, actor: User, now: datetime) -> None:
        corrected = sorted(
            v.language for v in self.versions.values() if v.is_live and v.has_unpublished_changes
        )
        added = sorted(v.language for v in self.versions.values() if not v.is_live)
        for version in self.versions.values():
            self._go_live(version)
        note = self.pending_correction_note
        if corrected:
            self.correction_note = note
        self.pending_correction_note = ""
        self._void_approvals()
        self._move(
            transition,
            actor,
            now,
            details={
                "corrected": ",".join(corrected),
                "added": ",".join(added),
            },
        )
        assert self.number is not None  # amended releases were published
        if corrected:
            self._record(
                ev.CorrectionPublished,
                actor,
                now,
                number=self.number,
                note=note,
                languages=list(corrected),
            )
        if added:
            self._record(
                ev.TranslationPublished, actor, now, number=self.number, languages=list(added)
            )

    def _discard_amendment(self, actor: User, now: datetime) -> None:
        """Bring every live version back to its live text, as a new revision."""
        for version in list(self.versions.values()):
            if version.is_live and version.has_unpublished_changes:
                assert version.live_text is not None
                self._save_text(
                    actor, version.language, version.live_text, now, note="amendment discarded"
                )
                self._go_live(version)
        self.pending_correction_note = ""
        self._void_approvals()

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
                action, actor.id, _roles(actor), source, target, now, comment, dict(details or {})
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


def _least_busy(candidates: Iterable[User], workload: Mapping[int, int], *, exclude: int) -> User:
    translators = [t for t in candidates if t.active and t.has(Role.TRANSLATOR) and t.id != exclude]
    if not translators:
        raise ValidationFailed("translator", "there is no active translator to assign")
    return min(translators, key=lambda t: (workload.get(t.id, 0), t.id))


def _roles(actor: User) -> tuple[str, ...]:
    return tuple(sorted(r.value for r in actor.roles))
