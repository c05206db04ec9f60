"""Deliveries deleted with their recipients, kept as counts per release.

Retention deletes a delivery row (who a message went to, and the relay's reply, which
names them) some time after it was planned, or when its subscriber is reduced to a keyed
hash. ``fold`` adds the rows to their release's ``delivery_tallies`` row and deletes them
in the caller's transaction, so that a row is counted once or not deleted at all; the
delivery report adds the tally to the rows still there.

How many journalists a release was planned for and reached is counted per fold, as
journalists among the rows folded: rows of one journalist and one release folded in
two transactions (at the edge of a batch, or a correction long after the release) count
them twice, so those two numbers of a folded release are close, not exact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from workflow.db.tables import DeliveryRow, DeliveryTallyRow
from workflow.db.writes import conflict_insert
from workflow.distribution.rules import base_kind

# Bound parameters per IN (...) list: well under SQLite's and PostgreSQL's limits.
_CHUNK: Final = 500
# A delivery that will never be sent: what an unsettled one of a journalist deleted
# meanwhile is counted as.
UNSETTLED: Final = frozenset({"pending", "sending", "deferred"})


@dataclass
class _Tally:
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    subscribers: set[int] = field(default_factory=set)
    reached: set[int] = field(default_factory=set)
    possible_duplicates: int = 0


def fold(session: Session, delivery_ids: Sequence[int], now: datetime) -> int:
    """Add the deliveries ``delivery_ids`` to their releases' tallies and delete them;
    returns how many were folded. An unsettled one is counted as cancelled."""
    tallies: dict[int, _Tally] = {}
    folded: list[int] = []
    for start in range(0, len(delivery_ids), _CHUNK):
        for row in session.execute(
            select(
                DeliveryRow.id,
                DeliveryRow.release_id,
                DeliveryRow.subscriber_id,
                DeliveryRow.kind,
                DeliveryRow.state,
                DeliveryRow.possible_duplicate,
            ).where(DeliveryRow.id.in_(delivery_ids[start : start + _CHUNK]))
        ):
            tally = tallies.setdefault(row.release_id, _Tally())
            state = "cancelled" if row.state in UNSETTLED else row.state
            tally.counts.setdefault(base_kind(row.kind), Counter())[state] += 1
            tally.subscribers.add(row.subscriber_id)
            if state == "sent":
                tally.reached.add(row.subscriber_id)
            tally.possible_duplicates += int(row.possible_duplicate)
            folded.append(row.id)
    for release_id in sorted(tallies):  # one order for every writer: no deadlock
        _add(session, release_id, tallies[release_id], now)
    for start in range(0, len(folded), _CHUNK):
        session.execute(
            delete(DeliveryRow).where(DeliveryRow.id.in_(folded[start : start + _CHUNK]))
        )
    return len(folded)


def _add(session: Session, release_id: int, tally: _Tally, now: datetime) -> None:
    session.execute(
        conflict_insert(session)(DeliveryTallyRow)
        .values(
            release_id=release_id,
            counts={},
            subscribers=0,
            subscribers_reached=0,
            possible_duplicates=0,
            folded_at=now,
        )
        .on_conflict_do_nothing()
    )
    row = session.scalars(
        select(DeliveryTallyRow).where(DeliveryTallyRow.release_id == release_id).with_for_update()
    ).one()
    counts = {kind: dict(states) for kind, states in row.counts.items()}
    for kind, states in tally.counts.items():
        merged = Counter(counts.get(kind, {}))
        merged.update(states)
        counts[kind] = dict(merged)
    row.counts = counts  # a new object, so that the JSON column is written
    row.subscribers += len(tally.subscribers)
    row.subscribers_reached += len(tally.reached)
    row.possible_duplicates += tally.possible_duplicates
    row.folded_at = now


@dataclass(frozen=True, slots=True)
class Tally:
    """What a release's folded deliveries were (``counts``: {kind: {state: n}})."""

    counts: dict[str, dict[str, int]]
    subscribers: int
    subscribers_reached: int
    possible_duplicates: int
    folded_at: datetime


def tally_of(session: Session, release_id: int) -> Tally | None:
    row = session.get(DeliveryTallyRow, release_id)
    if row is None:
        return None
    return Tally(
        counts={kind: dict(states) for kind, states in row.counts.items()},
        subscribers=row.subscribers,
        subscribers_reached=row.subscribers_reached,
        possible_duplicates=row.possible_duplicates,
        folded_at=row.folded_at,
    )
