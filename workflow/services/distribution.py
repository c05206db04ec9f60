"""Email distribution to journalists: planning deliveries, claiming them, sending them.

Planning writes one ``deliveries`` row per (release, subscriber, kind) in one statement;
the unique key makes a repeated event plan nothing new. Sending claims a batch in a
committed transaction with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), sends it
outside any transaction over reused SMTP connections, and records each result the moment
its reply arrives: a killed worker leaves only the rows it had not recorded, which are
claimed again when the lease runs out; its sent rows never are.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, cast

import css_inline
from markupsafe import Markup
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

from workflow.db.repositories import conflict_insert
from workflow.db.tables import (
    DeliveryRow,
    ReleaseRow,
    ReleaseTopicRow,
    RevisionRow,
    SubscriberRow,
    SubscriberTopicRow,
    VersionRow,
)
from workflow.domain import events as ev
from workflow.mail import bulk, signing
from workflow.mail.message import mail_domain
from workflow.mail.templates import environment
from workflow.rendering import render_markdown
from workflow.services.context import ServiceContext
from workflow.services.subscribers import record_hard_bounce

log = logging.getLogger(__name__)

BOTH = "both"  # a subscriber's language: one message with both versions


# --- planning ----------------------------------------------------------------------------


_PLANNED_BY = (
    ev.ReleasePublished,
    ev.ReleaseScheduled,
    ev.ReleaseUnscheduled,
    ev.CorrectionPublished,
    ev.ReleaseWithdrawn,
)


def plan_for_event(ctx: ServiceContext, event: ev.Event) -> int:
    """Plan the deliveries ``event`` calls for; returns how many rows are new."""
    with ctx.uow() as uow:
        added = plan_in(ctx, uow.session, event).added
        uow.commit()
    return added


@dataclass(frozen=True, slots=True)
class Planned:
    added: int  # rows planned
    # The last subscriber id this step covered, or None: it covered all the rest.
    last: int | None = None


def plan_in(
    ctx: ServiceContext,
    session: Session,
    event: ev.Event,
    *,
    after: int = 0,
    limit: int | None = None,
) -> Planned:
    """``plan_for_event`` in ``session``'s transaction, which the caller commits.

    With ``limit``, a step: only for the ``limit`` subscribers (of any state) whose ids
    come next after ``after``; the next step starts after the ``last`` it covered. A row
    is never planned twice, so planning again what a step already covered adds nothing."""
    if not isinstance(event, _PLANNED_BY):
        return Planned(0)
    now = ctx.clock.now()
    last = None
    if limit is not None:
        last = session.scalar(
            select(SubscriberRow.id)
            .where(SubscriberRow.id > after)
            .order_by(SubscriberRow.id)
            .offset(limit - 1)
            .limit(1)
        )
    covered = SubscriberRow.id > after
    if last is not None:
        covered = and_(covered, SubscriberRow.id <= last)

    def plan(
        release_id: int,
        kind: str,
        recipients: ColumnElement[bool],
        not_before: datetime,
        exclude_kind: str | None = None,
    ) -> int:
        return _plan(
            ctx, session, release_id, kind, and_(covered, recipients), not_before, exclude_kind
        )

    def follow_up(release_id: int, name: str, *received: str) -> int:
        """News of a change, to everyone who was sent one of ``received``."""
        return plan(release_id, _once(name, event), _received(release_id, *received), now)

    match event:
        case ev.ReleasePublished(release_id=release_id, embargo_until=embargo):
            # Public readers hear of it when it is public: not before the embargo.
            not_before = max(now, datetime.fromisoformat(embargo)) if embargo else now
            added = plan(
                release_id, "release", _by_topic(release_id), not_before, exclude_kind="embargo"
            )
        case ev.ReleaseScheduled(release_id=release_id, embargo_until=embargo) if embargo:
            added = plan(release_id, "embargo", _by_topic(release_id, trusted_only=True), now)
            if event.rescheduled:
                added += follow_up(release_id, "notice", "embargo")
        case ev.ReleaseUnscheduled(release_id=release_id, embargo_until=embargo) if embargo:
            added = follow_up(release_id, "notice", "embargo")
        case ev.CorrectionPublished(release_id=release_id):
            added = follow_up(release_id, "correction", "release", "embargo")
        case ev.ReleaseWithdrawn(release_id=release_id):
            added = follow_up(release_id, "withdrawal", "release", "embargo")
        case _:
            added = 0
    return Planned(added, last)


def _once(kind: str, event: ev.Event) -> str:
    """A kind that can happen more than once per release is keyed by its event."""
    return f"{kind}:{event.event_id[:8]}"


def _by_topic(release_id: int, *, trusted_only: bool = False) -> ColumnElement[bool]:
    """Active subscribers following one of the release's topics."""
    condition = and_(
        SubscriberRow.state == "active",
        exists().where(
            SubscriberTopicRow.subscriber_id == SubscriberRow.id,
            SubscriberTopicRow.topic_id.in_(
                select(ReleaseTopicRow.topic_id).where(ReleaseTopicRow.release_id == release_id)
            ),
        ),
    )
    if trusted_only:
        condition = and_(condition, SubscriberRow.embargo_trusted.is_(True))
    return condition


def _received(release_id: int, *kinds: str) -> ColumnElement[bool]:
    """Everyone who was sent this release, or is about to be: they hear of what changed."""
    return and_(
        SubscriberRow.state == "active",
        exists().where(
            DeliveryRow.subscriber_id == SubscriberRow.id,
            DeliveryRow.release_id == release_id,
            DeliveryRow.kind.in_(kinds),
            DeliveryRow.state.in_(("sent", "sending", "pending", "deferred")),
        ),
    )


def _plan(
    ctx: ServiceContext,
    session: Session,
    release_id: int,
    kind: str,
    recipients: ColumnElement[bool],
    not_before: datetime,
    exclude_kind: str | None = None,
) -> int:
    """Insert the ``kind`` deliveries of the release that ``recipients`` call for and
    that are not planned yet; how many."""
    release = session.get(ReleaseRow, release_id)
    if release is None:
        return 0
    live = set(
        session.scalars(
            select(VersionRow.language).where(
                VersionRow.release_id == release_id, VersionRow.live_revision.is_not(None)
            )
        )
    )
    languages = live or {release.primary_language}
    # Each subscriber reads their language if the release has it, else the original;
    # "both" gets one message with both versions when the release has both.
    chosen_language = (
        literal(release.primary_language) if len(languages) == 1 else SubscriberRow.language
    )
    condition = recipients
    if exclude_kind:
        condition = and_(
            condition,
            ~exists().where(
                DeliveryRow.subscriber_id == SubscriberRow.id,
                DeliveryRow.release_id == release_id,
                DeliveryRow.kind == exclude_kind,
            ),
        )
    domain = _mail_domain(ctx)
    message_id = (
        literal(f"<{release_id}.{kind.replace(':', '-')}.")
        + func.cast(SubscriberRow.id, DeliveryRow.message_id.type)
        + literal(f"@{domain}>")
    )
    select_rows = select(
        literal(release_id),
        SubscriberRow.id,
        literal(kind),
        chosen_language,
        literal("pending"),
        literal(0),
        literal(not_before, DeliveryRow.next_attempt_at.type),
        message_id,
        literal(""),
        literal(False),
        literal(ctx.clock.now(), DeliveryRow.created_at.type),
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


def _mail_domain(ctx: ServiceContext) -> str:
    return mail_domain(ctx.settings.mail_from)


# --- sending -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
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


@dataclass(slots=True)
class BatchReport:
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def claim(ctx: ServiceContext, *, limit: int = 200) -> list[Claimed]:
    """Take up to ``limit`` due deliveries (pending, deferred and due, or leased by a
    worker that has not come back) and lease them to this worker; in id order."""
    now = ctx.clock.now()
    lease = {
        "state": "sending",
        "attempts": DeliveryRow.attempts + 1,
        "next_attempt_at": now + timedelta(seconds=ctx.settings.delivery_lease_seconds),
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
    with ctx.uow() as uow:
        if uow.session.get_bind().dialect.name == "postgresql":
            # Read ix_deliveries_due in order and stop at ``limit``. Its first entries are
            # those of the rows claimed before, dead until a vacuum; an index scan marks
            # them so and skips them. A bitmap scan, which the planner picks when its
            # statistics say few rows are due (taken between two fan-outs), returns every
            # one of them and sorts: each claim of a 60,000-row fan-out read some 1,200
            # pages, and PostgreSQL's CPU a message was 15 % higher (bench/fanout_cpu.py).
            uow.session.execute(text("SET LOCAL enable_bitmapscan = off"))
            # One statement: the due rows locked (skipping those another worker is
            # taking), leased, and returned with their subscribers. ARRAY(…) runs the
            # locking subquery once, before the update.
            rows = sorted(
                uow.session.execute(
                    update(DeliveryRow)
                    .where(
                        DeliveryRow.id
                        == any_(
                            func.array(due.with_for_update(skip_locked=True).scalar_subquery())
                        ),
                        SubscriberRow.id == DeliveryRow.subscriber_id,
                    )
                    .values(lease)
                    .returning(*_CLAIMED)
                )
            )
        else:
            ids = list(uow.session.scalars(due))
            if not ids:
                return []
            uow.session.execute(update(DeliveryRow).where(DeliveryRow.id.in_(ids)).values(lease))
            rows = uow.session.execute(
                select(*_CLAIMED)
                .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
                .where(DeliveryRow.id.in_(ids))
                .order_by(DeliveryRow.id)
            ).all()
        uow.commit()
    # Plain columns, not ORM objects: a batch is hundreds of rows.
    return [
        Claimed(d_id, release, kind, language, message_id, tries, sub_id, email, name, v)
        for d_id, release, kind, language, message_id, tries, sub_id, email, name, v in rows
    ]


# What ``claim`` returns of a delivery, in ``Claimed``'s order.
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


# The subscription form takes internationalised addresses (RFC 6531, as email-validator
# does), but the engine writes ASCII envelopes and headers and does not use SMTPUTF8: such
# a delivery fails at once, saying why, and is not counted as a bounce.
NEEDS_SMTPUTF8: Final = (
    "not sent: the address is not ASCII and needs SMTPUTF8, which this sender does not use"
)


def send_batch(ctx: ServiceContext, *, limit: int = 200, connections: int = 4) -> BatchReport:
    """Claim a batch, send it, record every result as it comes.

    The batch is sent only while its lease holds, less a margin: a worker stalled past it
    (a long pause, a relay far slower than expected) stops and hands the rest back, so
    that the worker that claims them next is the only one sending them."""
    lease = ctx.settings.delivery_lease_seconds
    lease_ends = ctx.clock.now() + timedelta(seconds=lease)  # no later than the rows' own
    stop_at = lease_ends - timedelta(seconds=min(30.0, lease / 10))
    batch = claim(ctx, limit=limit)
    report = BatchReport(claimed=len(batch))
    if not batch:
        return report
    settings = ctx.settings
    now = ctx.clock.now()
    domain = _mail_domain(ctx)
    variants = {
        key: bulk.prepare(
            render_variant(ctx, *key),
            sender=settings.mail_from,
            reply_to=settings.mail_reply_to,
            list_id=f"Press releases <releases.{domain}>",
        )
        for key in {(c.release_id, c.kind, c.language) for c in batch}
    }
    sender = _mail_address(settings.mail_from)
    date = bulk.message_date(now)
    dkim = signing.signer(settings)
    envelopes, unsendable = [], []
    for item in batch:
        if not item.email.isascii():
            unsendable.append(bulk.Result(item.id, bulk.Outcome.PERMANENT, NEEDS_SMTPUTF8))
            continue
        links = subscriber_links(ctx, item.subscriber_id, item.token_version)
        data = bulk.assemble(
            variants[(item.release_id, item.kind, item.language)],
            to=item.email,
            name=item.name or item.email.split("@", 1)[0],
            unsubscribe_url=links["unsubscribe"],
            preferences_url=links["preferences"],
            unsubscribe_mailto=f"mailto:unsubscribe@{domain}"
            f"?subject=unsubscribe%20{item.subscriber_id}",
            message_id=item.message_id,
            date=date,
        )
        envelopes.append(
            bulk.Envelope(item.id, sender, item.email, dkim.sign(data) if dkim else data)
        )
    attempts = {c.id: c.attempts for c in batch}
    subscribers = {c.id: c.subscriber_id for c in batch}

    # On PostgreSQL a chunk's writes are one statement each ("started", results, or
    # both at once), run without BEGIN and COMMIT around it: a statement is a
    # transaction by itself, and the connection waits one round trip instead of three.
    one_statement = ctx.engine.dialect.name == "postgresql"
    statements = ctx.autocommit_engine

    def started(chunk: list[bulk.Envelope]) -> list[bulk.Envelope]:
        with statements.connect() if one_statement else ctx.engine.begin() as connection:
            return mark(connection, chunk)

    def finished(chunk: list[bulk.Envelope], results: list[bulk.Result]) -> None:
        alone = one_statement and not unsent(chunk, results)
        with statements.connect() if alone else ctx.engine.begin() as connection:
            record(connection, chunk, results)
        count_bounces(results)

    def finished_then_started(
        chunk: list[bulk.Envelope], results: list[bulk.Result], following: list[bulk.Envelope]
    ) -> list[bulk.Envelope]:
        # One transaction, one wait: the connection sends nothing while it runs.
        if one_statement and not unsent(chunk, results):
            report.outcomes.update(r.outcome.value for r in results)
            rows = [(e.delivery_id, attempts[e.delivery_id]) for e in following]
            with statements.connect() as connection:
                marked = _record_and_mark(ctx, connection, results, attempts, rows)
            ours = [e for e in following if e.delivery_id in marked]
        else:
            with ctx.engine.begin() as connection:
                record(connection, chunk, results)
                ours = mark(connection, following)
        count_bounces(results)
        return ours

    def mark(connection: Connection, chunk: list[bulk.Envelope]) -> list[bulk.Envelope]:
        rows = [(e.delivery_id, attempts[e.delivery_id]) for e in chunk]
        ours = _mark_started(connection, rows, ctx.clock.now())
        return [e for e in chunk if e.delivery_id in ours]

    def unsent(chunk: list[bulk.Envelope], results: list[bulk.Result]) -> list[tuple[int, int]]:
        done = {r.delivery_id for r in results}
        return [
            (e.delivery_id, attempts[e.delivery_id]) for e in chunk if e.delivery_id not in done
        ]

    def record(
        connection: Connection, chunk: list[bulk.Envelope], results: list[bulk.Result]
    ) -> None:
        report.outcomes.update(r.outcome.value for r in results)
        _record(ctx, connection, results, attempts)
        left = unsent(chunk, results)
        if left and ctx.clock.now() < lease_ends:
            # Past the lease they are no longer ours to touch.
            _release(connection, left, ctx.clock.now())

    def count_bounces(results: list[bulk.Result]) -> None:
        for result in results:
            if result.outcome is bulk.Outcome.PERMANENT:
                # Toward suspension, by the subscribers' rules.
                record_hard_bounce(ctx, subscribers[result.delivery_id])

    def in_time() -> bool:
        return ctx.clock.now() < stop_at

    if unsendable:
        with ctx.engine.begin() as connection:
            record(connection, [], unsendable)
    bulk.run(
        bulk.send_all(
            envelopes,
            host=settings.smtp_host,
            port=settings.smtp_port,
            connections=connections,
            timeout=settings.smtp_timeout,
            per_second=settings.smtp_max_per_second,
            chunk=settings.delivery_record_every,
            before_chunk=started,
            after_chunk=finished,
            between_chunks=finished_then_started,
            keep_going=in_time,
        )
    )
    log.info("deliveries claimed=%d %s", report.claimed, dict(report.outcomes))
    return report


# Only the lease holder's writes count: a row another worker has since claimed (its
# attempts moved on) or settled (no longer sending) is left alone.
_deliveries = cast(Table, DeliveryRow.__table__)
_HELD = and_(
    _deliveries.c.id == bindparam("_id"),
    _deliveries.c.attempts == bindparam("_attempts"),
    _deliveries.c.state == "sending",
)


def _mark_started(connection: Connection, rows: list[tuple[int, int]], now: datetime) -> set[int]:
    """Mark these leased rows as being sent, in one statement, and return those that were
    still this worker's: from now until their results are recorded, a crash makes each
    a possible duplicate. A batch slower than its lease may find rows claimed again by
    another worker, which sends them; sending them here too would be an unflagged copy.

    A plain connection, not a unit of work: these writes run a few hundred times a second
    during a fan-out, and carry no domain change, audit entry or event."""
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


def _release(connection: Connection, rows: list[tuple[int, int]], now: datetime) -> None:
    """Hand leased rows that were not sent back, due now and not "started"."""
    connection.execute(
        update(_deliveries)
        .where(_HELD)
        .values(state="pending", send_started_at=None, next_attempt_at=now),
        [{"_id": delivery_id, "_attempts": tries} for delivery_id, tries in rows],
    )


def _record(
    ctx: ServiceContext,
    connection: Connection,
    results: list[bulk.Result],
    attempts: dict[int, int],
) -> None:
    """Record a chunk's results: sent, failed, or deferred with backoff. On PostgreSQL
    one ``UPDATE … FROM unnest(…)``; elsewhere one statement run per row."""
    if not results:
        return
    rows = _result_rows(ctx, results, attempts)
    if connection.dialect.name == "postgresql":
        connection.execute(_RECORD_UNNEST, _result_arrays(rows))
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
    keys = ("_id", "_attempts", "_state", "_reply", "_due", "_sent_at", "_ambiguous")
    connection.execute(statement, [dict(zip(keys, row, strict=True)) for row in rows])


def _record_and_mark(
    ctx: ServiceContext,
    connection: Connection,
    results: list[bulk.Result],
    attempts: dict[int, int],
    following: list[tuple[int, int]],
) -> set[int]:
    """``_record`` then ``_mark_started``, and what the mark returns. On PostgreSQL one
    statement, atomic by itself: no BEGIN and COMMIT needed around it, one round trip."""
    if not results or not following or connection.dialect.name != "postgresql":
        _record(ctx, connection, results, attempts)
        return _mark_started(connection, following, ctx.clock.now())
    ids, tries = (list(values) for values in zip(*following, strict=True))
    parameters = _result_arrays(_result_rows(ctx, results, attempts))
    parameters.update(held_ids=ids, held_tries=tries, now=ctx.clock.now())
    return set(connection.execute(_RECORD_AND_MARK_UNNEST, parameters).scalars())


_ResultRow = tuple[int, int, str, str, datetime, datetime | None, bool]


def _result_rows(
    ctx: ServiceContext, results: list[bulk.Result], attempts: dict[int, int]
) -> list[_ResultRow]:
    now = ctx.clock.now()
    limit = ctx.settings.delivery_max_attempts
    first_retry = ctx.settings.delivery_retry_seconds
    rows = []
    for result in results:
        tries = attempts[result.delivery_id]
        state, reply, due = _settled(result, tries, limit, first_retry, now)
        ambiguous = result.outcome is bulk.Outcome.AMBIGUOUS
        sent_at = now if state == "sent" else None
        rows.append((result.delivery_id, tries, state, reply[:1000], due, sent_at, ambiguous))
    return rows


def _result_arrays(rows: list[_ResultRow]) -> dict[str, object]:
    """``rows`` as the arrays ``_RECORD_UNNEST`` takes, one per column."""
    names = ("ids", "tries", "states", "replies", "dues", "sent_ats", "ambiguous")
    arrays = (list(values) for values in zip(*rows, strict=True))
    return dict(zip(names, arrays, strict=True))


def _still_held(given: TableValuedAlias) -> tuple[ColumnElement[bool], ...]:
    """The rows of ``given`` (a derived table of ids and attempts) that this sender
    still holds: claimed with that attempt and not taken over or settled since."""
    return (
        _deliveries.c.id == given.c.id,
        _deliveries.c.attempts == given.c.attempts,
        _deliveries.c.state == "sending",
    )


def _results_unnest() -> Update:
    """A chunk's results as one statement over arrays, one per column, with the same
    condition as ``_HELD``. Its text is the same whatever the chunk's size, so it is
    compiled once and prepared by the server once, and each chunk is one execution."""
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


_RECORD_UNNEST = _results_unnest()


def _started_unnest(ids: str = "ids", tries: str = "tries") -> Update:
    """``_mark_started`` on PostgreSQL: one statement over two arrays whose text does not
    depend on the chunk's size (like ``_results_unnest``), with the same condition."""
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


_MARK_UNNEST = _started_unnest()

# A chunk's results and the next chunk's mark as one statement: the results' UPDATE as a
# data-modifying WITH, which PostgreSQL runs exactly once, to completion, within the
# same statement, so in the same transaction as the mark, which returns what it marked.
# The two touch different rows.
_RECORD_AND_MARK_UNNEST = _started_unnest("held_ids", "held_tries").add_cte(
    _results_unnest().cte("recorded")
)


def _settled(
    result: bulk.Result, attempts: int, limit: int, first_retry: float, now: datetime
) -> tuple[str, str, datetime]:
    """A result's new state, reply and next attempt: permanent refusals fail at once,
    transient ones are retried with exponential backoff and jitter up to ``limit``."""
    if result.outcome is bulk.Outcome.SENT:
        return "sent", result.reply, now
    if result.outcome is bulk.Outcome.PERMANENT:
        return "failed", result.reply, now
    if attempts >= limit:
        return "failed", f"gave up after {attempts}: {result.reply}", now
    delay = min(3600.0, first_retry * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)  # noqa: S311
    return "deferred", result.reply, now + timedelta(seconds=delay)


def _mail_address(value: str) -> str:
    return value.rsplit("<", 1)[-1].rstrip(">").strip()


def subscriber_links(ctx: ServiceContext, subscriber_id: int, token_version: int) -> dict[str, str]:
    """The unsubscribe and preferences links of every distribution email."""
    from workflow.services.subscription_tokens import subscription_links

    links: dict[str, str] = subscription_links(
        ctx.settings, subscriber_id, token_version, purposes=("unsubscribe", "preferences")
    )
    return links


def render_variant(ctx: ServiceContext, release_id: int, kind: str, language: str) -> bulk.Variant:
    """The message for every recipient of one (release, kind, language), with the
    per-recipient parts left as placeholders; CSS inlined once. ``language`` "both" is
    one message with the original first and the translation after it.

    The release's text and details are read every time (a few small queries); rendering
    them (Markdown, three templates, CSS inlining) is done once per process for the same
    content: the cache is keyed on everything the message is made of, the texts
    themselves included, so a correction or any other edit is a new key and is never
    sent with the old text."""
    with ctx.uow() as uow:
        session = uow.session
        release = session.get(ReleaseRow, release_id)
        assert release is not None
        languages = [language]
        if language == BOTH:
            other = "en" if release.primary_language == "ko" else "ko"
            languages = [release.primary_language, other]
        base_url = f"{ctx.settings.public_base_url.rstrip('/')}/releases/"
        sections = []
        for lang in languages:
            text = _live_text(session, release_id, lang)
            suffix = "" if lang == release.primary_language else f"?lang={lang}"
            url = f"{base_url}{release.number or release.id}{suffix}"
            sections.append(_Section(lang, text.title, text.subtitle, text.body, url))
        zone = ctx.settings.office_zone
        embargo_line = ""
        if kind == "embargo" and release.embargo_until is not None:
            until = release.embargo_until.astimezone(zone)
            embargo_line = f"EMBARGOED UNTIL {until:%Y-%m-%d %H:%M} {until.tzname()}"
        moment = release.published_at or release.publish_at or ctx.clock.now()
        base = kind.split(":", 1)[0]
        notice = {
            "correction": release.correction_note,
            "withdrawal": release.withdrawal_reason,
            "notice": _embargo_notice(release, zone),
        }.get(base, "")
        facts = _VariantFacts(
            sections=tuple(sections),
            kind={"notice": "embargo_notice"}.get(base, base),
            embargo_line=embargo_line,
            number=release.number or "",
            date=f"{moment.astimezone(zone):%Y-%m-%d}",
            contact=" · ".join(
                x for x in (release.contact_name, release.contact_phone, release.contact_email) if x
            ),
            notice=notice,
        )
    return _rendered(facts)


@dataclass(frozen=True, slots=True)
class _Section:
    lang: str
    title: str
    subtitle: str
    body: str
    url: str


@dataclass(frozen=True, slots=True)
class _VariantFacts:
    """Everything a variant's message is made of: equal facts, equal message."""

    sections: tuple[_Section, ...]
    kind: str
    embargo_line: str
    number: str
    date: str
    contact: str
    notice: str


@lru_cache(maxsize=64)
def _rendered(facts: _VariantFacts) -> bulk.Variant:
    sections = [
        {
            "lang": section.lang,
            "title": section.title,
            "subtitle": section.subtitle,
            "body": section.body,
            "body_html": Markup(render_markdown(section.body)),  # noqa: S704  # nh3
            "url": section.url,
        }
        for section in facts.sections
    ]
    values = {
        # Greeting, notices and links speak the first section's language.
        "lang": facts.sections[0].lang,
        "sections": sections,
        "kind": facts.kind,
        "embargo_line": facts.embargo_line,
        "title": " / ".join(section.title for section in facts.sections),
        "number": facts.number,
        "date": facts.date,
        "contact": facts.contact,
        "notice": facts.notice,
        "recipient_name": bulk.NAME,
        "unsubscribe_url": bulk.UNSUBSCRIBE,
        "preferences_url": bulk.PREFERENCES,
    }
    env = environment()
    subject = " ".join(env.get_template("email/press_release/subject.txt").render(values).split())
    values["subject"] = subject
    return bulk.Variant(
        subject=subject,
        text=env.get_template("email/press_release/body.txt").render(values),
        html=css_inline.inline(env.get_template("email/press_release/body.html").render(values)),
    )


def _live_text(session: Session, release_id: int, language: str) -> RevisionRow:
    """A version's public text (its live revision), or its latest before publication."""
    version = session.scalar(
        select(VersionRow).where(
            VersionRow.release_id == release_id, VersionRow.language == language
        )
    )
    number = version.live_revision or version.revision if version else None
    text = session.scalar(
        select(RevisionRow).where(
            RevisionRow.release_id == release_id,
            RevisionRow.language == language,
            RevisionRow.number == number,
        )
    )
    assert text is not None, f"release {release_id} has no {language} text"
    return text


def _embargo_notice(release: ReleaseRow, zone: object) -> str:
    if release.state == "withdrawn":
        return "withdrawn"
    if release.publish_at is None:
        return "publication postponed; the embargo stays in force until further notice"
    until = (release.embargo_until or release.publish_at).astimezone(zone)  # type: ignore[arg-type]
    return f"now embargoed until {until:%Y-%m-%d %H:%M} {until.tzname()}"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    counts: dict[str, int]
    failures: list[tuple[str, str, str]]  # address, kind, SMTP reply
    possible_duplicates: int


def delivery_report(ctx: ServiceContext, release_id: int) -> DeliveryReport:
    with ctx.uow() as uow:
        counts = dict(
            uow.session.execute(
                select(DeliveryRow.state, func.count())
                .where(DeliveryRow.release_id == release_id)
                .group_by(DeliveryRow.state)
            ).all()
        )
        failures = [
            tuple(r)
            for r in uow.session.execute(
                select(SubscriberRow.email, DeliveryRow.kind, DeliveryRow.smtp_reply)
                .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
                .where(
                    DeliveryRow.release_id == release_id,
                    DeliveryRow.state.in_(("failed", "bounced")),
                )
                .order_by(DeliveryRow.id)
            )
        ]
        duplicates = uow.session.scalar(
            select(func.count())
            .select_from(DeliveryRow)
            .where(DeliveryRow.release_id == release_id, DeliveryRow.possible_duplicate.is_(True))
        )
    return DeliveryReport(counts, failures, int(duplicates or 0))  # type: ignore[arg-type]


SETTLED = ("sent", "failed", "bounced")
MAX_TIMELINE_BUCKETS = 500


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a release's emails have got: ``settled`` of ``total`` have their final
    answer (sent, failed or bounced)."""

    settled: int
    total: int

    @property
    def percent(self) -> int:
        return 100 * self.settled // self.total if self.total else 100


def delivery_progress(ctx: ServiceContext, release_ids: list[int]) -> dict[int, Progress]:
    """The progress of each release's deliveries, in one query; releases with no
    delivery planned are left out."""
    if not release_ids:
        return {}
    settled = func.sum(case((DeliveryRow.state.in_(SETTLED), 1), else_=0))
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(DeliveryRow.release_id, settled, func.count())
            .where(DeliveryRow.release_id.in_(release_ids))
            .group_by(DeliveryRow.release_id)
        ).all()
    return {release_id: Progress(int(done), int(total)) for release_id, done, total in rows}


@dataclass(frozen=True, slots=True)
class TimelineBucket:
    """Deliveries that settled in ``[start, end)``, by how they ended."""

    start: datetime
    end: datetime
    sent: int = 0
    failed: int = 0
    bounced: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.bounced


def delivery_timeline(ctx: ServiceContext, release_id: int, buckets: int) -> list[TimelineBucket]:
    """A release's deliveries over time: ``buckets`` equal intervals (whole seconds) from
    the first delivery planned to the last one settled, each with the deliveries that
    were sent, failed or bounced in it. Empty while none has settled.

    A delivery settles when its final SMTP reply is recorded: ``sent_at`` for a sent one
    (and for a bounced one, whose bounce report came later), the failure's time for a
    failed one (``next_attempt_at``, which recording a failure sets to that moment). The
    counting is one ``GROUP BY`` over a ``CASE`` of the interval boundaries, which reads
    the same on SQLite and PostgreSQL."""
    if not 1 <= buckets <= MAX_TIMELINE_BUCKETS:
        raise ValueError(f"buckets must be between 1 and {MAX_TIMELINE_BUCKETS}")
    settled_at = func.coalesce(DeliveryRow.sent_at, DeliveryRow.next_attempt_at)
    of_release = DeliveryRow.release_id == release_id
    with ctx.uow() as uow:
        session = uow.session
        start = session.scalar(select(func.min(DeliveryRow.created_at)).where(of_release))
        end = session.scalar(
            select(func.max(settled_at)).where(of_release, DeliveryRow.state.in_(SETTLED))
        )
        if start is None or end is None:
            return []
        start = min(start, end)
        width = timedelta(seconds=max(1, math.ceil((end - start).total_seconds() / buckets)))
        bounds = [start + width * (i + 1) for i in range(buckets)]
        index = case(
            *((settled_at < bound, i) for i, bound in enumerate(bounds[:-1])),
            else_=buckets - 1,
        )
        # Grouped in an outer query: PostgreSQL does not match a GROUP BY expression
        # whose parameters are bound again to the same expression in the SELECT list.
        settled = (
            select(index.label("bucket"), DeliveryRow.state.label("state"))
            .where(of_release, DeliveryRow.state.in_(SETTLED))
            .subquery()
        )
        counts: dict[int, Counter[str]] = {}
        for bucket, state, count in session.execute(
            select(settled.c.bucket, settled.c.state, func.count()).group_by(
                settled.c.bucket, settled.c.state
            )
        ):
            counts.setdefault(int(bucket), Counter())[state] = int(count)
    return [
        TimelineBucket(
            start=start + width * i,
            end=bounds[i],
            sent=counts.get(i, Counter())["sent"],
            failed=counts.get(i, Counter())["failed"],
            bounced=counts.get(i, Counter())["bounced"],
        )
        for i in range(buckets)
    ]
