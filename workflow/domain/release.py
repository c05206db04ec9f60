"""The press release aggregate: its language versions, review, publication and amendments.

Every public method applies one row of ``states.TRANSITIONS`` after checking who is acting,
then records what happened three ways: the new state, an audit entry, and a domain event.
New revisions, audit entries and events accumulate in lists that the repository writes
out; the aggregate itself never touches a database.

Each stage of a release's life is a class of its own module, all built on
``release_core.ReleaseCore`` (the fields, and the bookkeeping every transition shares):
``editing`` (the text, its details and its translations), ``review`` (submission,
approval, rejection, and an amendment's outcome) and ``publication`` (scheduling,
publishing, correcting and withdrawing). ``Release`` joins them, and adds its creation
and what a person may do with it now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from workflow.domain import events as ev
from workflow.domain.attachments import Placement
from workflow.domain.editing import Editing
from workflow.domain.errors import PermissionDenied, ValidationFailed
from workflow.domain.publication import Publication
from workflow.domain.release_core import role_names, role_values
from workflow.domain.release_records import (
    AuditEntry,
    ChangeKind,
    CorrectedText,
    Revision,
    TranslationRequest,
    TranslationState,
)
from workflow.domain.review import Review
from workflow.domain.states import TRANSITIONS, Action, ReleaseState, Role, allowed_actions
from workflow.domain.users import User
from workflow.domain.values import Contact, Language, Text

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


class Release(Editing, Review, Publication):
    """A press release: its fields and bookkeeping (``ReleaseCore``), its transitions
    (``Editing``, ``Review``, ``Publication``), and what a person may do with it now."""

    __slots__ = ()

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
            AuditEntry("create", actor.id, role_values(actor), None, ReleaseState.DRAFT, now)
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

    # --- attachments ------------------------------------------------------------------

    def change_attachments(
        self,
        actor: User,
        placements: Mapping[Language, tuple[Placement, ...]],
        now: datetime,
        *,
        summary: str,
        limit: int,
        notes: Mapping[Language, str] | None = None,
        uploaded: Iterable[str] = (),
        kind: ChangeKind = ChangeKind.MAJOR,
    ) -> list[Revision]:
        """Show ``placements`` (every version's, in its words) as the release's photos and
        documents: a new revision of each version that changes, as any edit makes, so
        approvals are voided and a published release's change is a correction whose
        public ``notes`` each live version's page shows. ``summary`` says in the audit
        trail what changed; ``uploaded`` names the files new to the release, to render."""
        actor.require_active()
        if not actor.has(Role.PRESS_OFFICER):
            raise PermissionDenied("only press officers change a release's photos and documents")
        self._check_placements(placements, limit)
        notes = notes or {}
        changed = {
            language: replace(self.versions[language].text, attachments=shown)
            for language, shown in placements.items()
            if shown != self.versions[language].text.attachments
        }
        revisions: list[Revision] = []
        corrected: set[Language] = set()
        if self.state is ReleaseState.PUBLISHED:
            live = [language for language in changed if self.versions[language].is_live]
            corrections = {
                language: CorrectedText(
                    changed[language], notes.get(language, ""), self.versions[language].revision
                )
                for language in live
            }
            if corrections:
                found = self.correct_versions(
                    actor, corrections, now, attachments_from_text=True, summary=summary, kind=kind
                )
                revisions.extend(found.values())
                corrected.update(found)
        for language in self.primary_first(changed):
            if language in corrected:
                continue
            revision = self.edit(
                actor,
                language,
                changed[language],
                self.versions[language].revision,
                now,
                note=notes.get(language, ""),
                attachments_from_text=True,
                summary=summary,
            )
            revisions.append(revision)
        for attachment_id in uploaded:
            self._record(ev.AttachmentUploaded, actor, now, attachment_id=attachment_id)
        return revisions

    def _check_placements(
        self, placements: Mapping[Language, tuple[Placement, ...]], limit: int
    ) -> None:
        if set(placements) != set(self.versions):
            raise ValidationFailed("attachments", "every language version shows the same files")
        orders = {tuple(p.attachment_id for p in shown) for shown in placements.values()}
        if len(orders) != 1:
            raise ValidationFailed("attachments", "every language version shows the same files")
        order = next(iter(orders))
        if len(set(order)) != len(order):
            raise ValidationFailed("attachments", "a file is shown once")
        if len(order) > limit:
            raise ValidationFailed(
                "file", "a release has at most %(limit)s attachments", limit=limit
            )
        for placement in placements[self.primary_language]:
            if placement.is_image and not placement.words.alt:
                raise ValidationFailed(
                    "alt", "a photo needs alt text, for readers who cannot see it"
                )

    # --- queries ----------------------------------------------------------------------

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
        refusal = self.translation_refusal(actor) or self._nothing_left_to_translate()
        result.append(Choice(REQUEST_TRANSLATION, refusal))
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

    def _refusal(
        self, actor: User, action: Action, assignments: Iterable[TranslationRequest]
    ) -> str | None:
        if not actor.active:
            return f"the account of {actor.name} is deactivated"
        transition = TRANSITIONS[(self.state, action)]
        if not transition.roles & actor.roles:
            if transition.roles == {Role.SCHEDULER}:
                return "the scheduler publishes it at the scheduled time"
            return f"only {role_names(transition.roles)} can {action.value.replace('_', ' ')}"
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
