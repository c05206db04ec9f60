"""Review of a release: submitting it, asking for changes, approving or rejecting it,
reopening or abandoning it; for an amendment of a published release, putting the approved
text live or discarding it."""

from __future__ import annotations

from datetime import datetime

from workflow.domain import events as ev
from workflow.domain.errors import Conflict, PermissionDenied, ValidationFailed
from workflow.domain.release_core import ReleaseCore, checked_comment
from workflow.domain.release_records import Approval, ChangeKind, VersionCorrection
from workflow.domain.states import Action, ReleaseState, Transition
from workflow.domain.users import User


class Review(ReleaseCore):
    """Review of a release, and of an amendment to a published one."""

    __slots__ = ()

    @property
    def editors(self) -> set[int]:
        """The author and everyone who wrote the text under review."""
        return {self.author_id}.union(*(v.editors for v in self.versions.values()))

    def approval_refusal(self, actor: User) -> str | None:
        """Why ``actor`` may not approve the current text, or None if they may."""
        if actor.id == self.author_id:
            return "authors cannot approve their own release"
        if actor.id in self.editors:
            return "you edited this text, so someone else must approve it"
        return None

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
        comment = checked_comment("comment", comment, required=True)
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
        comment = checked_comment("comment", comment, required=True)
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

    def _apply_amendment(self, transition: Transition, actor: User, now: datetime) -> None:
        corrected = sorted(
            v.language for v in self.versions.values() if v.is_live and v.has_unpublished_changes
        )
        added = sorted(v.language for v in self.versions.values() if not v.is_live)
        notes = {lang: self.versions[lang].pending_note for lang in self.primary_first(corrected)}
        minor = self.pending_change is ChangeKind.MINOR
        self.pending_change = None
        for version in self.versions.values():
            self._go_live(version)
        for language, note in notes.items():
            if minor:
                break  # no public note, nothing for the page to list
            revision = self.versions[language].revision
            self.new_corrections.append(VersionCorrection(language, note, now, revision))
        self._void_approvals()
        self._move(
            transition,
            actor,
            now,
            details={
                "corrected": ",".join(corrected),
                "added": ",".join(added),
                "change": (ChangeKind.MINOR if minor else ChangeKind.MAJOR).value
                if corrected
                else None,
            },
        )
        assert self.number is not None  # amended releases were published
        if corrected and minor:
            self._record(
                ev.MinorChangePublished, actor, now, number=self.number, languages=list(corrected)
            )
        elif corrected:
            self._record(
                ev.CorrectionPublished,
                actor,
                now,
                number=self.number,
                note=next(iter(notes.values())),
                languages=list(corrected),
                notes={language.value: note for language, note in notes.items()},
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
        for version in self.versions.values():
            version.pending_note = ""
        self.pending_change = None
        self._void_approvals()
