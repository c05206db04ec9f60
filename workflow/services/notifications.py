"""Workflow notifications: who is told what when an event happens, and their sending.

A notification is rendered and stored when its event is handled, keyed by the event, so
handling an event twice adds nothing. Sending claims rows with a lease in a committed
transaction, sends outside any transaction, then marks them: a worker killed mid-send
leaves its rows to be claimed again when the lease runs out. The one duplicate this
allows is SMTP's own (the relay accepted the message but the reply never arrived).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from workflow.db.tables import NotificationRow, ReleaseRow, RevisionRow, TranslationRequestRow
from workflow.db.users import UserRepository
from workflow.domain import events as ev
from workflow.domain.states import ReleaseState, Role
from workflow.domain.users import User
from workflow.mail.message import OutgoingMail
from workflow.mail.mime import mail_domain, new_message_id
from workflow.mail.senders import MailSender, PermanentMailError, TransientMailError
from workflow.mail.templates import RenderedMail, render_email
from workflow.services.context import ServiceContext

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Notice:
    """One email to write: a template, a recipient, the values it shows."""

    kind: str
    recipient: User
    values: dict[str, str]
    # None: at once. A later moment holds the email back until then.
    send_at: datetime | None = None
    # Tells this notice apart from another one its event sends the same person.
    dedup_suffix: str = ""


class NoticeWriter:
    """What a rule of who is told needs of an event: its release and its actor's name,
    read only once a rule is known to tell someone (most events, a release created or
    edited, one approval of several, tell no one, and are handled without a read)."""

    def __init__(self, ctx: ServiceContext, session: Session, event: ev.ReleaseEvent) -> None:
        self.ctx, self.session, self.event = ctx, session, event
        self.users = UserRepository(session)

    @cached_property
    def release(self) -> ReleaseRow | None:
        return self.session.get(ReleaseRow, self.event.release_id)

    @cached_property
    def base(self) -> dict[str, str]:
        actor_id = self.event.actor_id
        actor = self.users.get(actor_id).name if actor_id and actor_id > 0 else "Newsroom"
        return {"actor_name": actor}

    def to_author(self, kind: str, **values: str) -> list[Notice]:
        """The release's author, unless they did it themselves or have left."""
        row = self.release
        if row is None or row.author_id == self.event.actor_id:
            return []
        author = self.users.get(row.author_id)
        if not author.active:
            return []
        return [Notice(kind, author, {**self.base, **values})]

    def to_approvers(self, kind: str, **values: str) -> list[Notice]:
        """Every active approver but the one who acted."""
        if self.release is None:
            return []
        return [
            Notice(kind, approver, {**self.base, **values})
            for approver in self.users.with_role(Role.APPROVER)
            if approver.id != self.event.actor_id
        ]

    def office_time(self, moment: datetime) -> str:
        """``moment`` as the office reads it, in its own zone."""
        return f"{moment.astimezone(self.ctx.settings.office_zone):%Y-%m-%d %H:%M %Z}"


# Who is told what, one rule per event type (``workflow.handlers`` says which applies).
NoticeRule = Callable[[NoticeWriter, Any], list[Notice]]


def review_requested(writer: NoticeWriter, event: ev.ReleaseSubmitted) -> list[Notice]:
    """Every approver but the one who submitted."""
    return writer.to_approvers("review_requested")


def changes_requested(writer: NoticeWriter, event: ev.ChangesRequested) -> list[Notice]:
    return writer.to_author("changes_requested", comment=event.comment)


def release_approved(writer: NoticeWriter, event: ev.ReleaseApproved) -> list[Notice]:
    return writer.to_author("release_approved")


def release_rejected(writer: NoticeWriter, event: ev.ReleaseRejected) -> list[Notice]:
    return writer.to_author("release_rejected", comment=event.comment)


def release_published(writer: NoticeWriter, event: ev.ReleasePublished) -> list[Notice]:
    """The author; under an embargo, with the time the public can read it."""
    lifts = _embargo_lifts(event)
    return writer.to_author(
        "release_published",
        number=event.number,
        public_from=writer.office_time(lifts) if lifts else "",
    )


def release_now_public(writer: NoticeWriter, event: ev.ReleasePublished) -> list[Notice]:
    """The author, when the embargo of a release published under one lifts: stored now,
    sent then. Told even if they published it themselves, since it was not public then."""
    lifts = _embargo_lifts(event)
    row = writer.release
    if lifts is None or row is None:
        return []
    values = {**writer.base, "number": event.number, "public_from": writer.office_time(lifts)}
    author = writer.users.get(row.author_id)
    return [Notice("release_now_public", author, values, send_at=lifts, dedup_suffix="public")]


def _embargo_lifts(event: ev.ReleasePublished) -> datetime | None:
    """When the embargo of a release published under one lifts; None if nothing keeps it
    from the public once it is published."""
    if event.embargo_until is None:
        return None
    lifts = datetime.fromisoformat(event.embargo_until)
    return lifts if lifts > datetime.fromisoformat(event.occurred_at) else None


def translation_requested(writer: NoticeWriter, event: ev.TranslationRequested) -> list[Notice]:
    """The translator, with the languages and the due time in the office's zone."""
    if writer.release is None:
        return []
    translator = writer.users.get(event.translator_id)
    due = datetime.fromisoformat(event.due_at).astimezone(writer.ctx.settings.office_zone)
    values = {
        **writer.base,
        "source_language": event.source_language,
        "target_language": event.target_language,
        "due_at": f"{due:%Y-%m-%d %H:%M %Z}",
    }
    return [Notice("translation_requested", translator, values)]


def sent_back_to_review(writer: NoticeWriter, event: ev.ReleaseEdited) -> list[Notice]:
    """An edit that sent an approved or scheduled release back to review voided the
    approvals it had: every approver but the editor, whose review it needs again."""
    if event.previous_state not in (ReleaseState.APPROVED, ReleaseState.SCHEDULED):
        return []
    return writer.to_approvers(
        "sent_back_to_review", language=event.language, previous_state=event.previous_state
    )


def translation_to_review(writer: NoticeWriter, event: ev.ReleaseEdited) -> list[Notice]:
    """An edit of a published release is a late translation (live text changes only by a
    correction); it put the release in correction review, where it goes live once
    approved: every approver but the editor is asked to review it."""
    if event.previous_state != ReleaseState.PUBLISHED:
        return []
    return writer.to_approvers("translation_to_review", language=event.language)


def translation_submitted(writer: NoticeWriter, event: ev.TranslationSubmitted) -> list[Notice]:
    """The officer who asked for the translation, unless they handed it in themselves."""
    requester = writer.session.scalar(
        select(TranslationRequestRow.requested_by).where(
            TranslationRequestRow.id == event.request_id
        )
    )
    if writer.release is None or requester is None or requester == event.actor_id:
        return []
    values = {**writer.base, "language": event.language}
    return [Notice("translation_submitted", writer.users.get(requester), values)]


def correction_proposed(writer: NoticeWriter, event: ev.CorrectionProposed) -> list[Notice]:
    """Every approver but the proposer, with the public note of each version corrected,
    which they are asked to approve (events stored before ``notes`` name one)."""
    notes = event.notes or {event.language: event.note}
    return writer.to_approvers(
        "correction_proposed",
        languages=",".join(notes),  # the original first
        note_ko=notes.get("ko", ""),
        note_en=notes.get("en", ""),
    )


def original_corrected(writer: NoticeWriter, event: ev.CorrectionPublished) -> list[Notice]:
    """A corrected original: the translators whose translation of it was handed in."""
    row = writer.release
    if row is None or row.primary_language not in event.languages:
        return []
    translator_ids = writer.session.scalars(
        select(TranslationRequestRow.translator_id)
        .where(
            TranslationRequestRow.release_id == row.id,
            TranslationRequestRow.state == "submitted",
        )
        .distinct()
    )
    return [
        Notice("original_corrected", writer.users.get(t), {**writer.base, "note": event.note})
        for t in translator_ids
    ]


def store_notices(
    ctx: ServiceContext,
    session: Session,
    event: ev.Event,
    rules: Sequence[NoticeRule],
) -> int:
    """Store the notifications ``rules`` call for on ``event`` in ``session``'s
    transaction, which the caller commits; how many were new."""
    if not rules or not isinstance(event, ev.ReleaseEvent):
        return 0
    writer = NoticeWriter(ctx, session, event)
    notices = [notice for rule in rules for notice in rule(writer, event)]
    return _store(ctx, session, event.event_id, event.release_id, notices)


def _store(
    ctx: ServiceContext,
    session: Session,
    dedup_key: str,
    release_id: int | None,
    notices: Iterable[Notice],
) -> int:
    added = 0
    title: str | None = None  # read for the first email stored
    for notice in notices:
        to = notice.recipient.email
        key = f"{dedup_key}:{notice.dedup_suffix}" if notice.dedup_suffix else dedup_key
        exists = session.scalar(
            select(NotificationRow.id).where(
                NotificationRow.dedup_key == key, NotificationRow.to_address == to
            )
        )
        if exists or not to or not notice.recipient.active:
            continue
        if title is None:
            title = "" if release_id is None else _release_title(session, release_id)
        url = "" if release_id is None else _release_url(ctx, release_id)
        mail = render_email(
            notice.kind,
            notice.recipient.language.value,
            recipient_name=notice.recipient.name,
            release_title=title,
            release_url=url,
            **notice.values,
        )
        queue_email(
            ctx,
            session,
            mail,
            dedup_key=key,
            kind=notice.kind,
            to=to,
            language=notice.recipient.language.value,
            release_id=release_id,
            user_id=notice.recipient.id,
            send_at=notice.send_at,
        )
        added += 1
    return added


def queue_email(
    ctx: ServiceContext,
    session: Session,
    mail: RenderedMail,
    *,
    dedup_key: str,
    kind: str,
    to: str,
    language: str,
    release_id: int | None = None,
    user_id: int | None = None,
    send_at: datetime | None = None,
) -> None:
    """Store a rendered email for the notification sender, in ``session``'s transaction;
    it is sent at once, or not before ``send_at``."""
    now = ctx.clock.now()
    session.add(
        NotificationRow(
            dedup_key=dedup_key,
            kind=kind,
            release_id=release_id,
            user_id=user_id,
            to_address=to,
            language=language,
            subject=mail.subject,
            body_text=mail.text,
            body_html=mail.html,
            message_id=new_message_id(mail_domain(ctx.settings.mail_from)),
            state="pending",
            attempts=0,
            next_attempt_at=send_at or now,
            last_error="",
            created_at=now,
        )
    )


def _release_title(session: Session, release_id: int) -> str:
    release = session.get(ReleaseRow, release_id)
    if release is None:
        return ""
    title = session.scalar(
        select(RevisionRow.title)
        .where(
            RevisionRow.release_id == release_id, RevisionRow.language == release.primary_language
        )
        .order_by(RevisionRow.number.desc())
        .limit(1)
    )
    return title or ""


def _release_url(ctx: ServiceContext, release_id: int) -> str:
    return f"{ctx.settings.public_base_url.rstrip('/')}/office/releases/{release_id}"


def queue_deadline_notices(ctx: ServiceContext) -> int:
    """Remind translators before the due time; tell the requester once it has passed.
    Each request's reminder and escalation are claimed once, by a conditional update."""
    now = ctx.clock.now()
    reminder = timedelta(hours=ctx.settings.translation_reminder_hours)
    added = 0
    with ctx.uow() as uow:
        users = UserRepository(uow.session)
        # (column claimed once, template, how long before the due time it goes out)
        windows = (
            ("reminded_at", "translation_reminder", reminder),
            ("escalated_at", "translation_overdue", timedelta(0)),
        )
        for column, kind, ahead in windows:
            field = getattr(TranslationRequestRow, column)
            candidates = uow.session.scalars(
                select(TranslationRequestRow).where(
                    TranslationRequestRow.state == "open", field.is_(None)
                )
            ).all()
            for request in candidates:
                if request.due_at - ahead > now:
                    continue
                claimed = uow.session.execute(
                    update(TranslationRequestRow)
                    .where(TranslationRequestRow.id == request.id, field.is_(None))
                    .values({column: now})
                ).rowcount  # type: ignore[attr-defined]
                if not claimed:
                    continue
                office_due = request.due_at.astimezone(ctx.settings.office_zone)
                translator = users.get(request.translator_id)
                recipient = (
                    translator
                    if kind == "translation_reminder"
                    else users.get(request.requested_by)
                )
                added += _store(
                    ctx,
                    uow.session,
                    f"{kind}:{request.id}",
                    request.release_id,
                    [
                        Notice(
                            kind,
                            recipient,
                            {
                                "actor_name": "Newsroom",
                                "translator_name": translator.name,
                                "due_at": f"{office_due:%Y-%m-%d %H:%M %Z}",
                            },
                        )
                    ],
                )
        uow.commit()
    return added


@dataclass(frozen=True, slots=True)
class SendReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


def send_due_notifications(
    ctx: ServiceContext, sender: MailSender, *, limit: int = 50
) -> SendReport:
    """Send the notifications that are due (or whose lease ran out)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        query = (
            select(NotificationRow)
            .where(
                or_(NotificationRow.state == "pending", NotificationRow.state == "sending"),
                NotificationRow.next_attempt_at <= now,
            )
            .order_by(NotificationRow.id)
            .limit(limit)
        )
        if uow.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = []
        for row in uow.session.scalars(query).all():
            if _moot(uow.session, row):
                row.state = "cancelled"
                row.last_error = "the release was withdrawn before its embargo lifted"
                continue
            row.state = "sending"
            row.attempts += 1
            row.next_attempt_at = now + LEASE
            rows.append(row)
        claimed = [
            (
                row.id,
                row.attempts,
                OutgoingMail(
                    to=row.to_address,
                    subject=row.subject,
                    text=row.body_text,
                    html=row.body_html,
                    sender=ctx.settings.mail_from,
                    reply_to=ctx.settings.mail_reply_to,
                    message_id=row.message_id,
                    date=now,
                ),
            )
            for row in rows
        ]
        uow.commit()
    sent = deferred = failed = 0
    for row_id, attempts, mail in claimed:
        try:
            sender.send(mail)
        except PermanentMailError as error:
            _finish(ctx, row_id, "failed", str(error))
            failed += 1
        except TransientMailError as error:
            if attempts >= MAX_ATTEMPTS:
                _finish(ctx, row_id, "failed", f"gave up after {attempts} attempts: {error}")
                failed += 1
            else:
                delay = min(3600.0, 10 * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)  # noqa: S311
                _finish(
                    ctx,
                    row_id,
                    "pending",
                    str(error),
                    retry_at=ctx.clock.now() + timedelta(seconds=delay),
                )
                deferred += 1
        else:
            _finish(ctx, row_id, "sent", "")
            sent += 1
    if claimed:
        log.info("notifications sent=%d deferred=%d failed=%d", sent, deferred, failed)
    return SendReport(sent, deferred, failed)


def _moot(session: Session, row: NotificationRow) -> bool:
    """Whether ``row`` would no longer tell the truth: a notice that a release is now
    public, held back until its embargo lifted, for a release withdrawn meanwhile."""
    if row.kind != "release_now_public" or row.release_id is None:
        return False
    state = session.scalar(select(ReleaseRow.state).where(ReleaseRow.id == row.release_id))
    return state == ReleaseState.WITHDRAWN


def _finish(
    ctx: ServiceContext, row_id: int, state: str, error: str, retry_at: datetime | None = None
) -> None:
    with ctx.uow() as uow:
        row = uow.session.get(NotificationRow, row_id)
        if row is not None and row.state == "sending":
            row.state = state
            row.last_error = error
            if state == "sent":
                row.sent_at = ctx.clock.now()
            if retry_at is not None:
                row.next_attempt_at = retry_at
        uow.commit()
