"""What the public pages' cache checks to learn which of its answers may have changed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from workflow.db.tables import ReleaseRow, TopicRow
from workflow.services.context import ServiceContext


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
    topics: tuple[tuple[int, str, str], ...]  # id, English and Korean names

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
            (topic_id, name, name_ko or "")
            for topic_id, name, name_ko in uow.session.execute(
                select(TopicRow.id, TopicRow.name, TopicRow.name_ko).order_by(TopicRow.id)
            )
        )
        return PublicMarks(summary, releases, topics)
