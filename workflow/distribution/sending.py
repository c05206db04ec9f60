"""Sending a batch of deliveries, or of daily digests: claimed with a lease in a
committed transaction, sent outside any transaction through the mail port, each result
recorded as its reply comes and, once recorded, counted (``newsroom_deliveries_total``,
by state and reply class).

A batch is sent only while its lease holds, less a margin: a worker stalled past it (a
long pause, a relay far slower than expected) stops and hands the rest back, so that the
worker that claims them next is the only one sending them.

Releases and digests go through the same code (a ``Mailing`` each): they differ only in
their table's rows and in what their messages say.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Generic, overload

from sqlalchemy import Connection

from config.settings import Settings
from workflow import metrics
from workflow.db import deliveries
from workflow.db.deliveries import C, Claimed, Held, Settled
from workflow.distribution.rendering import Kept, render_digests, render_variant
from workflow.mail import mime, signing
from workflow.mail.envelopes import ChunkHooks, Envelope, Outcome, Result
from workflow.mail.senders import BulkSender
from workflow.services.context import ServiceContext
from workflow.services.subscribers import record_hard_bounce
from workflow.services.subscription_tokens import subscription_links

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchReport:
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Mailing(Generic[C]):
    """What a batch sender sends: the rows of one table (``leases``) and their messages
    (``messages``: each row's by its id; a row left out has nothing left to send)."""

    name: str  # for the log
    leases: deliveries.Leases[C]
    messages: Callable[[ServiceContext, Sequence[C]], dict[int, mime.Variant]]


def _release_messages(ctx: ServiceContext, batch: Sequence[Claimed]) -> dict[int, mime.Variant]:
    """One rendering per (release, kind, language, text, time) of the batch."""
    variants = {kept: render_variant(ctx, kept) for kept in {_kept(item) for item in batch}}
    return {item.id: variants[_kept(item)] for item in batch}


RELEASES: Final = Mailing("deliveries", deliveries.RELEASES, _release_messages)
DIGESTS: Final = Mailing("digests", deliveries.DIGESTS, render_digests)


@overload
def claim(ctx: ServiceContext, *, limit: int = 200) -> list[Claimed]: ...
@overload
def claim(ctx: ServiceContext, *, limit: int = 200, mailing: Mailing[C]) -> list[C]: ...
def claim(ctx: ServiceContext, *, limit: int = 200, mailing: Mailing[Any] = RELEASES) -> list[Any]:
    """Take up to ``limit`` due rows of ``mailing`` (pending, deferred and due, or leased
    by a worker that has not come back) and lease them to this worker; in id order."""
    with ctx.uow() as uow:
        batch = mailing.leases.claim(
            uow.session,
            now=ctx.clock.now(),
            lease_seconds=ctx.settings.delivery_lease_seconds,
            limit=limit,
        )
        uow.commit()
    return batch


def send_batch(
    ctx: ServiceContext,
    *,
    limit: int = 200,
    connections: int = 4,
    mail: BulkSender | None = None,
    mailing: Mailing[Any] = RELEASES,
) -> BatchReport:
    """Claim a batch of ``mailing`` (the releases' deliveries by default), send it
    through ``mail`` (the context's bulk sender by default), record every result as it
    comes."""
    lease = ctx.settings.delivery_lease_seconds
    lease_ends = ctx.clock.now() + timedelta(seconds=lease)  # no later than the rows' own
    batch = claim(ctx, limit=limit, mailing=mailing)
    report = BatchReport(claimed=len(batch))
    if not batch:
        return report
    sender = BatchSender(ctx, batch, report, lease_ends=lease_ends, mailing=mailing)
    sender.send(mail or ctx.bulk_mail, connections=connections)
    log.log(
        logging.INFO if report.outcomes else logging.DEBUG,
        "%s sent: claimed=%d %s",
        mailing.name,
        report.claimed,
        " ".join(f"{outcome}={count}" for outcome, count in sorted(report.outcomes.items())),
    )
    return report


class BatchSender(ChunkHooks, Generic[C]):
    """One claimed batch on its way: its messages assembled, then sent chunk by chunk,
    each chunk marked "started" before its first message goes and recorded once its last
    reply is in (the hooks the bulk sender calls)."""

    def __init__(
        self,
        ctx: ServiceContext,
        batch: Sequence[C],
        report: BatchReport,
        *,
        lease_ends: datetime,
        mailing: Mailing[C],
    ) -> None:
        self.ctx, self.report = ctx, report
        self.batch: Sequence[C] = batch
        self.mailing: Mailing[C] = mailing
        self.leases: deliveries.Leases[C] = mailing.leases
        self.lease_ends = lease_ends
        lease = ctx.settings.delivery_lease_seconds
        self.stop_at = lease_ends - timedelta(seconds=min(30.0, lease / 10))
        self.attempts = {item.id: item.attempts for item in batch}
        self.subscribers = {item.id: item.subscriber_id for item in batch}
        # On PostgreSQL a chunk's writes are one statement each, run without BEGIN and
        # COMMIT around it: a statement is a transaction by itself, and the connection
        # waits one round trip instead of three.
        self.one_statement = (
            ctx.engine.dialect.name == "postgresql" and mailing.leases.one_statement
        )

    def send(self, mail: BulkSender, *, connections: int) -> None:
        envelopes = self.envelopes()
        if envelopes:
            mail.send(
                envelopes,
                connections=connections,
                chunk=self.ctx.settings.delivery_record_every,
                hooks=self,
            )

    def envelopes(self) -> list[Envelope]:
        """Every message of the batch, ready for the wire: an international address goes
        as the relay can carry it (``workflow.mail.addresses``). A row with nothing left
        to send is recorded as cancelled."""
        settings = self.ctx.settings
        messages = self.mailing.messages(self.ctx, self.batch)
        variants = {variant: list_message(self.ctx, variant) for variant in set(messages.values())}
        empty = [item for item in self.batch if item.id not in messages]
        if empty:
            self._cancel(empty)
        sender = mime.mail_address(settings.mail_from)
        date = mime.message_date(self.ctx.clock.now())
        dkim = signing.signer(settings)
        envelopes = []
        for item in self.batch:
            if item.id not in messages:
                continue
            links = subscription_links(
                settings,
                item.subscriber_id,
                item.token_version,
                purposes=("unsubscribe", "preferences"),
            )
            data = mime.assemble(
                variants[messages[item.id]],
                to=item.email,
                name=item.name or item.email.split("@", 1)[0],
                unsubscribe_url=links["unsubscribe"],
                preferences_url=links["preferences"],
                # One-click https only (RFC 8058): a mailto address would need a reader
                # of its own, and would carry what identifies the subscriber unsigned.
                message_id=item.message_id,
                date=date,
            )
            envelopes.append(
                Envelope(item.id, sender, item.email, dkim.sign(data) if dkim else data)
            )
        return envelopes

    def _cancel(self, items: Sequence[C]) -> None:
        now = self._now()
        nothing = [
            Settled(item.id, item.attempts, "cancelled", "nothing left to send", now, None, False)
            for item in items
        ]
        with self.ctx.engine.begin() as connection:
            self.leases.record(connection, nothing)
        self.report.outcomes["cancelled"] += len(items)

    # --- the hooks -----------------------------------------------------------------------

    def before(self, chunk: list[Envelope]) -> list[Envelope]:
        with self._connection() as connection:
            return self._mark(connection, chunk)

    def after(self, chunk: list[Envelope], results: list[Result]) -> None:
        alone = self.one_statement and not self._unsent(chunk, results)
        with self._connection(alone) as connection:
            rows = self._record(connection, chunk, results)
        _counted(results, rows)
        self._count_bounces(results)

    def between(
        self, chunk: list[Envelope], results: list[Result], following: list[Envelope]
    ) -> list[Envelope]:
        # One transaction, one wait: the connection sends nothing while it runs.
        if self.one_statement and not self._unsent(chunk, results):
            self.report.outcomes.update(r.outcome.value for r in results)
            rows = self._settled(results)
            with self._connection() as connection:
                marked = self.leases.record_and_mark(
                    connection, rows, self._held(following), self._now()
                )
            ours = [e for e in following if e.delivery_id in marked]
        else:
            with self.ctx.engine.begin() as connection:
                rows = self._record(connection, chunk, results)
                ours = self._mark(connection, following)
        _counted(results, rows)
        self._count_bounces(results)
        return ours

    def keep_going(self) -> bool:
        return self._now() < self.stop_at

    # --- what the hooks share ------------------------------------------------------------

    def _connection(self, one_statement: bool | None = None) -> AbstractContextManager[Connection]:
        """A connection whose statements each commit by themselves (one statement on
        PostgreSQL), or else one transaction that commits when the block ends."""
        if self.one_statement if one_statement is None else one_statement:
            return self.ctx.autocommit_engine.connect()
        return self.ctx.engine.begin()

    def _mark(self, connection: Connection, chunk: list[Envelope]) -> list[Envelope]:
        ours = self.leases.mark_started(connection, self._held(chunk), self._now())
        return [e for e in chunk if e.delivery_id in ours]

    def _record(
        self, connection: Connection, chunk: list[Envelope], results: list[Result]
    ) -> list[Settled]:
        self.report.outcomes.update(r.outcome.value for r in results)
        rows = self._settled(results)
        self.leases.record(connection, rows)
        left = self._unsent(chunk, results)
        if left and self._now() < self.lease_ends:
            # Past the lease they are no longer ours to touch.
            self.leases.hand_back(connection, left, self._now())
        return rows

    def _unsent(self, chunk: list[Envelope], results: list[Result]) -> list[Held]:
        done = {r.delivery_id for r in results}
        return [
            (e.delivery_id, self.attempts[e.delivery_id])
            for e in chunk
            if e.delivery_id not in done
        ]

    def _held(self, chunk: list[Envelope]) -> list[Held]:
        return [(e.delivery_id, self.attempts[e.delivery_id]) for e in chunk]

    def _settled(self, results: list[Result]) -> list[Settled]:
        return settled(results, self.attempts, self.ctx.settings, self._now())

    def _count_bounces(self, results: list[Result]) -> None:
        for result in results:
            # A relay without SMTPUTF8 says nothing against an international address.
            if result.outcome is Outcome.PERMANENT and not result.relay_unable:
                # Toward suspension, by the subscribers' rules.
                record_hard_bounce(self.ctx, self.subscribers[result.delivery_id])

    def _now(self) -> datetime:
        return self.ctx.clock.now()


def _counted(results: Sequence[Result], rows: Sequence[Settled]) -> None:
    """Recorded: to the metrics, each with its state and the reply it had (the recorded
    reply of one given up on says so before the reply)."""
    metrics.deliveries_recorded(
        (row.state, result.reply) for row, result in zip(rows, results, strict=True)
    )


def list_message(ctx: ServiceContext, variant: mime.Variant) -> mime.Prepared:
    """A rendered message with the headers of the office's list (RFC 2919, RFC 8058)."""
    settings = ctx.settings
    domain = mime.mail_domain(settings.mail_from)
    return mime.prepare(
        variant,
        sender=settings.mail_from,
        reply_to=settings.mail_reply_to,
        list_id=f"Press releases <releases.{domain}>",
    )


def _kept(item: Claimed) -> Kept:
    return Kept(
        item.release_id,
        item.kind,
        item.language,
        item.text_key,
        item.embargo_until,
        reader=item.reader_language,
    )


def settled(
    results: Sequence[Result], attempts: Mapping[int, int], settings: Settings, now: datetime
) -> list[Settled]:
    """The results of deliveries claimed with ``attempts``, as they are recorded."""
    rows = []
    for result in results:
        tries = attempts[result.delivery_id]
        state, reply, due = settle(
            result, tries, settings.delivery_max_attempts, settings.delivery_retry_seconds, now
        )
        sent_at = now if state == "sent" else None
        ambiguous = result.outcome is Outcome.AMBIGUOUS
        rows.append(
            Settled(result.delivery_id, tries, state, reply[:1000], due, sent_at, ambiguous)
        )
    return rows


def settle(
    result: Result, attempts: int, limit: int, first_retry: float, now: datetime
) -> tuple[str, str, datetime]:
    """A result's new state, reply and next attempt: permanent refusals fail at once,
    transient ones are retried with exponential backoff and jitter up to ``limit``."""
    if result.outcome is Outcome.SENT:
        return "sent", result.reply, now
    if result.outcome is Outcome.PERMANENT:
        return "failed", result.reply, now
    if attempts >= limit:
        return "failed", f"gave up after {attempts}: {result.reply}", now
    delay = min(3600.0, first_retry * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)  # noqa: S311
    return "deferred", result.reply, now + timedelta(seconds=delay)
