"""One release as staff see it: its current text, what the viewer may do with it, its audit
trail, its revisions and comments, and what changed since it was last reviewed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select

from workflow.db.releases import corrections
from workflow.db.tables import AuditRow, CommentRow, ReleaseRow, RevisionRow, TopicRow, UserRow
from workflow.domain.diff import unified_diff
from workflow.domain.errors import NotFound
from workflow.domain.release import Choice
from workflow.domain.release_records import ChangeKind, VersionCorrection
from workflow.domain.states import Action, ReleaseState
from workflow.domain.values import Language, Text
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
    # The public note of this version's correction under review ("" when none), and its
    # published corrections, newest first.
    pending_note: str = ""
    corrections: tuple[VersionCorrection, ...] = ()


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
    # The newest published correction's note, whichever version it changed.
    correction_note: str
    # The public note of a correction under review, for its approvers to read: the
    # original's if it is being corrected (each version has its own: ``pending_note``).
    pending_correction_note: str
    withdrawal_reason: str
    approvals: int
    versions: dict[Language, VersionView]
    allowed_actions: list[Action]
    # Each thing the viewer might do, allowed or with the reason it is refused.
    choices: list[Choice] = field(default_factory=list)
    # The kind of the correction under review (minor or major), None when there is none.
    pending_change: ChangeKind | None = None


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
    """One entry of a release's review thread: a comment added to it (``kind`` "comment",
    ``id`` the comment's), or the comment a reviewer gave with a decision (``kind`` the
    action, "request_changes" or "reject", ``id`` its audit entry's)."""

    id: int
    author: str
    body: str
    created_at: datetime
    kind: str = "comment"


# The review decisions whose comment is addressed to the author: the thread shows them
# beside the comments, read from the audit trail, which keeps them with the decision.
REVIEW_DECISIONS: Final = (Action.REQUEST_CHANGES.value, Action.REJECT.value)


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
        published = corrections(uow.session, release.id)
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
            correction_note=published[0].note if published else "",
            pending_correction_note=release.pending_correction_note,
            withdrawal_reason=release.withdrawal_reason,
            pending_change=release.pending_change,
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
                    v.pending_note,
                    tuple(c for c in published if c.language is lang),
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
            raise NotFound("revision", f"{number} ({language})")
    return unified_diff(
        by_number[old].text,
        by_number[new].text,
        old_label=f"{language} revision {old}",
        new_label=f"{language} revision {new}",
    )


def comments(ctx: ServiceContext, release_id: int) -> list[CommentView]:
    """The release's review thread, oldest first: the comments added to it and the
    comments given with a request for changes or a rejection."""
    with ctx.uow() as uow:
        decisions = uow.session.execute(
            select(AuditRow, UserRow.name)
            .join(UserRow, UserRow.id == AuditRow.actor_id)
            .where(
                AuditRow.release_id == release_id,
                AuditRow.action.in_(REVIEW_DECISIONS),
                AuditRow.comment != "",
            )
            .order_by(AuditRow.id)
        )
        thread = [CommentView(a.id, name, a.comment, a.at, a.action) for a, name in decisions]
        rows = uow.session.execute(
            select(CommentRow, UserRow.name)
            .join(UserRow, UserRow.id == CommentRow.author_id)
            .where(CommentRow.release_id == release_id)
            .order_by(CommentRow.id)
        )
        thread += [CommentView(c.id, name, c.body, c.created_at) for c, name in rows]
    # A stable sort: at the same instant, a decision comes before the comments on it.
    return sorted(thread, key=lambda entry: entry.created_at)


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


def require_release(ctx: ServiceContext, release_id: int) -> None:
    """``NotFound`` unless the release exists (for reads that would otherwise answer an
    empty list for a release that is not there)."""
    with ctx.uow() as uow:
        if uow.session.get(ReleaseRow, release_id) is None:
            raise NotFound("release", release_id)
