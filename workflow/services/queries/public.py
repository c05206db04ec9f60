"""What anyone may read without signing in.

Releases the domain calls public (``Release.is_public``: published, or amended while
published, and past any embargo), and only their live text, never the text under review.
A withdrawn release that was public keeps a notice at its number, without its body.
A release published in error is gone (``ReleaseGone``: its number answers 410), and a
superseded one leads to the release that replaced it (``ReleaseReplaced``: 301).
Anything else is "not found", whether it is listed, looked up by number, or guessed.
Each live version carries its own corrections, newest first: a page shows those of the
version it shows, never the other's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from workflow.db.search import revision_contains_all, search_words
from workflow.db.tables import (
    AuditRow,
    ReleaseRow,
    ReleaseTopicRow,
    RevisionRow,
    TopicRow,
    VersionCorrectionRow,
    VersionRow,
)
from workflow.domain.errors import N_, DomainError, NotFound
from workflow.domain.release_core import is_public
from workflow.domain.states import PUBLIC_STATES, ReleaseState
from workflow.domain.topics import topic_name
from workflow.domain.values import Language, single_line
from workflow.services.context import ServiceContext
from workflow.services.queries.attachments import Shown, placements_of
from workflow.services.queries.attachments import shown as shown_with_files
from workflow.services.queries.paging import paging


@dataclass(frozen=True, slots=True)
class PublicCorrection:
    """A published correction of one version: when it went live, and what it changed."""

    published_at: datetime
    note: str


@dataclass(frozen=True, slots=True)
class PublicVersion:
    language: Language
    title: str
    subtitle: str
    body: str
    # This version's corrections, newest first.
    corrections: tuple[PublicCorrection, ...] = ()
    # Its photos and documents, in order (the lead photo first among the photos).
    attachments: tuple[Shown, ...] = ()


@dataclass(frozen=True, slots=True)
class PublicRelease:
    number: str
    withdrawn: bool
    published_at: datetime
    topics: list[str]  # their English names
    contact: dict[str, str]
    versions: dict[Language, PublicVersion]
    withdrawal_reason: str = ""
    withdrawn_at: datetime | None = None
    release_id: int = 0
    # Views already in the database; the page adds those not flushed yet (view_counts).
    view_count: int = 0
    # The numbers of the releases this one replaced.
    replaces: tuple[str, ...] = ()
    # Their Korean names (the English one where none is set), in the same order.
    topics_ko: tuple[str, ...] = ()

    def topics_in(self, language: Language | str) -> list[str]:
        """The topics' names in ``language``."""
        return list(self.topics_ko) if language == Language.KO else self.topics


class ReleaseGone(NotFound):
    """A release taken down as published in error: its number says it is gone."""

    code = "release_gone"

    def __init__(self, number: str) -> None:
        DomainError.__init__(
            self, N_("this press release was published in error and is no longer available")
        )
        self.what = "release"
        self.key = number


class ReleaseReplaced(NotFound):
    """A superseded release: its number leads to the one that replaced it."""

    def __init__(self, number: str, by_number: str) -> None:
        super().__init__("release", number)
        self.by_number = by_number


@dataclass(frozen=True, slots=True)
class PublicSummary:
    number: str
    published_at: datetime
    topics: list[str]  # their English names
    titles: dict[Language, str]
    corrected: bool
    # When its last major change went live (its publication when there was none).
    updated_at: datetime | None = None
    release_id: int = 0
    view_count: int = 0
    # Their Korean names (the English one where none is set), in the same order.
    topics_ko: tuple[str, ...] = ()

    def topics_in(self, language: Language | str) -> list[str]:
        """The topics' names in ``language``."""
        return list(self.topics_ko) if language == Language.KO else self.topics


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
    limit, offset = paging(page, per_page)
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
        corrected = select(VersionCorrectionRow.id).where(
            VersionCorrectionRow.release_id == ReleaseRow.id
        )
        if language is not None:
            corrected = corrected.where(VersionCorrectionRow.language == language.value)
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
                exists(corrected).label("corrected"),
                # Only a major change has a public note, and moves the feed's updated.
                select(func.max(VersionCorrectionRow.published_at))
                .where(VersionCorrectionRow.release_id == ReleaseRow.id)
                .scalar_subquery()
                .label("updated_at"),
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
                select(
                    found,
                    VersionRow.language,
                    RevisionRow.title,
                    TopicRow.name.label("topic"),
                    TopicRow.name_ko.label("topic_ko"),
                ),
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
                    topics_ko=_korean_names(joined),
                    titles={Language(r.language): r.title for r in joined if r.title is not None},
                    corrected=bool(row.corrected),
                    updated_at=row.updated_at or row.published_at,
                    release_id=release_id,
                    view_count=row.view_count,
                )
            )
        return PublicPage(items, total, page, per_page)


def _korean_names(rows: Iterable[Any]) -> tuple[str, ...]:
    """The Korean names of the rows' topics, once each, in the rows' order."""
    named = {r.topic: topic_name(r.topic, r.topic_ko, Language.KO) for r in rows if r.topic}
    return tuple(named.values())


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
    than running it): the release's row with, joined, its live texts, each text's
    published corrections and its topics' names (a row for each triple: a release has
    one or two live texts, a few topics and rarely more than a correction or two), and,
    for a withdrawn one, when it was withdrawn."""
    withdrawn_at = (
        select(func.max(AuditRow.at))
        .where(AuditRow.release_id == ReleaseRow.id, AuditRow.action == "withdraw")
        .scalar_subquery()
    )
    other = aliased(ReleaseRow)
    replaced_by = select(other.number).where(other.id == ReleaseRow.superseded_by)
    replaces = select(func.aggregate_strings(other.number, ",")).where(
        other.superseded_by == ReleaseRow.id
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
                ReleaseRow.withdrawal_reason,
                ReleaseRow.view_count,
                case((ReleaseRow.state == ReleaseState.WITHDRAWN.value, withdrawn_at)).label(
                    "withdrawn_at"
                ),
                replaced_by.scalar_subquery().label("replaced_by"),
                replaces.scalar_subquery().label("replaces"),
                RevisionRow.language,
                RevisionRow.title,
                RevisionRow.subtitle,
                RevisionRow.body,
                RevisionRow.attachments,
                TopicRow.name.label("topic"),
                TopicRow.name_ko.label("topic_ko"),
                VersionCorrectionRow.id.label("correction_id"),
                VersionCorrectionRow.published_at.label("corrected_at"),
                VersionCorrectionRow.note.label("correction_note"),
            ),
            ReleaseRow.id,
        )
        .outerjoin(
            VersionCorrectionRow,
            and_(
                VersionCorrectionRow.release_id == RevisionRow.release_id,
                VersionCorrectionRow.language == RevisionRow.language,
            ),
        )
        .where(ReleaseRow.number == bindparam("number"))
        .order_by(TopicRow.name, RevisionRow.language)
    )


_PUBLIC_RELEASE: Final = _public_release_statement()


def public_release(ctx: ServiceContext, number: str) -> PublicRelease:
    """One public release by its number, as the public sees it (``NotFound`` otherwise).

    One statement, read outside any transaction (``ServiceContext.reading``: a single
    statement sees one moment by itself), so one round trip, for the page that every
    release's first reader in each web process renders."""
    with ctx.reading() as session:
        rows = session.execute(_PUBLIC_RELEASE, {"number": number}).all()
    now = ctx.clock.now()
    if not rows:
        raise NotFound("release", number)
    row = rows[0]
    withdrawn_at = row.withdrawn_at
    if ReleaseState(row.state) is ReleaseState.UNPUBLISHED:
        raise ReleaseGone(number)
    if ReleaseState(row.state) is ReleaseState.SUPERSEDED and row.replaced_by:
        raise ReleaseReplaced(number, row.replaced_by)
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
    corrections: dict[str, dict[int, Any]] = {lang: {} for lang in texts}
    for r in rows:
        if r.correction_id is not None:
            corrections[r.language][r.correction_id] = r
    shown = (
        {} if withdrawn else _attachments(ctx, {lang: t.attachments for lang, t in texts.items()})
    )
    return PublicRelease(
        number=row.number,
        withdrawn=withdrawn,
        published_at=row.published_at,
        # In the database's order of names, as every other list of topics.
        topics=list(dict.fromkeys(r.topic for r in rows if r.topic is not None)),
        topics_ko=_korean_names(rows),
        contact={
            "name": row.contact_name,
            "phone": row.contact_phone,
            "email": row.contact_email,
        },
        versions={
            Language(lang): PublicVersion(
                Language(lang),
                text.title,
                "" if withdrawn else text.subtitle,
                "" if withdrawn else text.body,
                _newest_first(corrections[lang].values()),
                tuple(shown.get(lang, ())),
            )
            for lang, text in sorted(texts.items())
        },
        withdrawal_reason=row.withdrawal_reason if withdrawn else "",
        withdrawn_at=withdrawn_at,
        release_id=row.id,
        view_count=row.view_count,
        replaces=tuple(sorted(row.replaces.split(","))) if row.replaces else (),
    )


def _attachments(
    ctx: ServiceContext, raw: dict[str, list[dict[str, str]] | None]
) -> dict[str, list[Shown]]:
    """Each live text's attachments with their files: a second statement, only for a
    release that has any. Words a version lacks are the other version's."""
    placements = {lang: placements_of(value) for lang, value in raw.items()}
    if not any(placements.values()):
        return {}
    with ctx.reading() as session:
        return {
            lang: shown_with_files(
                session,
                mine,
                [p for other, theirs in placements.items() if other != lang for p in theirs],
            )
            for lang, mine in placements.items()
        }


def _newest_first(rows: Iterable[Any]) -> tuple[PublicCorrection, ...]:
    ordered = sorted(rows, key=lambda r: (r.corrected_at, r.correction_id), reverse=True)
    return tuple(PublicCorrection(r.corrected_at, r.correction_note) for r in ordered)


def _was_public(
    published_at: datetime | None, embargo_until: datetime | None, at: datetime
) -> bool:
    """Whether the public could read a release at ``at`` (it was then published and past
    its embargo): only then does its withdrawal notice belong to the public."""
    if published_at is None or published_at > at:
        return False
    return embargo_until is None or embargo_until <= at


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    number: str
    languages: tuple[Language, ...]
    # Its last major change, or its publication.
    updated_at: datetime


# The sitemap protocol's limit on addresses in one file.
SITEMAP_LIMIT: Final = 50_000


def sitemap_entries(ctx: ServiceContext) -> list[SitemapEntry]:
    """Every release the public may read now, with its live languages, newest first:
    never one withdrawn, published in error, superseded, scheduled or under embargo."""
    now = ctx.clock.now()
    updated = (
        select(func.max(VersionCorrectionRow.published_at))
        .where(VersionCorrectionRow.release_id == ReleaseRow.id)
        .scalar_subquery()
    )
    with ctx.reading() as session:
        rows = session.execute(
            select(
                ReleaseRow.number,
                ReleaseRow.state,
                ReleaseRow.embargo_until,
                ReleaseRow.published_at,
                updated.label("updated_at"),
                VersionRow.language,
            )
            .join(
                VersionRow,
                and_(VersionRow.release_id == ReleaseRow.id, VersionRow.live_revision.is_not(None)),
            )
            .where(_public_now(now))
            .order_by(ReleaseRow.published_at.desc(), ReleaseRow.id.desc(), VersionRow.language)
            .limit(SITEMAP_LIMIT * 2)
        ).all()
    entries: list[SitemapEntry] = []
    for number, same in groupby(rows, key=lambda r: str(r.number)):
        joined = list(same)
        row = joined[0]
        if not is_public(ReleaseState(row.state), row.embargo_until, now):
            continue
        languages = tuple(Language(r.language) for r in joined)
        entries.append(SitemapEntry(number, languages, row.updated_at or row.published_at))
    return entries[:SITEMAP_LIMIT]


@dataclass(frozen=True, slots=True)
class LiveText:
    """A release's live words in one language, for a feed entry."""

    language: Language
    subtitle: str
    body: str


def live_texts(
    ctx: ServiceContext, release_ids: Iterable[int], language: Language
) -> dict[int, LiveText]:
    """Each release's live text in ``language``, or in its other language when it has
    no live version in this one (as its entry's title falls back)."""
    ids = list(release_ids)
    if not ids:
        return {}
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(
                RevisionRow.release_id, RevisionRow.language, RevisionRow.subtitle, RevisionRow.body
            )
            .join(
                VersionRow,
                and_(
                    VersionRow.release_id == RevisionRow.release_id,
                    VersionRow.language == RevisionRow.language,
                    VersionRow.live_revision == RevisionRow.number,
                ),
            )
            .where(RevisionRow.release_id.in_(ids))
        ).all()
    found: dict[int, LiveText] = {}
    for release_id, lang, subtitle, body in rows:
        if release_id not in found or lang == language.value:
            found[release_id] = LiveText(Language(lang), subtitle or "", body)
    return found
