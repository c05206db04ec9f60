"""Retention: personal data deleted once its purpose is served (Korea's PIPA, article 21).

One run (beat's ``newsroom.retention``, or ``newsroom retention run``) deletes:

* login attempts past the lockout window (``NEWSROOM_LOGIN_WINDOW_SECONDS``): they
  count for nothing after it;
* workflow emails (staff notices, subscribers' confirmations) once sent, failed or
  cancelled, ``NEWSROOM_RETENTION_MESSAGE_DAYS`` after they were made, and the mail
  catcher's files (``<var dir>/mail``) as old;
* sign-ups never confirmed, with their confirmation emails, once the latest link has
  expired (``NEWSROOM_CONFIRMATION_LINK_DAYS``): the address was never the person's
  consent, and nothing is kept of it;
* subscribers who unsubscribed or bounced ``NEWSROOM_RETENTION_SUPPRESSION_DAYS`` ago,
  with all that names their address, leaving only its keyed hash, which still blocks it
  (``suppressions``);
* deliveries to journalists ``NEWSROOM_RETENTION_DELIVERY_DAYS`` after they were
  planned, once settled, with who they went to and the relay's reply; each release
  keeps their counts (``distribution.tallies``).

It never touches the audit of administrative acts, nor releases, their audit trail or
their revisions: those are the office's records, not data kept about a person for a
purpose that ends.

Every step works in batches of ``NEWSROOM_RETENTION_BATCH_SIZE`` rows, each batch one
transaction that claims its rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's
transactions are serial), so that a run can stop anywhere and the next one goes on from
there, two runs at once share the work, and a second run finds nothing left to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from workflow.db.tables import (
    DeliveryRow,
    LoginAttemptRow,
    NotificationRow,
    SubscriberRow,
    SubscriberTopicRow,
)
from workflow.distribution.tallies import fold
from workflow.domain.subscribers import SubscriberState, SuppressionReason
from workflow.services import suppressions
from workflow.services.context import ServiceContext

log = logging.getLogger(__name__)

SETTLED_NOTIFICATIONS = ("sent", "failed", "cancelled")
SETTLED_DELIVERIES = ("sent", "failed", "bounced", "cancelled")


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """How many of each were deleted (subscribers: reduced to keyed hashes)."""

    login_attempts: int = 0
    notifications: int = 0
    caught_mail: int = 0
    unconfirmed: int = 0
    subscribers: int = 0
    deliveries: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run_retention(ctx: ServiceContext) -> RetentionReport:
    """Delete whatever is past its retention (see the module's docstring); returns what
    was deleted. Safe to run at any time, as often as wanted, from several workers."""
    settings, now = ctx.settings, ctx.clock.now()
    message_cutoff = now - timedelta(days=settings.retention_message_days)
    report = RetentionReport(
        login_attempts=_in_batches(
            ctx,
            lambda s, n: _login_attempts(
                s, now - timedelta(seconds=settings.login_window_seconds), n
            ),
        ),
        notifications=_in_batches(ctx, lambda s, n: _notifications(s, message_cutoff, n)),
        caught_mail=_caught_mail(ctx, message_cutoff),
        unconfirmed=_in_batches(
            ctx,
            lambda s, n: _unconfirmed(s, now - timedelta(days=settings.confirmation_link_days), n),
        ),
        subscribers=_suppressed_subscribers(ctx, now),
        deliveries=_in_batches(
            ctx,
            lambda s, n: _old_deliveries(
                s, now - timedelta(days=settings.retention_delivery_days), n, now
            ),
        ),
    )
    log.info("retention: %s", report.as_dict())
    return report


def _in_batches(ctx: ServiceContext, step: Callable[[Session, int], int]) -> int:
    """Run ``step`` (one batch of at most ``n`` rows) a transaction at a time until a
    batch comes back short; returns the rows it dealt with in all."""
    size, done = ctx.settings.retention_batch_size, 0
    while True:
        with ctx.uow() as uow:
            count = step(uow.session, size)
            uow.commit()
        done += count
        if count < size:
            return done


def _login_attempts(session: Session, cutoff: datetime, size: int) -> int:
    ids = list(
        session.scalars(
            select(LoginAttemptRow.id)
            .where(LoginAttemptRow.at < cutoff)
            .order_by(LoginAttemptRow.id)
            .limit(size)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(delete(LoginAttemptRow).where(LoginAttemptRow.id.in_(ids)))
    return len(ids)


def _unconfirmed(session: Session, cutoff: datetime, size: int) -> int:
    """Sign-ups still pending whose latest confirmation link has expired: deleted
    outright."""
    ids = list(
        session.scalars(
            select(SubscriberRow.id)
            .where(
                SubscriberRow.state == SubscriberState.PENDING.value,
                SubscriberRow.created_at < cutoff,
                # Asking again sends a new link: the latest one decides.
                ~exists().where(
                    NotificationRow.kind == "subscription_confirm",
                    NotificationRow.to_address == SubscriberRow.email,
                    NotificationRow.created_at >= cutoff,
                ),
            )
            .order_by(SubscriberRow.id)
            .limit(size)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        # Their confirmation emails go with them: they hold the address, and a new
        # sign-up could be given a freed id (SQLite reuses the highest) and its key.
        addresses = select(SubscriberRow.email).where(SubscriberRow.id.in_(ids))
        session.execute(
            delete(NotificationRow).where(
                NotificationRow.kind == "subscription_confirm",
                NotificationRow.to_address.in_(addresses),
            )
        )
        session.execute(delete(SubscriberTopicRow).where(SubscriberTopicRow.subscriber_id.in_(ids)))
        session.execute(delete(SubscriberRow).where(SubscriberRow.id.in_(ids)))
    return len(ids)


def _notifications(session: Session, cutoff: datetime, size: int) -> int:
    ids = list(
        session.scalars(
            select(NotificationRow.id)
            .where(
                NotificationRow.state.in_(SETTLED_NOTIFICATIONS),
                NotificationRow.created_at < cutoff,
            )
            .order_by(NotificationRow.id)
            .limit(size)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(delete(NotificationRow).where(NotificationRow.id.in_(ids)))
    return len(ids)


def _caught_mail(ctx: ServiceContext, cutoff: datetime) -> int:
    """The catcher's files last written before ``cutoff``, where this process sees them
    (the embedded mode's var dir)."""
    folder = ctx.settings.var_dir / "mail"
    deleted = 0
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else ():
        try:
            if path.stat().st_mtime < cutoff.timestamp():
                path.unlink()
                deleted += 1
        except FileNotFoundError:  # another run took it
            continue
    return deleted


def _suppression_due(cutoff: datetime) -> ColumnElement[bool]:
    """Subscribers who unsubscribed or bounced before ``cutoff`` (those with no time
    recorded count from when they were added)."""
    return or_(
        and_(
            SubscriberRow.state == SubscriberState.UNSUBSCRIBED.value,
            func.coalesce(SubscriberRow.unsubscribed_at, SubscriberRow.created_at) < cutoff,
        ),
        and_(
            SubscriberRow.state == SubscriberState.BOUNCED.value,
            func.coalesce(SubscriberRow.bounced_at, SubscriberRow.created_at) < cutoff,
        ),
    )


def _suppressed_subscribers(ctx: ServiceContext, now: datetime) -> int:
    """First their deliveries, folded a batch at a time (a subscriber may have many),
    then the subscribers themselves, each reduced to the keyed hash of their address."""
    cutoff = now - timedelta(days=ctx.settings.retention_suppression_days)
    due = _suppression_due(cutoff)

    def deliveries(session: Session, size: int) -> int:
        ids = list(
            session.scalars(
                select(DeliveryRow.id)
                .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
                .where(due)
                .order_by(DeliveryRow.subscriber_id, DeliveryRow.release_id, DeliveryRow.id)
                .limit(size)
                .with_for_update(of=DeliveryRow, skip_locked=True)
            )
        )
        return fold(session, ids, now)

    def subscribers(session: Session, size: int) -> int:
        rows = session.execute(
            select(
                SubscriberRow.id,
                SubscriberRow.email,
                SubscriberRow.state,
                SubscriberRow.unsubscribed_at,
                SubscriberRow.bounced_at,
                SubscriberRow.created_at,
            )
            .where(due)
            .order_by(SubscriberRow.id)
            .limit(size)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            bounced = row.state == SubscriberState.BOUNCED.value
            reason = SuppressionReason.BOUNCED if bounced else SuppressionReason.UNSUBSCRIBED
            since = (row.bounced_at if bounced else row.unsubscribed_at) or row.created_at
            suppressions.reduce_to_hash(
                session, ctx.settings, row.id, row.email, reason, since, now
            )
        return len(rows)

    _in_batches(ctx, deliveries)
    return _in_batches(ctx, subscribers)


def _old_deliveries(session: Session, cutoff: datetime, size: int, now: datetime) -> int:
    """Settled deliveries planned before ``cutoff``, a release's journalists in order,
    so that a journalist's rows of one release are seldom split between two folds."""
    ids = list(
        session.scalars(
            select(DeliveryRow.id)
            .where(DeliveryRow.state.in_(SETTLED_DELIVERIES), DeliveryRow.created_at < cutoff)
            .order_by(DeliveryRow.release_id, DeliveryRow.subscriber_id, DeliveryRow.id)
            .limit(size)
            .with_for_update(skip_locked=True)
        )
    )
    return fold(session, ids, now)
