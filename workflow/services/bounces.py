"""Bounces: reports, after a relay accepted a message, that it did not reach its reader.

Three ways in, one rule. A relay's webhook posts what it knows as JSON; a delivery status
notification (RFC 3464) or a vendor's bounce message is posted raw or read from the
bounce mailbox, and flufl.bounce (Mailman's classifier, which knows the RFC format and
the odd formats of many mail servers) says which recipients failed and whether for good.

A permanent failure marks the delivery ``bounced`` and counts toward the subscriber's
suspension (``hard_bounce_limit``); a temporary one (a "still trying" notice) changes
nothing. A bounce names the delivery by the original Message-ID when the report quotes
it, else by the recipient's latest sent message. Recording is idempotent: a report read
twice, or posted by the webhook and found in the mailbox as well, counts once.
"""

from __future__ import annotations

import email
import email.policy
import logging
import mailbox
from collections import Counter
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from flufl.bounce import all_failures
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workflow.db.tables import DeliveryRow, DigestRow, SubscriberRow
from workflow.domain.errors import ValidationFailed
from workflow.services.context import ServiceContext, resolve_actor
from workflow.services.subscribers import record_hard_bounce

log = logging.getLogger(__name__)

MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class Bounce:
    recipient: str
    permanent: bool
    message_id: str = ""  # the original message's, when known
    reason: str = ""


def from_report(raw: bytes) -> list[Bounce]:
    """The failures a bounce message reports (empty if it is not recognisably one)."""
    if not raw.strip():
        return []
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # its heuristic detectors can trip over odd input: not a bounce
        log.warning("the bounce classifier failed on a message", exc_info=True)
        return []
    original = _original_message_id(message)
    reason = _diagnostic(message)
    found = [Bounce(_address(address), True, original, reason) for address in sorted(permanent)] + [
        Bounce(_address(address), False, original, reason)
        for address in sorted(temporary - permanent)
    ]
    return [b for b in found if b.recipient]


def _address(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return text.strip().strip("<>").lower()


def _original_message_id(message: Message) -> str:
    """The Message-ID of the message that bounced, from the report's quoted copy of it
    (a message/rfc822 or text/rfc822-headers part)."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return str(inner["Message-ID"]).strip()
        elif content_type == "text/rfc822-headers":
            headers = email.message_from_string(str(part.get_payload(decode=False)))
            if headers.get("Message-ID"):
                return str(headers["Message-ID"]).strip()
    return ""


def _diagnostic(message: Message) -> str:
    """The remote server's own words, from the report's Diagnostic-Code, if it has one."""
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload() or []:
                if isinstance(block, Message) and block.get("Diagnostic-Code"):
                    return " ".join(str(block["Diagnostic-Code"]).split())[:MAX_REASON]
    return ""


@dataclass(slots=True)
class BounceReport:
    """What recording did: bounced (newly), already (seen before), temporary, unknown."""

    counts: Counter[str]

    def __getitem__(self, key: str) -> int:
        return self.counts[key]


def record(ctx: ServiceContext, bounces: list[Bounce]) -> BounceReport:
    """Mark the deliveries these bounces are about; see the module's rule."""
    counts: Counter[str] = Counter()
    for bounce in bounces:
        counts[_record_one(ctx, bounce)] += 1
    return BounceReport(counts)


def require_reporter(ctx: ServiceContext, actor_id: int) -> None:
    """Only admins (and the relay's webhook, signed in with an admin's token) may report
    bounces: a bounce can end someone's subscription."""
    with ctx.uow() as uow:
        resolve_actor(uow, actor_id).require_admin("report bounces")


def record_as(ctx: ServiceContext, actor_id: int, bounces: list[Bounce]) -> BounceReport:
    """``record`` for a caller of the API (see ``require_reporter``)."""
    require_reporter(ctx, actor_id)
    for bounce in bounces:
        if "@" not in bounce.recipient or len(bounce.recipient) > 320:
            raise ValidationFailed(
                "recipient", "not an email address: %(address)r", address=bounce.recipient
            )
    return record(ctx, bounces)


def _record_one(ctx: ServiceContext, bounce: Bounce) -> str:
    if not bounce.permanent:
        return "temporary"
    reason = (bounce.reason or "bounced")[:MAX_REASON]
    with ctx.uow() as uow:
        bounced = _delivery(uow.session, bounce) or _digest(uow.session, bounce)
        if bounced is None:
            log.info("bounce for %s matches no delivery", bounce.recipient)
            return "unknown"
        if bounced.state == "bounced":
            return "already"
        bounced.state = "bounced"
        bounced.smtp_reply = reason
        if isinstance(bounced, DigestRow):
            # The digest carried its releases: none of them reached this reader.
            uow.session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.digest_id == bounced.id, DeliveryRow.state == "sent")
                .values(state="bounced", smtp_reply=reason)
            )
        subscriber_id = bounced.subscriber_id
        uow.commit()
    # Its own transaction, after the delivery's: a crash in between loses one count
    # toward suspension, never counts one twice.
    record_hard_bounce(ctx, subscriber_id)
    return "bounced"


def _delivery(session: Session, bounce: Bounce) -> DeliveryRow | None:
    """The release message the bounce is about: by its Message-ID, or else the latest
    sent to the address."""
    query = (
        select(DeliveryRow)
        .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
        .where(func.lower(SubscriberRow.email) == bounce.recipient.lower())
    )
    if bounce.message_id:
        query = query.where(DeliveryRow.message_id == bounce.message_id)
    else:
        query = query.where(DeliveryRow.state.in_(("sent", "bounced"))).order_by(
            DeliveryRow.sent_at.desc(), DeliveryRow.id.desc()
        )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=DeliveryRow)
    return session.scalars(query.limit(1)).first()


def _digest(session: Session, bounce: Bounce) -> DigestRow | None:
    """The daily digest the bounce names by its Message-ID."""
    if not bounce.message_id:
        return None
    query = (
        select(DigestRow)
        .join(SubscriberRow, SubscriberRow.id == DigestRow.subscriber_id)
        .where(
            DigestRow.message_id == bounce.message_id,
            func.lower(SubscriberRow.email) == bounce.recipient.lower(),
        )
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=DigestRow)
    return session.scalars(query.limit(1)).first()


def read_maildir(ctx: ServiceContext, path: Path) -> BounceReport:
    """Record every bounce waiting in the Maildir at ``path`` (where the bounce address
    delivers). A message leaves the mailbox only once its bounces are committed, so an
    error (the database down) leaves it for the next run; one that is not recognisably a
    bounce is moved to the ``unrecognised`` folder for a person to read."""
    box = mailbox.Maildir(path, factory=None, create=True)
    counts: Counter[str] = Counter()
    for key in list(box.keys()):
        raw = box.get_bytes(key)
        bounces = from_report(raw)
        if bounces:
            counts.update(record(ctx, bounces).counts)
        else:
            _folder(box, "unrecognised").add(raw)
            counts["unrecognised"] += 1
        box.discard(key)
    return BounceReport(counts)


def _folder(box: mailbox.Maildir, name: str) -> mailbox.Maildir:
    if name not in box.list_folders():
        return box.add_folder(name)
    return box.get_folder(name)
