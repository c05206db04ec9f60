"""Addresses never to mail again, kept only as keyed hashes.

When retention (or an admin erasing a subscriber at their request) deletes a subscriber
who unsubscribed or bounced, what is left is an HMAC-SHA256 of their normalised address
(``subscriber_email``: the address as every form and import normalises it) keyed with
``NEWSROOM_SECRET_KEY``, and why (``SuppressionReason``). Without the key, the hash
tells nothing of the address, not even by trying every address of a newsroom; with it,
an address typed into the form or a file is recognised again: an import never adds it,
the public form never mails a bounced one, and an unsubscribed one needs a fresh
confirmation, whose acceptance lifts the hash.

A lookup tries the current key and every one in ``NEWSROOM_PREVIOUS_SECRET_KEYS``: after
a rotation, hashes made with the old key still block as long as that key stays listed.
A key dropped from the list leaves the hashes made with it blocking nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from config.settings import Settings
from workflow.db.tables import (
    DeliveryRow,
    NotificationRow,
    SubscriberRow,
    SubscriberTopicRow,
    SuppressedAddressRow,
)
from workflow.db.writes import conflict_insert
from workflow.distribution.tallies import fold
from workflow.domain.subscribers import SuppressionReason, subscriber_email

_CHUNK: Final = 500


def address_hash(key: str, email: str) -> str:
    """The keyed hash of an address, normalised as subscribers' addresses are."""
    message = b"suppressed-address:" + subscriber_email(email).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _keys(settings: Settings) -> list[str]:
    """The current key first, then the earlier ones, newest first."""
    return [settings.secret_key, *reversed(settings.previous_secret_keys)]


def suppressions_of(
    session: Session, settings: Settings, emails: Iterable[str]
) -> dict[str, SuppressionReason]:
    """Which of ``emails`` (normalised) are suppressed by a hash, and why; a bounced
    hash outweighs an unsubscribed one under another key."""
    by_hash = {address_hash(key, email): email for email in set(emails) for key in _keys(settings)}
    hashes = list(by_hash)
    found: dict[str, SuppressionReason] = {}
    for start in range(0, len(hashes), _CHUNK):
        for address, reason in session.execute(
            select(SuppressedAddressRow.address_hash, SuppressedAddressRow.reason).where(
                SuppressedAddressRow.address_hash.in_(hashes[start : start + _CHUNK])
            )
        ):
            email = by_hash[address]
            if found.get(email) is not SuppressionReason.BOUNCED:
                found[email] = SuppressionReason(reason)
    return found


def suppression_of(session: Session, settings: Settings, email: str) -> SuppressionReason | None:
    """Why ``email`` (normalised) is suppressed by a hash, or None."""
    return suppressions_of(session, settings, [email]).get(email)


def lift(session: Session, settings: Settings, email: str) -> None:
    """Forget the hashes of an address that unsubscribed and has confirmed a new
    subscription since. A bounced one is never lifted."""
    session.execute(
        delete(SuppressedAddressRow).where(
            SuppressedAddressRow.address_hash.in_(
                [address_hash(k, email) for k in _keys(settings)]
            ),
            SuppressedAddressRow.reason == SuppressionReason.UNSUBSCRIBED.value,
        )
    )


def fold_deliveries_of(
    session: Session, subscriber_ids: list[int], now: datetime, *, limit: int | None = None
) -> int:
    """Fold into their releases' tallies (``distribution.tallies``) up to ``limit`` of
    the deliveries of ``subscriber_ids``, each locked (others skipped); returns how many."""
    query = (
        select(DeliveryRow.id)
        .where(DeliveryRow.subscriber_id.in_(subscriber_ids))
        .order_by(DeliveryRow.subscriber_id, DeliveryRow.release_id, DeliveryRow.id)
        .with_for_update(skip_locked=True)
    )
    if limit is not None:
        query = query.limit(limit)
    return fold(session, list(session.scalars(query)), now)


def reduce_to_hash(
    session: Session,
    settings: Settings,
    subscriber_id: int,
    email: str,
    reason: SuppressionReason,
    since: datetime,
    now: datetime,
) -> None:
    """Delete subscriber ``subscriber_id`` and everything that names their address
    ``email`` (their topics, their confirmation emails, any delivery left: folded into
    its release's tally), keeping only the keyed hash of the address with ``reason``."""
    session.execute(
        conflict_insert(session)(SuppressedAddressRow)
        .values(
            address_hash=address_hash(settings.secret_key, email),
            reason=reason.value,
            since=since,
            hashed_at=now,
        )
        .on_conflict_do_nothing()
    )
    # Emails to subscribers (their confirmations) have no user; staff's keep theirs.
    session.execute(
        delete(NotificationRow).where(
            NotificationRow.to_address == email, NotificationRow.user_id.is_(None)
        )
    )
    fold_deliveries_of(session, [subscriber_id], now)
    session.execute(
        delete(SubscriberTopicRow).where(SubscriberTopicRow.subscriber_id == subscriber_id)
    )
    session.execute(delete(SubscriberRow).where(SubscriberRow.id == subscriber_id))
