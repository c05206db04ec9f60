"""Where a release stands for the public, by its id: what its stable address
(``workflow.links.stable_release_url``) shows.

Any release may be asked about, since the id is in every embargoed copy's link; the
answer says only whether it is public (and then its number), until when it is held back,
or that it was withdrawn before anyone could read it. Never its title or its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import bindparam, func, select

from workflow.db.tables import AuditRow, ReleaseRow
from workflow.domain.errors import NotFound
from workflow.domain.release_core import is_public
from workflow.domain.states import FINAL_STATES, PUBLIC_STATES, ReleaseState
from workflow.services.context import ServiceContext


class Standing(StrEnum):
    PUBLIC = "public"  # its page by number shows it (or, withdrawn since, says so)
    EMBARGOED = "embargoed"  # not public yet
    WITHDRAWN = "withdrawn"  # withdrawn or abandoned before it was ever public


@dataclass(frozen=True, slots=True)
class ReleaseStanding:
    standing: Standing
    number: str | None = None  # when public
    # When an embargoed release becomes public: the end of its embargo, else its
    # scheduled publication; None while it is neither scheduled nor published.
    until: datetime | None = None


_CLOSED_AT: Final = (
    select(func.max(AuditRow.at))
    .where(AuditRow.release_id == ReleaseRow.id, AuditRow.action.in_(("withdraw", "abandon")))
    .scalar_subquery()
)
_STANDING: Final = select(
    ReleaseRow.state,
    ReleaseRow.number,
    ReleaseRow.publish_at,
    ReleaseRow.embargo_until,
    ReleaseRow.published_at,
    _CLOSED_AT.label("closed_at"),
).where(ReleaseRow.id == bindparam("release_id"))


def release_standing(ctx: ServiceContext, release_id: int) -> ReleaseStanding:
    """Where release ``release_id`` stands for the public now (``NotFound`` if there is
    no such release). One statement, read outside any transaction."""
    with ctx.reading() as session:
        row = session.execute(_STANDING, {"release_id": release_id}).first()
    if row is None:
        raise NotFound("release", release_id)
    now = ctx.clock.now()
    state = ReleaseState(row.state)
    if state in (ReleaseState.UNPUBLISHED, ReleaseState.SUPERSEDED) and row.number:
        # Its number says it is gone, or leads to the release that replaced it.
        return ReleaseStanding(Standing.PUBLIC, number=row.number)
    if state in FINAL_STATES:
        # A withdrawal keeps its notice at the number if the public could read it then.
        was_public = (
            row.number is not None
            and row.published_at is not None
            and row.closed_at is not None
            and row.published_at <= row.closed_at
            and is_public(ReleaseState.PUBLISHED, row.embargo_until, row.closed_at)
        )
        if was_public:
            return ReleaseStanding(Standing.PUBLIC, number=row.number)
        return ReleaseStanding(Standing.WITHDRAWN)
    if is_public(state, row.embargo_until, now) and row.number is not None:
        return ReleaseStanding(Standing.PUBLIC, number=row.number)
    if state in PUBLIC_STATES or state is ReleaseState.SCHEDULED:
        return ReleaseStanding(Standing.EMBARGOED, until=row.embargo_until or row.publish_at)
    return ReleaseStanding(Standing.EMBARGOED)
