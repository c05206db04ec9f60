"""The read side: what a person sees of a release, its history and its revisions.

Read models are plain frozen dataclasses, built straight from the tables; they never go
through the aggregate and never write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from workflow.db.search import revision_contains_all, search_words
from workflow.db.tables import (
    AuditRow,
    CommentRow,
    ReleaseRow,
    ReleaseTopicRow,
    RevisionRow,
    TopicRow,
    TranslationRequestRow,
    UserRow,
    VersionRow,
)
from workflow.domain.diff import unified_diff
from workflow.domain.errors import NotFound, ValidationFailed
from workflow.domain.release import Choice, is_public
from workflow.domain.states import PUBLIC_STATES, Action, ReleaseState
from workflow.domain.values import Language, Text, single_line
from workflow.services.context import ServiceContext, resolve_actor
from workflow.services.releases import next_actions, next_choices


@dataclass(frozen=True, slots=True)
class VersionView:
    language: Language
    title: str
    subtitle: str
    body: str
    revision: int
    live_revision: int | None
    edited_by: str
    edited_at: datetime


@dataclass(frozen=True, slots=True)
class ReleaseView:
    id: int
    state: ReleaseState
    primary_language: Language
    author_id: int
    number: str | None
    topics: list[str]
    contact: dict[str, str]
    publish_at: datetime | None
    embargo_until: datetime | None
    published_at: datetime | None
    correction_note: str
    withdrawal_reason: str
    approvals: int
    versions: dict[Language, VersionView]
    allowed_actions: list[Action]
    # Each thing the viewer might do, allowed or with the reason it is refused.
    choices: list[Choice] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AuditView:
    action: str
    actor: str
    actor_roles: list[str]
    from_state: ReleaseState | None
    to_state: ReleaseState
    comment: str
    details: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class RevisionView:
    language: Language
    number: int
    author: str
    created_at: datetime
    note: str
    text: Text


@dataclass(frozen=True, slots=True)
class CommentView:
    id: int
    author: str
    body: str
    created_at: datetime


def get_release(ctx: ServiceContext, release_id: int, viewer_id: int | None = None) -> ReleaseView:
    """A release as staff see it (all versions, their current text)."""
    with ctx.uow() as uow:
        release = uow.releases.get(release_id)
        topic_names = list(
            uow.session.scalars(
                select(TopicRow.name).where(TopicRow.id.in_(release.topics)).order_by(TopicRow.name)
            )
        )
        viewer = resolve_actor(uow, viewer_id) if viewer_id else None
        allowed = next_actions(uow, release, viewer) if viewer else []
        choices = next_choices(uow, release, viewer) if viewer else []
        assert release.id is not None
        return ReleaseView(
            id=release.id,
            state=release.state,
            primary_language=release.primary_language,
            author_id=release.author_id,
            number=release.number,
            topics=topic_names,
            contact={
                "name": release.contact.name,
                "phone": release.contact.phone,
                "email": release.contact.email,
            },
            publish_at=release.publish_at,
            embargo_until=release.embargo_until,
            published_at=release.published_at,
            correction_note=release.correction_note,
            withdrawal_reason=release.withdrawal_reason,
            approvals=len(release.approvals),
            versions={
                lang: VersionView(
                    lang,
                    v.text.title,
                    v.text.subtitle,
                    v.text.body,
                    v.revision,
                    v.live_revision,
                    v.edited_by_name,
                    v.edited_at,
                )
                for lang, v in sorted(release.versions.items())
            },
            allowed_actions=allowed,
            choices=choices,
        )


def audit_trail(ctx: ServiceContext, release_id: int) -> list[AuditView]:
    """Every transition of a release, oldest first."""
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(AuditRow, UserRow.name)
            .outerjoin(UserRow, UserRow.id == AuditRow.actor_id)
            .where(AuditRow.release_id == release_id)
            .order_by(AuditRow.id)
        )
        return [
            AuditView(
                action=a.action,
                actor=name or a.actor_roles,
                actor_roles=a.actor_roles.split(",") if a.actor_roles else [],
                from_state=ReleaseState(a.from_state) if a.from_state else None,
                to_state=ReleaseState(a.to_state),
                comment=a.comment,
                details=dict(a.details),
                at=a.at,
            )
            for a, name in rows
        ]


def revisions(ctx: ServiceContext, release_id: int, language: str) -> list[RevisionView]:
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(RevisionRow, UserRow.name)
            .join(UserRow, UserRow.id == RevisionRow.author_id)
            .where(RevisionRow.release_id == release_id, RevisionRow.language == language)
            .order_by(RevisionRow.number)
        )
        return [
            RevisionView(
                Language(r.language),
                r.number,
                name,
                r.created_at,
                r.note,
                Text(title=r.title, body=r.body, subtitle=r.subtitle),
            )
            for r, name in rows
        ]


def revision_diff(ctx: ServiceContext, release_id: int, language: str, old: int, new: int) -> str:
    """A unified diff between two revisions of one language version."""
    by_number = {r.number: r for r in revisions(ctx, release_id, language)}
    for number in (old, new):
        if number not in by_number:
            raise NotFound(f"revision of the {language} version", number)
    return unified_diff(
        by_number[old].text,
        by_number[new].text,
        old_label=f"{language} revision {old}",
        new_label=f"{language} revision {new}",
    )


def comments(ctx: ServiceContext, release_id: int) -> list[CommentView]:
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(CommentRow, UserRow.name)
            .join(UserRow, UserRow.id == CommentRow.author_id)
            .where(CommentRow.release_id == release_id)
            .order_by(CommentRow.id)
        )
        return [CommentView(c.id, name, c.body, c.created_at) for c, name in rows]


@dataclass(frozen=True, slots=True)
class VersionChange:
    """One language version's text since the last review, as a diff."""

    language: Language
    from_revision: int  # 0: the version is new since then
    to_revision: int
    diff: str


@dataclass(frozen=True, slots=True)
class ReviewChanges:
    reviewed_at: datetime | None  # None: nobody has reviewed the release yet
    reviewer: str
    changes: list[VersionChange]


REVIEW_ACTIONS = ("approve", "request_changes", "reject")


def changes_since_review(ctx: ServiceContext, release_id: int) -> ReviewChanges:
    """What changed in each language version since the last review (an approval, a
    request for changes or a rejection): the revision current then, against now."""
    with ctx.uow() as uow:
        last = uow.session.execute(
            select(AuditRow.at, UserRow.name)
            .outerjoin(UserRow, UserRow.id == AuditRow.actor_id)
            .where(AuditRow.release_id == release_id, AuditRow.action.in_(REVIEW_ACTIONS))
            .order_by(AuditRow.id.desc())
            .limit(1)
        ).first()
    if last is None:
        return ReviewChanges(None, "", [])
    reviewed_at, reviewer = last
    changes = []
    for language in Language:
        history = revisions(ctx, release_id, language)
        if not history:
            continue
        seen = [r for r in history if r.created_at <= reviewed_at]
        old = seen[-1] if seen else None
        new = history[-1]
        if old is not None and old.number == new.number:
            continue
        diff = unified_diff(
            old.text if old else Text("", ""),
            new.text,
            old_label=f"{language} revision {old.number if old else 0}",
            new_label=f"{language} revision {new.number}",
        )
        changes.append(VersionChange(language, old.number if old else 0, new.number, diff))
    return ReviewChanges(reviewed_at, reviewer or "", changes)


# --- the office dashboard ------------------------------------------------------------------

DRAFTING_STATES = (
    ReleaseState.DRAFT,
    ReleaseState.CHANGES_REQUESTED,
    ReleaseState.CORRECTION_CHANGES_REQUESTED,
)
REVIEW_STATES = (ReleaseState.IN_REVIEW, ReleaseState.CORRECTION_IN_REVIEW)


def _states(states: tuple[ReleaseState, ...]) -> ColumnElement[bool]:
    return ReleaseRow.state.in_([s.value for s in states])


def drafts_of(ctx: ServiceContext, author_id: int, *, limit: int = 50) -> list[ReleaseSummary]:
    """The author's releases still being written (or rewritten), latest change first."""
    query = (
        select(ReleaseRow.id)
        .where(ReleaseRow.author_id == author_id, _states(DRAFTING_STATES))
        .order_by(ReleaseRow.updated_at.desc(), ReleaseRow.id.desc())
    )
    return _summaries_of(ctx, query.limit(limit))


def review_queue(ctx: ServiceContext, *, limit: int = 50) -> list[ReleaseSummary]:
    """Releases and amendments waiting for review, the longest waiting first."""
    query = (
        select(ReleaseRow.id)
        .where(_states(REVIEW_STATES))
        .order_by(ReleaseRow.updated_at, ReleaseRow.id)
    )
    return _summaries_of(ctx, query.limit(limit))


def scheduled_releases(ctx: ServiceContext, *, limit: int = 50) -> list[ReleaseSummary]:
    """Scheduled releases, the next to go out first."""
    query = (
        select(ReleaseRow.id)
        .where(ReleaseRow.state == ReleaseState.SCHEDULED.value)
        .order_by(ReleaseRow.publish_at, ReleaseRow.id)
    )
    return _summaries_of(ctx, query.limit(limit))


def recently_published(ctx: ServiceContext, *, limit: int = 10) -> list[ReleaseSummary]:
    """Releases published (live, amended or withdrawn since), newest first."""
    query = (
        select(ReleaseRow.id)
        .where(ReleaseRow.published_at.is_not(None))
        .order_by(ReleaseRow.published_at.desc(), ReleaseRow.id.desc())
    )
    return _summaries_of(ctx, query.limit(limit))


def _summaries_of(ctx: ServiceContext, query: Select[int]) -> list[ReleaseSummary]:
    with ctx.uow() as uow:
        return _summaries(uow.session, list(uow.session.scalars(query)))


# --- lists for staff ---------------------------------------------------------------------

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class ReleaseSummary:
    id: int
    state: ReleaseState
    number: str | None
    primary_language: Language
    author_id: int
    author: str
    titles: dict[Language, str]
    topics: list[str]
    publish_at: datetime | None
    published_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReleasePage:
    items: list[ReleaseSummary]
    total: int
    page: int
    per_page: int


def _paging(page: int, per_page: int) -> tuple[int, int]:
    if page < 1:
        raise ValidationFailed("page", "must be 1 or more")
    if not 1 <= per_page <= MAX_PAGE_SIZE:
        raise ValidationFailed("per_page", f"must be between 1 and {MAX_PAGE_SIZE}")
    return per_page, (page - 1) * per_page


def _current_text_matches(text: str) -> ColumnElement[bool]:
    """Some language version's current title, subtitle or body contains ``text``."""
    return exists(
        select(RevisionRow.id)
        .join(
            VersionRow,
            and_(
                VersionRow.release_id == RevisionRow.release_id,
                VersionRow.language == RevisionRow.language,
                VersionRow.revision == RevisionRow.number,
            ),
        )
        .where(
            RevisionRow.release_id == ReleaseRow.id,
            or_(
                RevisionRow.title.icontains(text, autoescape=True),
                RevisionRow.subtitle.icontains(text, autoescape=True),
                RevisionRow.body.icontains(text, autoescape=True),
            ),
        )
    )


def list_releases(
    ctx: ServiceContext,
    *,
    state: ReleaseState | None = None,
    topic_id: int | None = None,
    author_id: int | None = None,
    language: Language | None = None,
    text: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> ReleasePage:
    """Releases as staff see them, most recently changed first. ``language`` keeps those
    with a version in it; ``text`` searches the current titles and bodies."""
    limit, offset = _paging(page, per_page)
    text = single_line("q", text or "", max_length=200, required=False)
    query = select(ReleaseRow.id)
    if state is not None:
        query = query.where(ReleaseRow.state == state.value)
    if author_id is not None:
        query = query.where(ReleaseRow.author_id == author_id)
    if topic_id is not None:
        query = query.where(
            exists().where(
                ReleaseTopicRow.release_id == ReleaseRow.id, ReleaseTopicRow.topic_id == topic_id
            )
        )
    if language is not None:
        query = query.where(
            exists().where(VersionRow.release_id == ReleaseRow.id, VersionRow.language == language)
        )
    if text:
        query = query.where(_current_text_matches(text))
    with ctx.uow() as uow:
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        ids = list(
            uow.session.scalars(
                query.order_by(ReleaseRow.updated_at.desc(), ReleaseRow.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        return ReleasePage(_summaries(uow.session, ids), total, page, per_page)


def _titles(
    session: Session, ids: list[int], revision: InstrumentedAttribute[Any]
) -> dict[int, dict[Language, str]]:
    """Each release's title per language, from the revision ``revision`` names (the
    current one, or the live one), in one query."""
    titles: dict[int, dict[Language, str]] = {i: {} for i in ids}
    for release_id, language, title in session.execute(
        select(VersionRow.release_id, VersionRow.language, RevisionRow.title)
        .join(
            RevisionRow,
            and_(
                RevisionRow.release_id == VersionRow.release_id,
                RevisionRow.language == VersionRow.language,
                RevisionRow.number == revision,
            ),
        )
        .where(VersionRow.release_id.in_(ids))
        .order_by(VersionRow.language)
    ):
        titles[release_id][Language(language)] = title
    return titles


def _summaries(session: Session, ids: list[int]) -> list[ReleaseSummary]:
    if not ids:
        return []
    titles = _titles(session, ids, VersionRow.revision)
    topics = _topic_names(session, ids)
    rows = {
        row.id: (row, name)
        for row, name in session.execute(
            select(ReleaseRow, UserRow.name)
            .join(UserRow, UserRow.id == ReleaseRow.author_id)
            .where(ReleaseRow.id.in_(ids))
        )
    }
    return [
        ReleaseSummary(
            id=row.id,
            state=ReleaseState(row.state),
            number=row.number,
            primary_language=Language(row.primary_language),
            author_id=row.author_id,
            author=author,
            titles=titles[row.id],
            topics=topics.get(row.id, []),
            publish_at=row.publish_at,
            published_at=row.published_at,
            updated_at=row.updated_at,
        )
        for row, author in (rows[i] for i in ids)
    ]


def _topic_names(session: Session, release_ids: list[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for release_id, name in session.execute(
        select(ReleaseTopicRow.release_id, TopicRow.name)
        .join(TopicRow, TopicRow.id == ReleaseTopicRow.topic_id)
        .where(ReleaseTopicRow.release_id.in_(release_ids))
        .order_by(TopicRow.name)
    ):
        names.setdefault(release_id, []).append(name)
    return names


def require_release(ctx: ServiceContext, release_id: int) -> None:
    """``NotFound`` unless the release exists (for reads that would otherwise answer an
    empty list for a release that is not there)."""
    with ctx.uow() as uow:
        if uow.session.get(ReleaseRow, release_id) is None:
            raise NotFound("release", release_id)


@dataclass(frozen=True, slots=True)
class TranslationRequestView:
    id: int
    release_id: int
    source_language: Language
    target_language: Language
    state: str
    requested_by: str
    due_at: datetime
    created_at: datetime
    submitted_at: datetime | None
    source_title: str
    # The revision a translator's submission starts from: 0 while there is no text yet.
    target_revision: int


def translation_requests_for(
    ctx: ServiceContext, translator_id: int, *, state: str | None = None
) -> list[TranslationRequestView]:
    """The requests assigned to one translator, soonest due first."""
    query = (
        select(TranslationRequestRow, UserRow.name)
        .join(UserRow, UserRow.id == TranslationRequestRow.requested_by)
        .where(TranslationRequestRow.translator_id == translator_id)
        .order_by(TranslationRequestRow.due_at, TranslationRequestRow.id)
    )
    if state is not None:
        query = query.where(TranslationRequestRow.state == state)
    with ctx.uow() as uow:
        rows = uow.session.execute(query).all()
        release_ids = sorted({r.release_id for r, _ in rows})
        current: dict[tuple[int, str], tuple[int, str]] = {}
        for release_id, language, number, title in uow.session.execute(
            select(
                VersionRow.release_id, VersionRow.language, VersionRow.revision, RevisionRow.title
            )
            .join(
                RevisionRow,
                and_(
                    RevisionRow.release_id == VersionRow.release_id,
                    RevisionRow.language == VersionRow.language,
                    RevisionRow.number == VersionRow.revision,
                ),
            )
            .where(VersionRow.release_id.in_(release_ids))
        ):
            current[(release_id, language)] = (number, title)
        return [
            TranslationRequestView(
                id=r.id,
                release_id=r.release_id,
                source_language=Language(r.source_language),
                target_language=Language(r.target_language),
                state=r.state,
                requested_by=requester,
                due_at=r.due_at,
                created_at=r.created_at,
                submitted_at=r.submitted_at,
                source_title=current.get((r.release_id, r.source_language), (0, ""))[1],
                target_revision=current.get((r.release_id, r.target_language), (0, ""))[0],
            )
            for r, requester in rows
        ]


# --- the public side ---------------------------------------------------------------------
#
# What anyone may read without signing in: releases the domain calls public
# (``Release.is_public``: published, or amended while published, and past any embargo),
# and only their live text, never the text under review. A withdrawn release that was
# public keeps a notice at its number, without its body. Anything else is "not found",
# whether it is listed, looked up by number, or guessed.


@dataclass(frozen=True, slots=True)
class PublicVersion:
    language: Language
    title: str
    subtitle: str
    body: str


@dataclass(frozen=True, slots=True)
class PublicRelease:
    number: str
    withdrawn: bool
    published_at: datetime
    topics: list[str]
    contact: dict[str, str]
    correction_note: str
    versions: dict[Language, PublicVersion]
    withdrawal_reason: str = ""
    withdrawn_at: datetime | None = None
    release_id: int = 0
    # Views already in the database; the page adds those not flushed yet (view_counts).
    view_count: int = 0


@dataclass(frozen=True, slots=True)
class PublicSummary:
    number: str
    published_at: datetime
    topics: list[str]
    titles: dict[Language, str]
    corrected: bool
    release_id: int = 0
    view_count: int = 0


@dataclass(frozen=True, slots=True)
class PublicPage:
    items: list[PublicSummary]
    total: int
    page: int
    per_page: int


def _public_now(now: datetime) -> ColumnElement[bool]:
    """The SQL form of ``Release.is_public(now)``; each hit is checked again in Python."""
    return and_(
        ReleaseRow.state.in_([s.value for s in PUBLIC_STATES]),
        ReleaseRow.number.is_not(None),
        or_(ReleaseRow.embargo_until.is_(None), ReleaseRow.embargo_until <= now),
    )


def public_releases(
    ctx: ServiceContext,
    *,
    language: Language | None = None,
    topic_id: int | None = None,
    text: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> PublicPage:
    """Public releases, newest first; ``language`` keeps those live in that language.
    ``text`` keeps those whose live text (in ``language``, if given) contains every
    word of it, as substrings, so that 외교 finds 외교부는 (see ``workflow.db.search``)."""
    limit, offset = _paging(page, per_page)
    words = search_words(single_line("q", text or "", max_length=200, required=False))
    # One statement, so outside any transaction (``ServiceContext.reading``); the count
    # alone, past the last page, may see a later commit, which changes no page shown.
    with ctx.reading() as session:
        now = ctx.clock.now()
        query = select(ReleaseRow.id).where(_public_now(now))
        if topic_id is not None:
            query = query.where(
                exists().where(
                    ReleaseTopicRow.release_id == ReleaseRow.id,
                    ReleaseTopicRow.topic_id == topic_id,
                )
            )
        if language is not None:
            query = query.where(
                exists().where(
                    VersionRow.release_id == ReleaseRow.id,
                    VersionRow.language == language,
                    VersionRow.live_revision.is_not(None),
                )
            )
        if words:
            dialect = session.get_bind().dialect.name
            query = query.where(_live_text_matches(words, dialect, language))
        # One statement for the whole page (the list is the most read page of the
        # service, and each publication has every web process render it again): the
        # page's releases with the count of all of them, joined to their live titles and
        # their topics' names, a row for each pair.
        found = (
            query.add_columns(
                ReleaseRow.number,
                ReleaseRow.state,
                ReleaseRow.embargo_until,
                ReleaseRow.published_at,
                ReleaseRow.correction_note,
                ReleaseRow.view_count,
                func.count().over().label("total"),
            )
            .order_by(ReleaseRow.published_at.desc(), ReleaseRow.id.desc())
            .limit(limit)
            .offset(offset)
            .subquery("found")
        )
        rows = session.execute(
            _joined_to_live_texts_and_topics(
                select(found, VersionRow.language, RevisionRow.title, TopicRow.name.label("topic")),
                found.c.id,
            ).order_by(
                found.c.published_at.desc(), found.c.id.desc(), TopicRow.name, VersionRow.language
            )
        ).all()
        if rows:
            total = rows[0].total
        elif offset:  # past the last page: the count is still the list's
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        else:
            total = 0
        items = []
        for release_id, same in groupby(rows, key=lambda r: int(r.id)):
            joined = list(same)
            row = joined[0]
            public = is_public(ReleaseState(row.state), row.embargo_until, now)  # re-checked
            if not public or row.number is None or row.published_at is None:
                continue
            items.append(
                PublicSummary(
                    number=row.number,
                    published_at=row.published_at,
                    topics=list(dict.fromkeys(r.topic for r in joined if r.topic is not None)),
                    titles={Language(r.language): r.title for r in joined if r.title is not None},
                    corrected=bool(row.correction_note),
                    release_id=release_id,
                    view_count=row.view_count,
                )
            )
        return PublicPage(items, total, page, per_page)


def _joined_to_live_texts_and_topics(
    query: Select[*tuple[Any, ...]], release_id: Any
) -> Select[*tuple[Any, ...]]:
    """``query`` (of releases whose id is ``release_id``) joined to each release's live
    revisions and its topics, a row for each pair (a release without either keeps one
    row, with NULLs): what the public side shows of a release, in the same statement."""
    return (
        query.outerjoin(
            VersionRow,
            and_(VersionRow.release_id == release_id, VersionRow.live_revision.is_not(None)),
        )
        .outerjoin(
            RevisionRow,
            and_(
                RevisionRow.release_id == VersionRow.release_id,
                RevisionRow.language == VersionRow.language,
                RevisionRow.number == VersionRow.live_revision,
            ),
        )
        .outerjoin(ReleaseTopicRow, ReleaseTopicRow.release_id == release_id)
        .outerjoin(TopicRow, TopicRow.id == ReleaseTopicRow.topic_id)
    )


def _live_text_matches(
    words: list[str], dialect: str, language: Language | None
) -> ColumnElement[bool]:
    """The live revision of some language version (of ``language``, if given)
    contains every one of ``words``."""
    live = and_(
        VersionRow.release_id == RevisionRow.release_id,
        VersionRow.language == RevisionRow.language,
        VersionRow.live_revision == RevisionRow.number,
    )
    query = (
        select(RevisionRow.id)
        .join(VersionRow, live)
        .where(RevisionRow.release_id == ReleaseRow.id, revision_contains_all(words, dialect))
    )
    if language is not None:
        query = query.where(RevisionRow.language == language.value)
    return exists(query)


def _public_release_statement() -> Select[*tuple[Any, ...]]:
    """The one statement behind ``public_release``, built once (building it costs more
    than running it): the release's row with, joined, its live texts and its topics' names
    (a row for each pair of them: a release has one or two live texts and a few topics),
    and, for a withdrawn one, when it was withdrawn."""
    withdrawn_at = (
        select(func.max(AuditRow.at))
        .where(AuditRow.release_id == ReleaseRow.id, AuditRow.action == "withdraw")
        .scalar_subquery()
    )
    return (
        _joined_to_live_texts_and_topics(
            select(
                ReleaseRow.id,
                ReleaseRow.number,
                ReleaseRow.state,
                ReleaseRow.embargo_until,
                ReleaseRow.published_at,
                ReleaseRow.contact_name,
                ReleaseRow.contact_phone,
                ReleaseRow.contact_email,
                ReleaseRow.correction_note,
                ReleaseRow.withdrawal_reason,
                ReleaseRow.view_count,
                case((ReleaseRow.state == ReleaseState.WITHDRAWN.value, withdrawn_at)).label(
                    "withdrawn_at"
                ),
                RevisionRow.language,
                RevisionRow.title,
                RevisionRow.subtitle,
                RevisionRow.body,
                TopicRow.name.label("topic"),
            ),
            ReleaseRow.id,
        )
        .where(ReleaseRow.number == bindparam("number"))
        .order_by(TopicRow.name, RevisionRow.language)
    )


_PUBLIC_RELEASE: Final = _public_release_statement()


def public_release(ctx: ServiceContext, number: str) -> PublicRelease:
    """One public release by its number, as the public sees it (``NotFound`` otherwise).

    One statement, read outside any transaction (``ServiceContext.reading``: a single
    statement sees one moment by itself), for the page that every release's first reader
    in each web process renders (``bench/api.py``): three queries in a transaction took
    five round trips and four times the CPU."""
    with ctx.reading() as session:
        rows = session.execute(_PUBLIC_RELEASE, {"number": number}).all()
    now = ctx.clock.now()
    if not rows:
        raise NotFound("release", number)
    row = rows[0]
    withdrawn_at = row.withdrawn_at
    if ReleaseState(row.state) is ReleaseState.WITHDRAWN:
        if withdrawn_at is None or not _was_public(
            row.published_at, row.embargo_until, withdrawn_at
        ):
            raise NotFound("release", number)
    elif not is_public(ReleaseState(row.state), row.embargo_until, now):
        raise NotFound("release", number)
    assert row.number is not None and row.published_at is not None
    withdrawn = withdrawn_at is not None
    texts = {r.language: r for r in rows if r.language is not None}
    return PublicRelease(
        number=row.number,
        withdrawn=withdrawn,
        published_at=row.published_at,
        # In the database's order of names, as every other list of topics.
        topics=list(dict.fromkeys(r.topic for r in rows if r.topic is not None)),
        contact={
            "name": row.contact_name,
            "phone": row.contact_phone,
            "email": row.contact_email,
        },
        correction_note=row.correction_note,
        versions={
            Language(lang): PublicVersion(
                Language(lang),
                text.title,
                "" if withdrawn else text.subtitle,
                "" if withdrawn else text.body,
            )
            for lang, text in sorted(texts.items())
        },
        withdrawal_reason=row.withdrawal_reason if withdrawn else "",
        withdrawn_at=withdrawn_at,
        release_id=row.id,
        view_count=row.view_count,
    )


@dataclass(frozen=True, slots=True)
class PublicMarks:
    """What every public answer depends on, read at one moment (``public_marks``).

    For each numbered release (only a release that was published has a number), its
    ``row_version`` and whether its embargo, if any, had passed; and the topics by name.
    Every save of a release bumps its row version (``ReleaseRepository.save``), and a
    numbered release's public face changes only by a save or by its embargo passing, so
    a release whose marks are equal at two moments looked the same to the public at
    both. View counts are not marks: a view is not an edit.
    """

    # (numbered releases, the sum of their row versions, embargoes passed): row versions
    # only grow and numbers are never taken back, so an equal summary means equal marks.
    summary: tuple[int, int, int]
    releases: dict[str, tuple[int, bool]]
    topics: tuple[tuple[int, str], ...]

    def changed_since(self, earlier: PublicMarks) -> tuple[set[str], bool]:
        """The release numbers whose public face may differ from ``earlier``, and
        whether the topics did (which every page shows)."""
        if self.summary == earlier.summary:
            numbers: set[str] = set()
        else:
            numbers = {
                number
                for number in self.releases.keys() | earlier.releases.keys()
                if self.releases.get(number) != earlier.releases.get(number)
            }
        return numbers, self.topics != earlier.topics


def public_marks(ctx: ServiceContext, earlier: PublicMarks | None = None) -> PublicMarks:
    """The public side's marks now (see ``PublicMarks``): one small aggregate query,
    plus each numbered release's row only when the aggregate moved since ``earlier``."""
    numbered = ReleaseRow.number.is_not(None)
    with ctx.uow() as uow:
        now = ctx.clock.now()
        passed = or_(ReleaseRow.embargo_until.is_(None), ReleaseRow.embargo_until <= now)
        count, versions, lifted = uow.session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ReleaseRow.row_version), 0),
                func.count().filter(passed),
            ).where(numbered)
        ).one()
        summary = (int(count), int(versions), int(lifted))
        if earlier is not None and summary == earlier.summary:
            releases = earlier.releases
        else:
            releases = {
                number: (row_version, embargo_until is None or embargo_until <= now)
                for number, row_version, embargo_until in uow.session.execute(
                    select(
                        ReleaseRow.number, ReleaseRow.row_version, ReleaseRow.embargo_until
                    ).where(numbered)
                )
                if number is not None
            }
        topics = tuple(
            (topic_id, name)
            for topic_id, name in uow.session.execute(
                select(TopicRow.id, TopicRow.name).order_by(TopicRow.id)
            )
        )
        return PublicMarks(summary, releases, topics)


def _was_public(
    published_at: datetime | None, embargo_until: datetime | None, at: datetime
) -> bool:
    """Whether the public could read a release at ``at`` (it was then published and past
    its embargo): only then does its withdrawal notice belong to the public."""
    if published_at is None or published_at > at:
        return False
    return embargo_until is None or embargo_until <= at
