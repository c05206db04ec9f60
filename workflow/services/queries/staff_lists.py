"""Lists of releases for staff: the office dashboard's and the searchable list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from workflow.db.tables import (
    ReleaseRow,
    ReleaseTopicRow,
    RevisionRow,
    TopicRow,
    UserRow,
    VersionRow,
)
from workflow.domain.states import ReleaseState
from workflow.domain.values import Language, single_line
from workflow.services.context import ServiceContext
from workflow.services.queries.paging import paging


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


# --- the searchable list -----------------------------------------------------------------


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
    limit, offset = paging(page, per_page)
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
