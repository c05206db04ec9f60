"""The translation requests assigned to a translator, as their office page lists them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select

from workflow.db.tables import RevisionRow, TranslationRequestRow, UserRow, VersionRow
from workflow.domain.values import Language
from workflow.services.context import ServiceContext


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
