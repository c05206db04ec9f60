"""Publication of a release: scheduling, publishing, correcting live text, withdrawing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from workflow.domain import events as ev
from workflow.domain.errors import InvalidTransition, ValidationFailed
from workflow.domain.release_core import (
    ReleaseCore,
    checked_comment,
    checked_moment,
    checked_note,
)
from workflow.domain.release_records import ChangeKind, CorrectedText, Revision
from workflow.domain.states import PUBLIC_STATES, Action, ReleaseState
from workflow.domain.users import User
from workflow.domain.values import Language, Text


@dataclass(frozen=True, slots=True)
class Replacement:
    """The release that is to replace another: what ``supersede`` checks of it."""

    release_id: int
    number: str | None
    state: ReleaseState


class Publication(ReleaseCore):
    """Putting a release before the public, amending it there, and taking it down."""

    __slots__ = ()

    def schedule(
        self,
        actor: User,
        publish_at: datetime,
        now: datetime,
        *,
        embargo_until: datetime | None = None,
    ) -> None:
        transition = self._check(actor, Action.SCHEDULE)
        publish_at = checked_moment("publish_at", publish_at)
        if publish_at <= now:
            raise ValidationFailed("publish_at", "must be in the future")
        if embargo_until is not None:
            embargo_until = checked_moment("embargo_until", embargo_until)
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
                    "it is not due until %(when)s",
                    when=self.publish_at.isoformat(),
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
        *,
        kind: ChangeKind = ChangeKind.MAJOR,
    ) -> Revision:
        """Propose corrected live text, with a public note for a major change; the live
        text stays until an approver accepts the correction."""
        corrected = self.correct_versions(
            actor, {language: CorrectedText(text, note, base_revision)}, now, kind=kind
        )
        return corrected[language]

    def correct_versions(
        self,
        actor: User,
        corrections: Mapping[Language, CorrectedText],
        now: datetime,
        *,
        attachments_from_text: bool = False,
        summary: str = "",
        kind: ChangeKind = ChangeKind.MAJOR,
    ) -> dict[Language, Revision]:
        """Propose corrected text for one or more live versions, each with the public note
        its own page will show; the live texts stay until an approver accepts them. The
        attachments change only with ``attachments_from_text`` (see ``Editing.edit``).

        A ``MINOR`` change (a typo, a link, formatting) has no public note and mails no
        one once approved; a ``MAJOR`` one needs each version's note."""
        transition = self._check(actor, Action.CORRECT)
        if not corrections:
            raise ValidationFailed("language", "name the live version to correct")
        languages = self.primary_first(corrections)
        notes: dict[Language, str] = {}
        for language in languages:
            notes[language] = _checked_note(kind, language, corrections[language].note)
            version = self.versions.get(language)
            if version is None or not version.is_live:
                raise ValidationFailed(
                    "language", "the %(language)s version is not live", language=language
                )
            self._check_base(language, corrections[language].base_revision)
        revisions = {}
        for language in languages:
            text = corrections[language].text
            if not attachments_from_text:
                text = self._keeping_attachments(language, text)
            revisions[language] = self._save_text(actor, language, text, now, note="correction")
            self.versions[language].pending_note = notes[language]
        self.pending_change = kind
        first = languages[0]
        if len(languages) == 1:
            comment = notes[first]
        elif kind is ChangeKind.MAJOR:
            comment = " · ".join(f"[{language}] {notes[language]}" for language in languages)
        else:
            comment = ""
        details = {"language": ",".join(languages), "change": kind.value}
        if summary:
            details["summary"] = summary
        self._move(transition, actor, now, comment, details=details)
        self._record(
            ev.CorrectionProposed,
            actor,
            now,
            language=first.value,
            note=notes[first],
            notes={language.value: note for language, note in notes.items() if note},
            change=kind.value,
        )
        return revisions

    def unpublish(self, actor: User, reason: str, now: datetime) -> None:
        """Take down a release published in error: it leaves every list, feed and search,
        its address answers that it is gone, and its past recipients are asked to
        disregard it. Its number is never used again."""
        transition = self._check(actor, Action.UNPUBLISH)
        reason = checked_comment("reason", reason, required=True)
        was_public = self.is_public(now)
        self.withdrawal_reason = reason
        self._move(transition, actor, now, reason)
        self._record(ev.ReleaseUnpublished, actor, now, reason=reason, was_public=was_public)

    def supersede(self, actor: User, replacement: Replacement, now: datetime) -> None:
        """Take down this release for ``replacement``, a published one that names it: its
        address leads there. Nobody is mailed for it: the replacement's own email goes to
        those it would go to anyway."""
        transition = self._check(actor, Action.SUPERSEDE)
        if replacement.release_id == self.id:
            raise ValidationFailed("superseded_by", "a release cannot replace itself")
        if replacement.number is None or replacement.state not in PUBLIC_STATES:
            raise ValidationFailed(
                "superseded_by", "the release that replaces it must be published"
            )
        self.superseded_by = replacement.release_id
        self._move(transition, actor, now, details={"superseded_by": replacement.number})
        self._record(
            ev.ReleaseSuperseded,
            actor,
            now,
            by_release_id=replacement.release_id,
            by_number=replacement.number,
        )

    def withdraw(self, actor: User, reason: str, now: datetime) -> None:
        transition = self._check(actor, Action.WITHDRAW)
        reason = checked_comment("reason", reason, required=True)
        was_public = self.is_public(now)
        self.withdrawal_reason = reason
        self._move(transition, actor, now, reason)
        self._record(ev.ReleaseWithdrawn, actor, now, reason=reason, was_public=was_public)


def _checked_note(kind: ChangeKind, language: Language, note: str) -> str:
    """A major change's public note (required), or a minor change's none."""
    if kind is ChangeKind.MAJOR:
        return checked_note(language, note)
    if note.strip():
        raise ValidationFailed(
            "note", "a minor change has no public note; make it a major change to tell readers"
        )
    return ""
