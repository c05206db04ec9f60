"""One function per command on a release. Each is one transaction: load, let the domain
decide, save the release with its audit entries and outbox events, commit.

HTTP handlers, CLI commands and Celery tasks call these and nothing below them. A refused
command raises a ``DomainError`` and leaves the database exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from workflow.db.tables import CommentRow, ReleaseRow
from workflow.db.unit_of_work import UnitOfWork
from workflow.domain import events as ev
from workflow.domain.errors import NotFound, PermissionDenied, ValidationFailed
from workflow.domain.publication import Replacement
from workflow.domain.release import Choice, Release
from workflow.domain.release_core import MAX_COMMENT_LENGTH
from workflow.domain.release_records import (
    ChangeKind,
    CorrectedText,
    Revision,
    TranslationRequest,
    TranslationState,
)
from workflow.domain.states import Action, ReleaseState, Role
from workflow.domain.users import SCHEDULER, User
from workflow.domain.values import Contact, Language, Text, release_number
from workflow.outbox import add_to_outbox
from workflow.services.context import Actor, ServiceContext, resolve_actor


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command left behind, as the caller should see it."""

    release_id: int
    state: ReleaseState
    allowed_actions: list[Action]
    revision: int | None = None


def _language(value: str | Language, field: str = "language") -> Language:
    try:
        return Language(value)
    except ValueError:
        raise ValidationFailed(field, "must be 'ko' or 'en'") from None


def _topics(uow: UnitOfWork, topic_ids: Iterable[int]) -> frozenset[int]:
    wanted = set(topic_ids)
    unknown = wanted - uow.topics.existing(wanted)
    if unknown:
        raise ValidationFailed("topics", "unknown topic ids: %(ids)s", ids=sorted(unknown))
    return frozenset(wanted)


def _act(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    command: Callable[[UnitOfWork, Release, User, datetime], int | None],
) -> Outcome:
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        release = uow.releases.get(release_id, for_update=True)
        revision = command(uow, release, actor, ctx.clock.now())
        uow.releases.save(release)
        uow.commit()
        return Outcome(release_id, release.state, next_actions(uow, release, actor), revision)


def next_actions(uow: UnitOfWork, release: Release, actor: User) -> list[Action]:
    """What ``actor`` may do next, with their translation requests taken into account."""
    return release.available_actions(actor, _assignments(uow, release, actor))


def next_choices(uow: UnitOfWork, release: Release, actor: User) -> list[Choice]:
    """What ``actor`` might do next, each allowed or with the reason it is refused."""
    return release.choices(actor, _assignments(uow, release, actor))


def _assignments(uow: UnitOfWork, release: Release, actor: User) -> list[TranslationRequest]:
    assert release.id is not None
    if not actor.has(Role.TRANSLATOR):
        return []
    return uow.releases.translation_requests(release.id)


def create_release(
    ctx: ServiceContext,
    who: Actor,
    *,
    language: str,
    title: str,
    body: str,
    subtitle: str = "",
    topics: Iterable[int] = (),
    contact: Contact | None = None,
) -> Outcome:
    """Start a draft in ``language`` (its primary language) with its first revision."""
    text = Text.checked(title, body, subtitle)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        release = Release.create(
            actor,
            _language(language),
            text,
            ctx.clock.now(),
            topics=_topics(uow, topics),
            contact=contact,
        )
        release_id = uow.releases.add(release)
        uow.commit()
        return Outcome(release_id, release.state, release.available_actions(actor), 1)


def edit_version(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    *,
    language: str,
    title: str,
    body: str,
    base_revision: int,
    subtitle: str = "",
    note: str = "",
) -> Outcome:
    """Save a language version, refusing if someone saved since ``base_revision``. Live
    text of a release whose amendment is in review changes as a correction of that
    version, with ``note`` as its public note (see ``Release.edit``)."""
    text = Text.checked(title, body, subtitle)

    def command(uow: UnitOfWork, release: Release, actor: User, now: datetime) -> int:
        lang = _language(language)
        return _edit(uow, release, actor, now, lang, text, base_revision, note).number

    return _act(ctx, who, release_id, command)


def _edit(
    uow: UnitOfWork,
    release: Release,
    actor: User,
    now: datetime,
    language: Language,
    text: Text,
    base_revision: int,
    note: str = "",
) -> Revision:
    assert release.id is not None
    assignment = None
    if not actor.has(Role.PRESS_OFFICER):
        assignment = next(
            (
                r
                for r in uow.releases.translation_requests(release.id)
                if r.translator_id == actor.id
                and r.target_language is language
                and r.state is TranslationState.OPEN
            ),
            None,
        )
    return release.edit(actor, language, text, base_revision, now, assignment=assignment, note=note)


def update_details(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    *,
    topics: Iterable[int] | None = None,
    contact: Contact | None = None,
) -> Outcome:
    def command(uow: UnitOfWork, release: Release, actor: User, now: datetime) -> None:
        _update_details(uow, release, actor, now, topics, contact)

    return _act(ctx, who, release_id, command)


def _update_details(
    uow: UnitOfWork,
    release: Release,
    actor: User,
    now: datetime,
    topics: Iterable[int] | None,
    contact: Contact | None,
) -> None:
    chosen = None if topics is None else _topics(uow, topics)
    release.update_details(actor, now, topics=chosen, contact=contact)


def submit_release(ctx: ServiceContext, who: Actor, release_id: int) -> Outcome:
    return _act(ctx, who, release_id, lambda _u, r, a, now: r.submit(a, now))


def request_changes(ctx: ServiceContext, who: Actor, release_id: int, comment: str) -> Outcome:
    return _act(ctx, who, release_id, lambda _u, r, a, now: r.request_changes(a, comment, now))


def approve_release(ctx: ServiceContext, who: Actor, release_id: int) -> Outcome:
    required = ctx.settings.required_approvals

    def command(_uow: UnitOfWork, release: Release, actor: User, now: datetime) -> None:
        release.approve(actor, now, required=required)

    return _act(ctx, who, release_id, command)


def reject_release(ctx: ServiceContext, who: Actor, release_id: int, comment: str) -> Outcome:
    return _act(ctx, who, release_id, lambda _u, r, a, now: r.reject(a, comment, now))


def reopen_release(ctx: ServiceContext, who: Actor, release_id: int) -> Outcome:
    return _act(ctx, who, release_id, lambda _u, r, a, now: r.reopen(a, now))


def abandon_release(ctx: ServiceContext, who: Actor, release_id: int) -> Outcome:
    return _act(ctx, who, release_id, lambda _u, r, a, now: r.abandon(a, now))


def schedule_release(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    *,
    publish_at: datetime,
    embargo_until: datetime | None = None,
) -> Outcome:
    def command(_uow: UnitOfWork, release: Release, actor: User, now: datetime) -> None:
        release.schedule(actor, publish_at, now, embargo_until=embargo_until)

    return _act(ctx, who, release_id, command)


def unschedule_release(ctx: ServiceContext, who: Actor, release_id: int) -> Outcome:
    return _act(ctx, who, release_id, lambda _u, r, a, now: r.unschedule(a, now))


def publish_release(ctx: ServiceContext, who: Actor, release_id: int) -> Outcome:
    """Publish now: by a press officer from ``approved``, or by the scheduler (actor
    ``SCHEDULER``) once a scheduled release is due. The first publication allocates
    the release number, in the same transaction."""

    def command(uow: UnitOfWork, release: Release, actor: User, now: datetime) -> None:
        _publish(ctx, uow, release, actor, now)

    return _act(ctx, who, release_id, command)


def _publish(
    ctx: ServiceContext, uow: UnitOfWork, release: Release, actor: User, now: datetime
) -> None:
    number = None
    if release.number is None and Action.PUBLISH in release.available_actions(actor):
        year = now.astimezone(ctx.settings.office_zone).year
        number = release_number(year, uow.releases.next_number(year))
    release.publish(actor, now, number=number)


def publish_due(ctx: ServiceContext, *, limit: int = 100) -> list[int]:
    """Publish every scheduled release that is due, oldest schedule first, each in its
    own transaction; returns their ids.

    Safe to run anywhere at once: each release is claimed with ``FOR UPDATE SKIP LOCKED``
    on PostgreSQL (SQLite's immediate transaction holds the database lock instead), and a
    release another sweeper published meanwhile is simply no longer due.
    """
    published: list[int] = []
    for _ in range(limit):
        with ctx.uow() as uow:
            now = ctx.clock.now()
            release_id = uow.releases.claim_due(now)
            if release_id is None:
                break
            release = uow.releases.get(release_id)
            _publish(ctx, uow, release, SCHEDULER, now)
            uow.releases.save(release)
            uow.commit()
            published.append(release_id)
    return published


def publish_scheduled(ctx: ServiceContext, release_id: int) -> Outcome:
    """The scheduler's publication of a due release (see ``publish_release``)."""
    return publish_release(ctx, SCHEDULER, release_id)


def correct_release(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    *,
    language: str,
    title: str,
    body: str,
    note: str,
    base_revision: int,
    subtitle: str = "",
    change: str = ChangeKind.MAJOR.value,
) -> Outcome:
    """Propose corrected text for a published release; it goes live once approved. A
    ``change`` is "major" (a public ``note``, mailed to everyone who received it) or
    "minor" (no note, no email)."""
    text = Text.checked(title, body, subtitle)
    kind = change_kind(change)

    def command(_uow: UnitOfWork, release: Release, actor: User, now: datetime) -> int:
        lang = _language(language)
        return release.correct(actor, lang, text, note, base_revision, now, kind=kind).number

    return _act(ctx, who, release_id, command)


@dataclass(frozen=True, slots=True)
class VersionEdit:
    """A language version's new text, and the revision it was written from."""

    title: str
    body: str
    base_revision: int
    subtitle: str = ""


def save_edits(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    *,
    texts: Mapping[str | Language, VersionEdit],
    notes: Mapping[str | Language, str] | None = None,
    topics: Iterable[int] | None = None,
    contact: Contact | None = None,
    change: str = ChangeKind.MAJOR.value,
) -> Outcome:
    """The editor's save: new texts for some language versions, then the details (when
    ``topics`` or ``contact`` is given), all or nothing in one transaction.

    Changed live texts are corrections, each with its own public note from ``notes``
    (by language; the notes of unchanged or unpublished versions are not used). On a
    published release they are proposed as one correction (``correct_release`` for
    several versions at once), which puts the release in correction review, and every
    other text is then a plain edit (as ``edit_version``); in correction review each is
    an edit with its note. Any refusal, a stale ``base_revision`` or a missing note of
    any language included, leaves the database as it was.
    """
    checked = {
        _language(language): (Text.checked(e.title, e.body, e.subtitle), e.base_revision)
        for language, e in texts.items()
    }
    noted = {_language(language): note for language, note in (notes or {}).items()}
    kind = change_kind(change)
    with_details = topics is not None or contact is not None
    if not checked and not with_details:
        raise ValidationFailed("texts", "nothing to save: give a text or the details")

    def command(uow: UnitOfWork, release: Release, actor: User, now: datetime) -> None:
        def is_live(language: Language) -> bool:
            version = release.versions.get(language)
            return version is not None and version.is_live

        # Live texts first: on a published release, their correction is the first change.
        order = sorted(
            (lang for lang in Language if lang in checked), key=lambda lang: not is_live(lang)
        )
        live = [lang for lang in order if is_live(lang)]
        if live and release.state is ReleaseState.PUBLISHED:
            corrections = {
                lang: CorrectedText(checked[lang][0], noted.get(lang, ""), checked[lang][1])
                for lang in live
            }
            release.correct_versions(actor, corrections, now, kind=kind)
            order = [lang for lang in order if lang not in live]
        for language in order:
            text, base_revision = checked[language]
            note = noted.get(language, "") if is_live(language) else ""
            _edit(uow, release, actor, now, language, text, base_revision, note)
        if with_details:
            _update_details(uow, release, actor, now, topics, contact)

    return _act(ctx, who, release_id, command)


def withdraw_release(ctx: ServiceContext, who: Actor, release_id: int, reason: str) -> Outcome:
    return _act(ctx, who, release_id, lambda _u, r, a, now: r.withdraw(a, reason, now))


def unpublish_release(ctx: ServiceContext, who: Actor, release_id: int, reason: str) -> Outcome:
    """Take down a release published in error (see ``Release.unpublish``)."""
    return _act(ctx, who, release_id, lambda _u, r, a, now: r.unpublish(a, reason, now))


def supersede_release(ctx: ServiceContext, who: Actor, release_id: int, by_number: str) -> Outcome:
    """Take down a release for the published one numbered ``by_number``, which replaces
    it (see ``Release.supersede``)."""

    def command(uow: UnitOfWork, release: Release, actor: User, now: datetime) -> None:
        found = uow.session.execute(
            select(ReleaseRow.id, ReleaseRow.number, ReleaseRow.state).where(
                ReleaseRow.number == by_number.strip()
            )
        ).first()
        if found is None:
            raise ValidationFailed(
                "superseded_by", "there is no release %(number)s", number=by_number.strip()
            )
        replacement = Replacement(found.id, found.number, ReleaseState(found.state))
        release.supersede(actor, replacement, now)

    return _act(ctx, who, release_id, command)


def change_kind(value: str) -> ChangeKind:
    try:
        return ChangeKind(value)
    except ValueError:
        raise ValidationFailed("change", "must be 'minor' or 'major'") from None


def request_translation(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    *,
    target_language: str,
    translator_id: int | None = None,
    due_at: datetime | None = None,
) -> int:
    """Ask a translator (named, or the least busy one) for the ``target_language`` version.
    Returns the request's id."""
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        release = uow.releases.get(release_id, for_update=True)
        now = ctx.clock.now()
        target = _language(target_language, "target_language")
        existing = uow.releases.translation_requests(release_id)
        named = uow.users.get(translator_id) if translator_id is not None else None
        request = release.request_translation(
            actor,
            target,
            named,
            due_at or now + timedelta(hours=ctx.settings.translation_due_hours),
            now,
            open_requests=existing,
            candidates=[] if named else uow.users.with_role(Role.TRANSLATOR),
            workload={} if named else uow.releases.open_translation_counts(),
        )
        translator_id = request.translator_id
        request_id = uow.releases.save_translation_request(request)
        release.events.append(
            ev.TranslationRequested(
                occurred_at=now.isoformat(),
                actor_id=actor.id,
                release_id=release_id,
                request_id=request_id,
                source_language=request.source_language.value,
                target_language=target.value,
                translator_id=translator_id,
                due_at=request.due_at.isoformat(),
            )
        )
        uow.releases.save(release)
        uow.commit()
        return request_id


def submit_translation(
    ctx: ServiceContext,
    who: Actor,
    request_id: int,
    *,
    title: str,
    body: str,
    base_revision: int,
    subtitle: str = "",
) -> Outcome:
    """The translator hands in the text; it becomes the target version, in review."""
    text = Text.checked(title, body, subtitle)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        request = uow.releases.translation_request(request_id)
        release = uow.releases.get(request.release_id, for_update=True)
        revision = release.submit_translation(actor, request, text, base_revision, ctx.clock.now())
        uow.releases.save_translation_request(request)
        uow.releases.save(release)
        uow.commit()
        return Outcome(
            request.release_id, release.state, next_actions(uow, release, actor), revision.number
        )


def add_comment(ctx: ServiceContext, who: Actor, release_id: int, body: str) -> int:
    """A note in the release's review thread, from any member of staff."""
    body = body.strip()
    if not body:
        raise ValidationFailed("body", "a comment cannot be empty")
    if len(body) > MAX_COMMENT_LENGTH or "\x00" in body:
        raise ValidationFailed(
            "body", "must be at most %(limit)s characters of text", limit=MAX_COMMENT_LENGTH
        )
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        actor.require_active()
        if not actor.roles & {Role.PRESS_OFFICER, Role.APPROVER, Role.TRANSLATOR}:
            raise PermissionDenied("only press officers, approvers and translators comment")
        if uow.session.get(ReleaseRow, release_id) is None:
            raise NotFound("release", release_id)
        now = ctx.clock.now()
        row = CommentRow(release_id=release_id, author_id=actor.id, body=body, created_at=now)
        uow.session.add(row)
        uow.flush()
        add_to_outbox(
            uow.session,
            [
                ev.CommentAdded(
                    occurred_at=now.isoformat(),
                    actor_id=actor.id,
                    release_id=release_id,
                    comment_id=row.id,
                )
            ],
        )
        uow.commit()
        return row.id
