"""Every statement distribution runs against the ``deliveries`` and ``digests`` tables,
for PostgreSQL and for SQLite: planning rows, planning the digests that are due,
claiming a batch with a lease, marking it started and recording its results.

Deliveries and digests are leased, marked and recorded by the same statements
(``Leases``: ``RELEASES`` and ``DIGESTS``), on the columns they share
(``tables.MessageLease``). A digest's releases are deliveries waiting in the state
``digest``; they are settled with it, in the statement that records it.

Only the lease holder's writes count: a row another worker has since claimed (its
attempts moved on) or settled (no longer "sending") is left alone. On PostgreSQL a
chunk's writes are each one statement over arrays (``unnest``), whose text does not
depend on the chunk's size: compiled once, prepared by the server once, and run without
BEGIN and COMMIT around it (a statement is a transaction by itself).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Generic, NamedTuple, TypeVar, cast

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
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.expression import TableValuedAlias

from workflow.db.tables import (
    DeliveryRow,
    DigestRow,
    ReleaseTopicRow,
    SubscriberRow,
    SubscriberTopicRow,
    VersionRow,
)
from workflow.db.writes import conflict_insert

_deliveries = cast(Table, DeliveryRow.__table__)
_digests = cast(Table, DigestRow.__table__)


# --- planning ----------------------------------------------------------------------------

# A release waiting for its subscriber's daily digest: never claimed by itself.
WAITING: Final = "digest"
# A row that was sent, or still may be: what a subscriber holds.
_LIVE_STATES: Final = ("sent", "sending", "pending", "deferred", WAITING)
_ON_ITS_WAY: Final = ("pending", "deferred")
# How a digest ends, and its releases with it.
_SETTLED: Final = ("sent", "failed", "bounced", "cancelled")


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


def versions(session: Session, release_id: int) -> list[tuple[str, int, int | None]]:
    """Each version's language, latest revision and live revision."""
    return [
        (language, revision, live)
        for language, revision, live in session.execute(
            select(VersionRow.language, VersionRow.revision, VersionRow.live_revision).where(
                VersionRow.release_id == release_id
            )
        )
    ]


def _unsent(release_id: int) -> ColumnElement[bool]:
    """A message of the release that no sender has taken: pending or deferred, or waiting
    for a digest that is not taken either. Those digests are locked on PostgreSQL, so
    that a sender claiming one waits for this transaction (and finds its releases
    changed), or this one for the claim (and then finds the digest taken: its releases
    are on their way, and whoever holds them is told what became of them)."""
    members = aliased(DeliveryRow)
    untaken = (
        select(DigestRow.id)
        .where(
            DigestRow.state.in_(_ON_ITS_WAY),
            DigestRow.id.in_(
                select(members.digest_id).where(
                    members.release_id == release_id, members.state == WAITING
                )
            ),
        )
        .with_for_update()
    )
    return or_(
        DeliveryRow.state.in_(_ON_ITS_WAY),
        and_(
            DeliveryRow.state == WAITING,
            or_(DeliveryRow.digest_id.is_(None), DeliveryRow.digest_id.in_(untaken)),
        ),
    )


def cancel_unsent(
    session: Session, release_id: int, *, kinds: Collection[str] | None, before: datetime
) -> int:
    """Cancel the messages of the release planned before ``before`` and not yet taken
    by a sender (of ``kinds``, base kinds; None: all): what they carry no longer holds.
    A digest left with no release is cancelled too."""
    condition = and_(
        DeliveryRow.release_id == release_id,
        _unsent(release_id),
        DeliveryRow.created_at < before,
    )
    if kinds is not None:
        condition = and_(condition, or_(*(_of_base(kind) for kind in kinds)))
    result = session.execute(update(DeliveryRow).where(condition).values(state="cancelled"))
    members = aliased(DeliveryRow)
    session.execute(
        update(DigestRow)
        .where(
            DigestRow.state.in_(_ON_ITS_WAY),
            DigestRow.id.in_(
                select(DeliveryRow.digest_id).where(
                    DeliveryRow.release_id == release_id, DeliveryRow.state == "cancelled"
                )
            ),
            ~exists().where(members.digest_id == DigestRow.id, members.state == WAITING),
        )
        .values(state="cancelled")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def cancel_for_subscriber(session: Session, subscriber_id: int) -> int:
    """Cancel every message to the subscriber that no sender has taken: their releases,
    notices and daily digests (with the releases waiting in them). A message already
    taken is on its way and stays so. For a subscriber who left or was suspended: their
    leaving stops the mail at once, not after what was planned has gone."""
    untaken = select(DigestRow.id).where(
        DigestRow.subscriber_id == subscriber_id, DigestRow.state.in_(_ON_ITS_WAY)
    )
    result = session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.subscriber_id == subscriber_id,
            or_(
                DeliveryRow.state.in_(_ON_ITS_WAY),
                and_(
                    DeliveryRow.state == WAITING,
                    or_(DeliveryRow.digest_id.is_(None), DeliveryRow.digest_id.in_(untaken)),
                ),
            ),
        )
        .values(state="cancelled")
    )
    session.execute(
        update(DigestRow)
        .where(DigestRow.subscriber_id == subscriber_id, DigestRow.state.in_(_ON_ITS_WAY))
        .values(state="cancelled")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def readdress_unsent(session: Session, release_id: int, languages: Collection[str]) -> int:
    """The public text not yet sent to readers of ``languages`` (or of both), now that
    their versions are live, goes in the language they read instead of the original."""
    readers = select(SubscriberRow.id).where(SubscriberRow.language.in_([*languages, "both"]))
    their_language = (
        select(SubscriberRow.language)
        .where(SubscriberRow.id == DeliveryRow.subscriber_id)
        .scalar_subquery()
    )
    result = session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.release_id == release_id,
            _unsent(release_id),
            DeliveryRow.kind.in_(("release", "lifted")),
            DeliveryRow.subscriber_id.in_(readers),
        )
        .values(language=their_language)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _of_base(kind: str) -> ColumnElement[bool]:
    return or_(DeliveryRow.kind == kind, DeliveryRow.kind.startswith(f"{kind}:"))


class Candidate(NamedTuple):
    subscriber_id: int
    language: str
    trusted: bool
    follows: bool
    digest: bool  # chose a daily digest


class HeldRow(NamedTuple):
    """A message a subscriber was sent, or is about to be."""

    subscriber_id: int
    kind: str
    language: str
    state: str
    text_key: str
    embargo_until: datetime | None


def candidates(
    session: Session, release_id: int, *, after: int, last: int | None
) -> tuple[list[Candidate], list[HeldRow]]:
    """The active subscribers in ``(after, last]`` who hold something of the release, or
    may be sent its embargoed copy (trusted followers of its topics); and what they hold,
    in the order it was planned."""
    follows = _follows(release_id)
    # Those with a row of the release, read once as a set rather than probed for each
    # subscriber (see ``insert_for_newcomers`` on such probes).
    holders = select(DeliveryRow.subscriber_id).where(
        DeliveryRow.release_id == release_id, DeliveryRow.subscriber_id > after
    )
    condition = and_(SubscriberRow.id > after, SubscriberRow.state == "active")
    if last is not None:
        condition = and_(condition, SubscriberRow.id <= last)
        holders = holders.where(DeliveryRow.subscriber_id <= last)
    condition = and_(
        condition,
        or_(
            SubscriberRow.id.in_(holders),
            and_(SubscriberRow.embargo_trusted.is_(True), follows),
        ),
    )
    people = [
        Candidate(*row)
        for row in session.execute(
            select(
                SubscriberRow.id,
                SubscriberRow.language,
                SubscriberRow.embargo_trusted,
                follows,
                SubscriberRow.digest_time.is_not(None),
            )
            .where(condition)
            .order_by(SubscriberRow.id)
        )
    ]
    if not people:
        return [], []
    # A release in a digest that a sender has taken is on its way, as a delivery being
    # sent is (``_unsent`` no longer cancels it).
    taken = exists().where(DigestRow.id == DeliveryRow.digest_id, DigestRow.state == "sending")
    state = case((and_(DeliveryRow.state == WAITING, taken), "sending"), else_=DeliveryRow.state)
    rows = [
        HeldRow(*row)
        for row in session.execute(
            select(
                DeliveryRow.subscriber_id,
                DeliveryRow.kind,
                DeliveryRow.language,
                state,
                DeliveryRow.text_key,
                DeliveryRow.embargo_until,
            )
            .where(
                DeliveryRow.release_id == release_id,
                DeliveryRow.state.in_(_LIVE_STATES),
                DeliveryRow.subscriber_id.in_([p.subscriber_id for p in people]),
            )
            .order_by(DeliveryRow.id)
        )
    ]
    return people, rows


def _follows(release_id: int) -> ColumnElement[bool]:
    return exists().where(
        SubscriberTopicRow.subscriber_id == SubscriberRow.id,
        SubscriberTopicRow.topic_id.in_(
            select(ReleaseTopicRow.topic_id).where(ReleaseTopicRow.release_id == release_id)
        ),
    )


class Planned(NamedTuple):
    subscriber_id: int
    kind: str
    language: str
    not_before: datetime
    text_key: str
    embargo_until: datetime | None
    waits: bool = False  # for the subscriber's daily digest


def insert(
    session: Session, release_id: int, rows: Sequence[Planned], *, domain: str, now: datetime
) -> int:
    """Insert these messages unless planned already; how many are new."""
    if not rows:
        return 0
    values = [
        {
            "release_id": release_id,
            "subscriber_id": row.subscriber_id,
            "kind": row.kind,
            "language": row.language,
            "state": WAITING if row.waits else "pending",
            "attempts": 0,
            "next_attempt_at": row.not_before,
            "message_id": message_id(release_id, row.kind, row.subscriber_id, domain),
            "smtp_reply": "",
            "possible_duplicate": False,
            "created_at": now,
            "text_key": row.text_key,
            "embargo_until": row.embargo_until,
        }
        for row in rows
    ]
    # One statement run for many rows: SQLAlchemy sends them as a few multi-row INSERTs
    # ("insertmanyvalues"), compiled once.
    statement = (
        conflict_insert(session)(DeliveryRow)
        .on_conflict_do_nothing(index_elements=["release_id", "subscriber_id", "kind"])
        .returning(DeliveryRow.id)
    )
    return len(session.execute(statement, values).all())


def message_id(release_id: int, kind: str, subscriber_id: int, domain: str) -> str:
    """A delivery's Message-ID: random, so that it tells nothing of the subscriber or the
    release, cannot be guessed to forge a bounce for someone else, and never meets one
    from another install or a database started again; fixed when the delivery is
    planned, so that every attempt carries the same one and a receiver drops a second
    copy. (The arguments say what it stands for; none of them is in it.)"""
    return f"<{secrets.token_hex(16)}@{domain}>"


def _random_message_id(session: Session, domain: str) -> ColumnElement[str]:
    """``message_id`` computed by the database, a new one for each row of an
    INSERT … SELECT: 128 random bits as hex, as ``secrets.token_hex(16)`` gives."""
    if session.get_bind().dialect.name == "postgresql":
        random_hex: ColumnElement[str] = func.replace(
            func.cast(func.gen_random_uuid(), Text), "-", ""
        )
    else:
        random_hex = func.lower(func.hex(func.randomblob(16)))
    return literal("<") + random_hex + literal(f"@{domain}>")


def insert_for_newcomers(
    session: Session,
    release_id: int,
    *,
    kind: str,
    not_before: datetime,
    after: int,
    last: int | None,
    asked: Collection[int],
    language: str | None,
    digested: bool,
    domain: str,
    now: datetime,
) -> int:
    """``kind`` for every active follower of the release's topics in ``(after, last]``
    but those ``asked`` one by one (``candidates``: everyone with a row of the release
    among them), in one statement: what the table tells those who hold nothing at
    publication, without reading them one by one (a fan-out is tens of thousands).
    ``language`` is the one every recipient reads, or None for their own; ``digested``:
    the message waits for the daily digest of those who chose one.

    The ones asked are left out by their ids rather than by a probe of the deliveries:
    on statistics taken while the table was empty, PostgreSQL's planner answered such a
    probe by reading every row of the release again for each subscriber."""
    condition = and_(
        SubscriberRow.id > after,
        SubscriberRow.state == "active",
        _follows(release_id),
    )
    if asked:
        condition = and_(condition, SubscriberRow.id.not_in(list(asked)))
    if last is not None:
        condition = and_(condition, SubscriberRow.id <= last)
    message = _random_message_id(session, domain)
    state: ColumnElement[str] = literal("pending")
    if digested:
        state = case((SubscriberRow.digest_time.is_not(None), WAITING), else_="pending")
    select_rows = select(
        literal(release_id),
        SubscriberRow.id,
        literal(kind),
        literal(language) if language else SubscriberRow.language,
        state,
        literal(0),
        literal(not_before, DeliveryRow.next_attempt_at.type),
        message,
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


# --- planning digests --------------------------------------------------------------------


def digest_times(session: Session) -> list[time]:
    """The digest times of the active subscribers who have releases waiting for a digest."""
    waiting = exists().where(
        DeliveryRow.subscriber_id == SubscriberRow.id,
        DeliveryRow.state == WAITING,
        DeliveryRow.digest_id.is_(None),
    )
    return list(
        session.scalars(
            select(SubscriberRow.digest_time)
            .where(
                SubscriberRow.digest_time.is_not(None),
                SubscriberRow.state == "active",
                waiting,
            )
            .distinct()
        )
    )


def plan_digests(
    session: Session,
    *,
    at: time,
    day: date,
    cutoff: datetime,
    after: int,
    limit: int,
    domain: str,
    now: datetime,
) -> tuple[int, int | None]:
    """The digest of ``day`` for up to ``limit`` active subscribers with the digest time
    ``at`` and ids after ``after`` who have releases public before ``cutoff`` waiting for
    one and no digest of that day yet, each with those releases, in the caller's
    transaction. How many were planned, and the last subscriber id looked at (None: no
    more).

    The unique (subscriber, day) decides between two planners at once: the second's
    insert waits for the first's commit and then adds nothing, and only the digests this
    insert added take releases."""
    waiting = exists().where(
        DeliveryRow.subscriber_id == SubscriberRow.id,
        DeliveryRow.state == WAITING,
        DeliveryRow.digest_id.is_(None),
        DeliveryRow.next_attempt_at < cutoff,
    )
    planned_already = exists().where(
        DigestRow.subscriber_id == SubscriberRow.id, DigestRow.day == day
    )
    who = list(
        session.scalars(
            select(SubscriberRow.id)
            .where(
                SubscriberRow.id > after,
                SubscriberRow.digest_time == at,
                SubscriberRow.state == "active",
                waiting,
                ~planned_already,
            )
            .order_by(SubscriberRow.id)
            .limit(limit)
        )
    )
    if not who:
        return 0, None
    rows = select(
        SubscriberRow.id,
        literal(day, DigestRow.day.type),
        literal(cutoff, DigestRow.cutoff.type),
        SubscriberRow.language,
        literal("pending"),
        literal(0),
        literal(now, DigestRow.next_attempt_at.type),
        _random_message_id(session, domain),
        literal(""),
        literal(False),
        literal(now, DigestRow.created_at.type),
    ).where(SubscriberRow.id.in_(who))
    statement = (
        conflict_insert(session)(DigestRow)
        .from_select(
            [
                "subscriber_id",
                "day",
                "cutoff",
                "language",
                "state",
                "attempts",
                "next_attempt_at",
                "message_id",
                "smtp_reply",
                "possible_duplicate",
                "created_at",
            ],
            rows,
        )
        .on_conflict_do_nothing(index_elements=["subscriber_id", "day"])
        .returning(DigestRow.subscriber_id)
    )
    ours = list(session.scalars(statement))
    if ours:
        session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.subscriber_id.in_(ours),
                DeliveryRow.state == WAITING,
                DeliveryRow.digest_id.is_(None),
                DeliveryRow.next_attempt_at < cutoff,
            )
            .values(
                digest_id=select(DigestRow.id)
                .where(DigestRow.subscriber_id == DeliveryRow.subscriber_id, DigestRow.day == day)
                .scalar_subquery()
            )
        )
    return len(ours), who[-1]


def release_waiting(session: Session, subscriber_id: int) -> int:
    """A subscriber's releases waiting for a digest that none has taken yet go as each
    release does (at once, or at the embargo's end): they chose so since."""
    result = session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.subscriber_id == subscriber_id,
            DeliveryRow.state == WAITING,
            DeliveryRow.digest_id.is_(None),
        )
        .values(state="pending")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


class DigestItem(NamedTuple):
    """One release of a digest, in the language the digest shows it."""

    digest_id: int
    release_id: int
    language: str
    public_at: datetime


def digest_items(session: Session, digest_ids: Collection[int]) -> list[DigestItem]:
    """The releases the digests carry (those not cancelled since), oldest first."""
    return [
        DigestItem(cast(int, digest_id), release_id, language, public_at)
        for digest_id, release_id, language, public_at in session.execute(
            select(
                DeliveryRow.digest_id,
                DeliveryRow.release_id,
                DeliveryRow.language,
                DeliveryRow.next_attempt_at,
            )
            .where(DeliveryRow.digest_id.in_(list(digest_ids)), DeliveryRow.state == WAITING)
            .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
        )
    ]


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
    text_key: str
    embargo_until: datetime | None
    reader_language: str  # the subscriber's choice: the message's frame speaks it


class ClaimedDigest(NamedTuple):
    """A digest leased to this worker, with its subscriber."""

    id: int
    day: date
    cutoff: datetime
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
    DeliveryRow.text_key,
    DeliveryRow.embargo_until,
    SubscriberRow.language,
)
_CLAIMED_DIGEST: Final = (
    DigestRow.id,
    DigestRow.day,
    DigestRow.cutoff,
    DigestRow.language,
    DigestRow.message_id,
    DigestRow.attempts,
    SubscriberRow.id,
    SubscriberRow.email,
    SubscriberRow.name,
    SubscriberRow.token_version,
)

# (row id, the attempt it was claimed with): a lease, as its holder knows it.
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


C = TypeVar("C", Claimed, ClaimedDigest)


class Leases(Generic[C]):
    """Claiming, marking and recording the rows of one table of messages (``RELEASES``:
    the deliveries; ``DIGESTS``: the daily digests), by the same statements over the
    columns they share (``tables.MessageLease``).

    ``one_statement``: on PostgreSQL, a chunk's writes may each be one statement run
    without BEGIN and COMMIT (a statement is a transaction by itself). Recording a
    digest also settles its releases, a second statement: its writes go in a
    transaction."""

    def __init__(
        self,
        row: type[DeliveryRow] | type[DigestRow],
        columns: tuple[Any, ...],
        claimed: Callable[..., C],
        *,
        one_statement: bool,
    ) -> None:
        self.row = row
        self.table = cast(Table, row.__table__)
        self.columns = columns
        self.claimed: Callable[..., C] = claimed
        self.one_statement = one_statement
        self._held = and_(
            self.table.c.id == bindparam("_id"),
            self.table.c.attempts == bindparam("_attempts"),
            self.table.c.state == "sending",
        )
        self._record_unnest = _results_unnest(self.table)
        self._mark_unnest = _started_unnest(self.table)
        # A chunk's results and the next chunk's mark as one statement: the results'
        # UPDATE as a data-modifying WITH, which PostgreSQL runs exactly once, to
        # completion, within the same statement, so in the same transaction as the
        # mark, which returns what it marked. The two touch different rows.
        self._record_and_mark_unnest = _started_unnest(
            self.table, "held_ids", "held_tries"
        ).add_cte(_results_unnest(self.table).cte("recorded"))

    def claim(
        self, session: Session, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[C]:
        """Lease up to ``limit`` due rows (pending, deferred and due, or leased by a
        worker that has not come back) to the caller, who commits; in id order."""
        row = self.row
        lease = {
            "state": "sending",
            "attempts": row.attempts + 1,
            "next_attempt_at": now + timedelta(seconds=lease_seconds),
            # A lease that ran out on a message whose sending had begun: its worker may
            # have delivered it just before dying.
            "possible_duplicate": case(
                (and_(row.state == "sending", row.send_started_at.is_not(None)), True),
                else_=row.possible_duplicate,
            ),
            "send_started_at": None,
        }
        due = (
            select(row.id)
            .where(
                # A "sending" row that is due is one whose lease ran out. Written as the
                # due index's own condition, so the planner uses it.
                row.state.in_(("pending", "deferred", "sending")),
                row.next_attempt_at <= now,
            )
            .order_by(row.next_attempt_at, row.id)
            .limit(limit)
        )
        rows: Sequence[Any]
        if session.get_bind().dialect.name == "postgresql":
            # Read the due index in order and stop at ``limit``: its first entries are
            # those of rows claimed before, dead until a vacuum, which an index scan
            # skips and a bitmap scan (chosen on statistics taken between fan-outs)
            # reads and sorts every time, at a cost in PostgreSQL's CPU for every message.
            session.execute(text("SET LOCAL enable_bitmapscan = off"))
            # One statement: the due rows locked (skipping those another worker is
            # taking), leased, and returned with their subscribers. ARRAY(…) runs the
            # locking subquery once, before the update.
            rows = sorted(
                session.execute(
                    update(row)
                    .where(
                        row.id
                        == any_(
                            func.array(due.with_for_update(skip_locked=True).scalar_subquery())
                        ),
                        SubscriberRow.id == row.subscriber_id,
                    )
                    .values(lease)
                    .returning(*self.columns)
                )
            )
        else:
            ids = list(session.scalars(due))
            if not ids:
                return []
            session.execute(update(row).where(row.id.in_(ids)).values(lease))
            rows = session.execute(
                select(*self.columns)
                .join(SubscriberRow, SubscriberRow.id == row.subscriber_id)
                .where(row.id.in_(ids))
                .order_by(row.id)
            ).all()
        return [self.claimed(*found) for found in rows]

    def mark_started(self, connection: Connection, rows: Sequence[Held], now: datetime) -> set[int]:
        """Mark these leased rows as being sent, in one statement, and return those that
        were still the caller's: from now until their results are recorded, a crash
        makes each a possible duplicate. A batch slower than its lease may find rows
        claimed again by another worker, which sends them; sending them here too would
        be an unflagged copy."""
        if not rows:
            return set()
        table = self.table
        if connection.dialect.name == "postgresql":
            ids, tries = (list(values) for values in zip(*rows, strict=True))
            marked = connection.execute(self._mark_unnest, {"ids": ids, "tries": tries, "now": now})
            return set(marked.scalars())
        marked = connection.execute(
            update(table)
            .where(tuple_(table.c.id, table.c.attempts).in_(rows), table.c.state == "sending")
            .values(send_started_at=now)
            .returning(table.c.id)
        )
        return set(marked.scalars())

    def hand_back(self, connection: Connection, rows: Sequence[Held], now: datetime) -> None:
        """Hand leased rows that were not sent back, due now and not "started"."""
        connection.execute(
            update(self.table)
            .where(self._held)
            .values(state="pending", send_started_at=None, next_attempt_at=now),
            [{"_id": row_id, "_attempts": tries} for row_id, tries in rows],
        )

    def record(self, connection: Connection, results: Sequence[Settled]) -> None:
        """Record a chunk's results: on PostgreSQL one ``UPDATE … FROM unnest(…)``;
        elsewhere one statement run per row."""
        if not results:
            return
        if connection.dialect.name == "postgresql":
            connection.execute(self._record_unnest, _arrays(results))
        else:
            statement = (
                update(self.table)
                .where(self._held)
                .values(
                    state=bindparam("_state"),
                    smtp_reply=bindparam("_reply"),
                    next_attempt_at=bindparam("_due"),
                    sent_at=bindparam("_sent_at"),
                    possible_duplicate=or_(
                        self.table.c.possible_duplicate, bindparam("_ambiguous")
                    ),
                )
            )
            connection.execute(
                statement,
                [{f"_{key}": value for key, value in row._asdict().items()} for row in results],
            )
        self._settled(connection, [row.id for row in results])

    def _settled(self, connection: Connection, ids: Sequence[int]) -> None:
        """What follows from these rows' results being recorded: nothing, for a delivery."""

    def record_and_mark(
        self,
        connection: Connection,
        results: Sequence[Settled],
        following: Sequence[Held],
        now: datetime,
    ) -> set[int]:
        """``record`` then ``mark_started``, and what the mark returns. On PostgreSQL, where
        ``one_statement``, one statement, atomic by itself: no BEGIN and COMMIT needed
        around it, one round trip."""
        if (
            not results
            or not following
            or not self.one_statement
            or connection.dialect.name != "postgresql"
        ):
            self.record(connection, results)
            return self.mark_started(connection, following, now)
        ids, tries = (list(values) for values in zip(*following, strict=True))
        parameters = _arrays(results)
        parameters.update(held_ids=ids, held_tries=tries, now=now)
        return set(connection.execute(self._record_and_mark_unnest, parameters).scalars())


class DigestLeases(Leases[ClaimedDigest]):
    """The digests' leases: a digest's releases are settled with it, in the same
    transaction as its result (sent, failed; cancelled when none was left to send)."""

    def _settled(self, connection: Connection, ids: Sequence[int]) -> None:
        digest = _digests.c
        final = select(digest.id).where(digest.id.in_(ids), digest.state.in_(_SETTLED))
        of_digest = _digests.c.id == _deliveries.c.digest_id
        connection.execute(
            update(_deliveries)
            .where(_deliveries.c.digest_id.in_(final), _deliveries.c.state == WAITING)
            .values(
                state=select(digest.state).where(of_digest).scalar_subquery(),
                smtp_reply=select(digest.smtp_reply).where(of_digest).scalar_subquery(),
                sent_at=select(digest.sent_at).where(of_digest).scalar_subquery(),
            )
        )


def _arrays(results: Sequence[Settled]) -> dict[str, Any]:
    names = ("ids", "tries", "states", "replies", "dues", "sent_ats", "ambiguous")
    arrays = (list(column) for column in zip(*results, strict=True))
    return dict(zip(names, arrays, strict=True))


def _still_held(table: Table, given: TableValuedAlias) -> tuple[ColumnElement[bool], ...]:
    """The rows of ``given`` (a derived table of ids and attempts) that the caller
    still holds: claimed with that attempt and not taken over or settled since."""
    return (
        table.c.id == given.c.id,
        table.c.attempts == given.c.attempts,
        table.c.state == "sending",
    )


def _results_unnest(table: Table) -> Update:
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
        update(table)
        .where(*_still_held(table, given))
        .values(
            state=given.c.state,
            smtp_reply=given.c.reply,
            next_attempt_at=given.c.due,
            sent_at=given.c.sent_at,
            possible_duplicate=or_(table.c.possible_duplicate, given.c.ambiguous),
        )
    )


def _started_unnest(table: Table, ids: str = "ids", tries: str = "tries") -> Update:
    """``mark_started`` on PostgreSQL: one statement over two arrays."""
    given = (
        func.unnest(bindparam(ids, type_=ARRAY(Integer)), bindparam(tries, type_=ARRAY(Integer)))
        .table_valued("id", "attempts")
        .render_derived(name="held")
    )
    return (
        update(table)
        .where(*_still_held(table, given))
        .values(send_started_at=bindparam("now", type_=table.c.send_started_at.type))
        .returning(table.c.id)
    )


RELEASES: Final = Leases(DeliveryRow, _CLAIMED, Claimed, one_statement=True)
DIGESTS: Final = DigestLeases(DigestRow, _CLAIMED_DIGEST, ClaimedDigest, one_statement=False)
