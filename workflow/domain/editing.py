"""Writing a release: editing a language version or the details, and translating it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from workflow.domain import events as ev
from workflow.domain.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from workflow.domain.release_core import ReleaseCore, checked_moment, checked_note
from workflow.domain.release_records import (
    ChangeKind,
    Revision,
    TranslationRequest,
    TranslationState,
)
from workflow.domain.states import FINAL_STATES, Action, ReleaseState, Role
from workflow.domain.users import User
from workflow.domain.values import Contact, Language, Text

# One fixed sentence, so that the office pages find it in their Korean catalogue.
LIVE_TRANSLATION_REFUSAL = (
    "that language's text is already live: change it through a correction, not a translation"
)


class Editing(ReleaseCore):
    """Writing a release: its language versions, its details, and translations of it."""

    __slots__ = ()

    def edit(
        self,
        actor: User,
        language: Language,
        text: Text,
        base_revision: int,
        now: datetime,
        *,
        assignment: TranslationRequest | None = None,
        note: str = "",
        attachments_from_text: bool = False,
        summary: str = "",
    ) -> Revision:
        """Save a new revision of one language version, started from ``base_revision``.

        A translator may only edit the language an open request assigns to them. An edit
        voids the approvals given so far; on an approved or scheduled release it sends the
        text back to review. On a published release only a language that is not live yet
        (a late translation) can be edited this way; live text changes through ``correct``.
        While an amendment is reviewed, live text may change too, as a correction of that
        version: ``note`` is its public note, required unless the version has one already.

        The version keeps the attachments it shows unless ``attachments_from_text`` (the
        way ``Release.change_attachments`` changes them); ``summary`` says in the audit
        trail what changed when it was not the words.
        """
        transition = self._check(actor, Action.EDIT)
        if not actor.has(Role.PRESS_OFFICER):
            self._check_assignment(actor, language, assignment)
        version = self.versions.get(language)
        live = version is not None and version.is_live
        if live and self.state is ReleaseState.PUBLISHED:
            # Live text changes only as a correction, which the public is told about.
            raise InvalidTransition(
                Action.EDIT,
                self.state,
                self._allowed_names(),
                "the %(language)s text is live; propose a correction with a public note instead",
                language=language,
            )
        if live and self.pending_change is ChangeKind.MINOR:
            if note.strip():
                raise ValidationFailed(
                    "note",
                    "a minor change has no public note; make it a major change to tell readers",
                )
        elif live and (note.strip() or not self.versions[language].pending_note):
            note = checked_note(language, note)
        elif live:
            note = self.versions[language].pending_note
        elif note.strip():
            raise ValidationFailed(
                "note",
                "the %(language)s text is not live: only a correction has a public note",
                language=language,
            )
        self._check_base(language, base_revision)
        if not attachments_from_text:
            text = self._keeping_attachments(language, text)
        previous = self.state
        was_scheduled = self.state is ReleaseState.SCHEDULED
        voided = self._void_approvals()
        revision = self._save_text(actor, language, text, now)
        if live:
            self.versions[language].pending_note = note
        details: dict[str, str | None] = {"language": language.value}
        if summary:
            details["summary"] = summary
        if was_scheduled:
            details["cancelled_schedule"] = ev.iso(self.publish_at)
        self._move(transition, actor, now, note, details=details)
        self._record(
            ev.ReleaseEdited,
            actor,
            now,
            language=language.value,
            revision=revision.number,
            approvals_voided=voided,
            previous_state=previous.value,
        )
        if was_scheduled:
            self._record(
                ev.ReleaseUnscheduled, actor, now, embargo_until=ev.iso(self.embargo_until)
            )
            # As ``unschedule`` does: a new schedule sets its own embargo, and published at
            # once after approval the release is public at once.
            self.publish_at = None
            self.embargo_until = None
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

    # --- translation ------------------------------------------------------------------

    def translation_refusal(self, actor: User) -> str | None:
        """Why ``actor`` may not ask for a translation now, or None if they may."""
        if not actor.active:
            return f"the account of {actor.name} is deactivated"
        if not actor.has(Role.PRESS_OFFICER):
            return "only press officers request translations"
        if self.state in FINAL_STATES:
            return "the release is closed"
        return None

    def _nothing_left_to_translate(self) -> str | None:
        """Every other language's version is live: it changes by a correction now."""
        others = [language for language in Language if language is not self.primary_language]
        live = {language for language, version in self.versions.items() if version.is_live}
        return LIVE_TRANSLATION_REFUSAL if set(others) <= live else None

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
        if target is self.primary_language:
            raise ValidationFailed("target_language", "must differ from the original language")
        version = self.versions.get(target)
        if version is not None and version.is_live:
            # A translator could never hand it in: live text changes only as a correction.
            raise Conflict(LIVE_TRANSLATION_REFUSAL)
        if translator is None:
            translator = _least_busy(candidates, workload or {}, exclude=actor.id)
        if not translator.active or not translator.has(Role.TRANSLATOR):
            raise ValidationFailed(
                "translator", "%(name)s is not an active translator", name=translator.name
            )
        if checked_moment("due_at", due_at) <= now:
            raise ValidationFailed("due_at", "must be in the future")
        if any(
            r.target_language is target and r.state is TranslationState.OPEN for r in open_requests
        ):
            raise Conflict(
                "a translation into %(language)s is already requested",
                code="translation_already_requested",
                language=target,
            )
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
            raise Conflict(
                "this translation request is already %(state)s", state=request.state.value
            )
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


def _least_busy(candidates: Iterable[User], workload: Mapping[int, int], *, exclude: int) -> User:
    translators = [t for t in candidates if t.active and t.has(Role.TRANSLATOR) and t.id != exclude]
    if not translators:
        raise ValidationFailed("translator", "there is no active translator to assign")
    return min(translators, key=lambda t: (workload.get(t.id, 0), t.id))
