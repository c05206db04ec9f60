"""Every statement distribution runs against the ``deliveries`` table, for PostgreSQL
and for SQLite: planning rows, claiming a batch with a lease, marking it started and
recording its results.

Only the lease holder's writes count: a row another worker has since claimed (its
attempts moved on) or settled (no longer "sending") is left alone. On PostgreSQL a
chunk's writes are each one statement over arrays (``unnest``), whose text does not
depend on the chunk's size: compiled once, prepared by the server once, and run without
BEGIN and COMMIT around it (a statement is a transaction by itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple, cast

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    Table,
    Text,
    Update,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableValuedAlias

from workflow.db.tables import (
    DeliveryRow,
    ReleaseTopicRow,
    SubscriberRow,
    SubscriberTopicRow,
    VersionRow,
)
from workflow.db.writes import conflict_insert
from workflow.distribution.rules import Audience, ByTopic, Rule

_deliveries = cast(Table, DeliveryRow.__table__)


# --- planning ----------------------------------------------------------------------------


def step_end(session: Session, *, after: int, limit: int) -> int | None:
    """The id of the ``limit``-th subscriber (of any state) after ``after``, or None
    when fewer are left: where a planning step that starts after ``after`` ends."""
    return session.scalar(
        select(SubscriberRow.id)
        .where(SubscriberRow.id > after)
        .order_by(SubscriberRow.id)
        .offset(limit - 1)
        .limit(1)
    )


def live_languages(session: Session, release_id: int) -> set[str]:
    return set(
        session.scalars(
            select(VersionRow.language).where(
                VersionRow.release_id == release_id, VersionRow.live_revision.is_not(None)
            )
        )
    )


def insert_planned(
    session: Session,
    release_id: int,
    rule: Rule,
    *,
    after: int,
    last: int | None,
    language: str | None,
    domain: str,
    now: datetime,
) -> int:
    """Insert the deliveries ``rule`` calls for among the subscribers with ids in
    ``(after, last]`` (``last`` None: all after ``after``) that are not planned yet;
    how many. ``language`` is the one every recipient reads, or None for their own."""
    condition = and_(SubscriberRow.id > after, _audience(release_id, rule.audience))
    if last is not None:
        condition = and_(condition, SubscriberRow.id <= last)
    if rule.unless_planned:
        condition = and_(
            condition,
            ~exists().where(
                DeliveryRow.subscriber_id == SubscriberRow.id,
                DeliveryRow.release_id == release_id,
                DeliveryRow.kind == rule.unless_planned,
            ),
        )
    message_id = (
        literal(f"<{release_id}.{rule.kind.replace(':', '-')}.")
        + func.cast(SubscriberRow.id, DeliveryRow.message_id.type)
        + literal(f"@{domain}>")
    )
    select_rows = select(
        literal(release_id),
        SubscriberRow.id,
        literal(rule.kind),
        literal(language) if language else SubscriberRow.language,
        literal("pending"),
        literal(0),
        literal(rule.not_before, DeliveryRow.next_attempt_at.type),
        message_id,
        literal(""),
        literal(False),
        literal(now, DeliveryRow.created_at.type),
    ).where(condition)
    # Rows planned already (a step covered twice, the event handled again) are skipped
    # by the unique index: a probe per row, whatever the planner thinks of the table.
    statement = conflict_insert(session)(DeliveryRow).from_select(
        [
            "release_id",
            "subscriber_id",
            "kind",
            "language",
            "state",
            "attempts",
            "next_attempt_at",
            "message_id",
            "smtp_reply",
            "possible_duplicate",
            "created_at",
        ],
        select_rows,
    )
    statement = statement.on_conflict_do_nothing(
        index_elements=["release_id", "subscriber_id", "kind"]
    )
    # Counted from RETURNING: psycopg reports no row count for INSERT … SELECT.
    return len(session.execute(statement.returning(DeliveryRow.id)).all())


def _audience(release_id: int, audience: Audience) -> ColumnElement[bool]:
    active = SubscriberRow.state == "active"
    if isinstance(audience, ByTopic):
        condition = and_(
            active,
            exists().where(
                SubscriberTopicRow.subscriber_id == SubscriberRow.id,
                SubscriberTopicRow.topic_id.in_(
                    select(ReleaseTopicRow.topic_id).where(ReleaseTopicRow.release_id == release_id)
                ),
            ),
        )
        if audience.trusted_only:
            condition = and_(condition, SubscriberRow.embargo_trusted.is_(True))
        return condition
    return and_(
        active,
        exists().where(
            DeliveryRow.subscriber_id == SubscriberRow.id,
            DeliveryRow.release_id == release_id,
            DeliveryRow.kind.in_(audience.kinds),
            DeliveryRow.state.in_(("sent", "sending", "pending", "deferred")),
        ),
    )


# --- claiming ----------------------------------------------------------------------------


class Claimed(NamedTuple):
    """A delivery leased to this worker, with its subscriber: plain columns, not ORM
    objects, since a batch is hundreds of rows."""

    id: int
    release_id: int
    kind: str
    language: str
    message_id: str
    attempts: int
    subscriber_id: int
    email: str
    name: str
    token_version: int


_CLAIMED: Final = (
    DeliveryRow.id,
    DeliveryRow.release_id,
    DeliveryRow.kind,
    DeliveryRow.language,
    DeliveryRow.message_id,
    DeliveryRow.attempts,
    SubscriberRow.id,
    SubscriberRow.email,
    SubscriberRow.name,
    SubscriberRow.token_version,
)


def claim(session: Session, *, now: datetime, lease_seconds: float, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries (pending, deferred and due, or leased by a
    worker that has not come back) to the caller, who commits; in id order."""
    lease = {
        "state": "sending",
        "attempts": DeliveryRow.attempts + 1,
        "next_attempt_at": now + timedelta(seconds=lease_seconds),
        # A lease that ran out on a message whose sending had begun: its worker may
        # have delivered it just before dying.
        "possible_duplicate": case(
            (and_(DeliveryRow.state == "sending", DeliveryRow.send_started_at.is_not(None)), True),
            else_=DeliveryRow.possible_duplicate,
        ),
        "send_started_at": None,
    }
    due = (
        select(DeliveryRow.id)
        .where(
            # A "sending" row that is due is one whose lease ran out. Written as the
            # ix_deliveries_due index's own condition, so the planner uses it.
            DeliveryRow.state.in_(("pending", "deferred", "sending")),
            DeliveryRow.next_attempt_at <= now,
        )
        .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
        .limit(limit)
    )
    rows: Sequence[Any]
    if session.get_bind().dialect.name == "postgresql":
        # Read ix_deliveries_due in order and stop at ``limit``: its first entries are
        # those of rows claimed before, dead until a vacuum, which an index scan skips
        # and a bitmap scan (chosen on statistics taken between fan-outs) reads and
        # sorts every time, at a cost in PostgreSQL's CPU for every message.
        session.execute(text("SET LOCAL enable_bitmapscan = off"))
        # One statement: the due rows locked (skipping those another worker is
        # taking), leased, and returned with their subscribers. ARRAY(…) runs the
        # locking subquery once, before the update.
        rows = sorted(
            session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.id
                    == any_(func.array(due.with_for_update(skip_locked=True).scalar_subquery())),
                    SubscriberRow.id == DeliveryRow.subscriber_id,
                )
                .values(lease)
                .returning(*_CLAIMED)
            )
        )
    else:
        ids = list(session.scalars(due))
        if not ids:
            return []
        session.execute(update(DeliveryRow).where(DeliveryRow.id.in_(ids)).values(lease))
        rows = session.execute(
            select(*_CLAIMED)
            .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            .where(DeliveryRow.id.in_(ids))
            .order_by(DeliveryRow.id)
        ).all()
    return [Claimed(*row) for row in rows]


# --- marking and recording ---------------------------------------------------------------

# (delivery id, the attempt it was claimed with): a lease, as its holder knows it.
Held = tuple[int, int]


class Settled(NamedTuple):
    """A result as it is recorded."""

    id: int
    attempts: int
    state: str
    reply: str
    due: datetime
    sent_at: datetime | None
    ambiguous: bool


_HELD = and_(
    _deliveries.c.id == bindparam("_id"),
    _deliveries.c.attempts == bindparam("_attempts"),
    _deliveries.c.state == "sending",
)


def mark_started(connection: Connection, rows: Sequence[Held], now: datetime) -> set[int]:
    """Mark these leased rows as being sent, in one statement, and return those that were
    still the caller's: from now until their results are recorded, a crash makes each
    a possible duplicate. A batch slower than its lease may find rows claimed again by
    another worker, which sends them; sending them here too would be an unflagged copy."""
    if not rows:
        return set()
    if connection.dialect.name == "postgresql":
        ids, tries = (list(values) for values in zip(*rows, strict=True))
        marked = connection.execute(_MARK_UNNEST, {"ids": ids, "tries": tries, "now": now})
        return set(marked.scalars())
    marked = connection.execute(
        update(_deliveries)
        .where(
            tuple_(_deliveries.c.id, _deliveries.c.attempts).in_(rows),
            _deliveries.c.state == "sending",
        )
        .values(send_started_at=now)
        .returning(_deliveries.c.id)
    )
    return set(marked.scalars())


def hand_back(connection: Connection, rows: Sequence[Held], now: datetime) -> None:
    """Hand leased rows that were not sent back, due now and not "started"."""
    connection.execute(
        update(_deliveries)
        .where(_HELD)
        .values(state="pending", send_started_at=None, next_attempt_at=now),
        [{"_id": delivery_id, "_attempts": tries} for delivery_id, tries in rows],
    )


def record(connection: Connection, results: Sequence[Settled]) -> None:
    """Record a chunk's results: on PostgreSQL one ``UPDATE … FROM unnest(…)``;
    elsewhere one statement run per row."""
    if not results:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(_RECORD_UNNEST, _arrays(results))
        return
    statement = (
        update(_deliveries)
        .where(_HELD)
        .values(
            state=bindparam("_state"),
            smtp_reply=bindparam("_reply"),
            next_attempt_at=bindparam("_due"),
            sent_at=bindparam("_sent_at"),
            possible_duplicate=or_(_deliveries.c.possible_duplicate, bindparam("_ambiguous")),
        )
    )
    connection.execute(
        statement, [{f"_{key}": value for key, value in row._asdict().items()} for row in results]
    )


def record_and_mark(
    connection: Connection, results: Sequence[Settled], following: Sequence[Held], now: datetime
) -> set[int]:
    """``record`` then ``mark_started``, and what the mark returns. On PostgreSQL one
    statement, atomic by itself: no BEGIN and COMMIT needed around it, one round trip."""
    if not results or not following or connection.dialect.name != "postgresql":
        record(connection, results)
        return mark_started(connection, following, now)
    ids, tries = (list(values) for values in zip(*following, strict=True))
    parameters = _arrays(results)
    parameters.update(held_ids=ids, held_tries=tries, now=now)
    return set(connection.execute(_RECORD_AND_MARK_UNNEST, parameters).scalars())


def _arrays(results: Sequence[Settled]) -> dict[str, Any]:
    names = ("ids", "tries", "states", "replies", "dues", "sent_ats", "ambiguous")
    arrays = (list(column) for column in zip(*results, strict=True))
    return dict(zip(names, arrays, strict=True))


def _still_held(given: TableValuedAlias) -> tuple[ColumnElement[bool], ...]:
    """The rows of ``given`` (a derived table of ids and attempts) that the caller
    still holds: claimed with that attempt and not taken over or settled since."""
    return (
        _deliveries.c.id == given.c.id,
        _deliveries.c.attempts == given.c.attempts,
        _deliveries.c.state == "sending",
    )


def _results_unnest() -> Update:
    """``record`` on PostgreSQL: one statement over arrays, one per column."""
    stamps = ARRAY(DateTime(timezone=True))
    given = (
        func.unnest(
            bindparam("ids", type_=ARRAY(Integer)),
            bindparam("tries", type_=ARRAY(Integer)),
            bindparam("states", type_=ARRAY(Text)),
            bindparam("replies", type_=ARRAY(Text)),
            bindparam("dues", type_=stamps),
            bindparam("sent_ats", type_=stamps),
            bindparam("ambiguous", type_=ARRAY(Boolean)),
        )
        .table_valued("id", "attempts", "state", "reply", "due", "sent_at", "ambiguous")
        .render_derived(name="result")
    )
    return (
        update(_deliveries)
        .where(*_still_held(given))
        .values(
            state=given.c.state,
            smtp_reply=given.c.reply,
            next_attempt_at=given.c.due,
            sent_at=given.c.sent_at,
            possible_duplicate=or_(_deliveries.c.possible_duplicate, given.c.ambiguous),
        )
    )


def _started_unnest(ids: str = "ids", tries: str = "tries") -> Update:
    """``mark_started`` on PostgreSQL: one statement over two arrays."""
    given = (
        func.unnest(bindparam(ids, type_=ARRAY(Integer)), bindparam(tries, type_=ARRAY(Integer)))
        .table_valued("id", "attempts")
        .render_derived(name="held")
    )
    return (
        update(_deliveries)
        .where(*_still_held(given))
        .values(send_started_at=bindparam("now", type_=_deliveries.c.send_started_at.type))
        .returning(_deliveries.c.id)
    )


_RECORD_UNNEST: Final = _results_unnest()
_MARK_UNNEST: Final = _started_unnest()
# A chunk's results and the next chunk's mark as one statement: the results' UPDATE as a
# data-modifying WITH, which PostgreSQL runs exactly once, to completion, within the
# same statement, so in the same transaction as the mark, which returns what it marked.
# The two touch different rows.
_RECORD_AND_MARK_UNNEST: Final = _started_unnest("held_ids", "held_tries").add_cte(
    _results_unnest().cte("recorded")
)
