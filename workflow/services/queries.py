"""The read side: what a person sees of a release, its history and its revisions.

Read models are plain frozen dataclasses, built straight from the tables; they never go
through the aggregate and never write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from workflow.db.tables import AuditRow, CommentRow, RevisionRow, TopicRow, UserRow
from workflow.domain.diff import unified_diff
from workflow.domain.errors import NotFound
from workflow.domain.states import Action, ReleaseState
from workflow.domain.values import Language, Text
from workflow.services.context import ServiceContext, resolve_actor


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
        allowed = release.available_actions(resolve_actor(uow, viewer_id)) if viewer_id else []
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
