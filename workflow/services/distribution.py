"""Email distribution to journalists: planning deliveries, claiming them, sending them.

Planning writes one ``deliveries`` row per (release, subscriber, kind) in one statement;
the unique key makes a repeated event plan nothing new. Sending claims a batch in a
committed transaction with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), sends it
outside any transaction over reused SMTP connections, and records each result the moment
its reply arrives: a killed worker leaves only the rows it had not recorded, which are
claimed again when the lease runs out; its sent rows never are.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import css_inline
from markupsafe import Markup
from sqlalchemy import ColumnElement, and_, case, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

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
from workflow.mail import bulk
from workflow.mail.message import mail_domain
from workflow.mail.templates import environment
from workflow.rendering import render_markdown
from workflow.services.context import ServiceContext
from workflow.services.subscribers import record_hard_bounce

log = logging.getLogger(__name__)


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
    if not isinstance(event, _PLANNED_BY):
        return 0
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = uow.session

        def follow_up(release_id: int, name: str, *received: str) -> int:
            """News of a change, to everyone who was sent one of ``received``."""
            return _plan(
                ctx,
                session,
                release_id,
                _once(name, event),
                _received(release_id, *received),
                now,
                fresh_only=False,
            )

        match event:
            case ev.ReleasePublished(release_id=release_id, embargo_until=embargo):
                # Public readers hear of it when it is public: not before the embargo.
                not_before = max(now, datetime.fromisoformat(embargo)) if embargo else now
                added = _plan(
                    ctx,
                    session,
                    release_id,
                    "release",
                    _by_topic(release_id),
                    not_before,
                    exclude_kind="embargo",
                )
            case ev.ReleaseScheduled(release_id=release_id, embargo_until=embargo) if embargo:
                added = _plan(
                    ctx,
                    session,
                    release_id,
                    "embargo",
                    _by_topic(release_id, trusted_only=True),
                    now,
                )
                if event.rescheduled:
                    added += follow_up(release_id, "notice", "embargo")
            case ev.ReleaseUnscheduled(release_id=release_id, embargo_until=embargo) if embargo:
                added = follow_up(release_id, "notice", "embargo")
            case ev.CorrectionPublished(release_id=release_id):
                added = follow_up(release_id, "correction", "release", "embargo")
            case ev.ReleaseWithdrawn(release_id=release_id):
                added = follow_up(release_id, "withdrawal", "release", "embargo")
            case _:
                return 0
        uow.commit()
    return added


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
    *,
    exclude_kind: str | None = None,
    fresh_only: bool = True,
) -> int:
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
    # Each subscriber reads their language if the release has it, else the original
    # ("both" gets the original, which links to the other version).
    chosen_language = (
        literal(release.primary_language)
        if len(languages) == 1
        else func.coalesce(
            func.nullif(SubscriberRow.language, "both"), literal(release.primary_language)
        )
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
    if fresh_only:
        condition = and_(
            condition,
            ~exists().where(
                DeliveryRow.subscriber_id == SubscriberRow.id,
                DeliveryRow.release_id == release_id,
                DeliveryRow.kind == kind,
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
    statement = insert(DeliveryRow).from_select(
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
    worker that has not come back) and lease them to this worker."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        query = (
            select(DeliveryRow.id)
            .where(
                or_(
                    DeliveryRow.state.in_(("pending", "deferred")),
                    DeliveryRow.state == "sending",  # a lease that ran out
                ),
                DeliveryRow.next_attempt_at <= now,
            )
            .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
            .limit(limit)
        )
        if uow.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(uow.session.scalars(query))
        if not ids:
            return []
        uow.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(ids))
            .values(
                state="sending",
                attempts=DeliveryRow.attempts + 1,
                next_attempt_at=now + timedelta(seconds=ctx.settings.delivery_lease_seconds),
                # A lease that ran out on a message whose sending had begun: its worker
                # may have delivered it just before dying.
                possible_duplicate=case(
                    (
                        and_(
                            DeliveryRow.state == "sending",
                            DeliveryRow.send_started_at.is_not(None),
                        ),
                        True,
                    ),
                    else_=DeliveryRow.possible_duplicate,
                ),
                send_started_at=None,
            )
        )
        rows = uow.session.execute(
            select(DeliveryRow, SubscriberRow)
            .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            .where(DeliveryRow.id.in_(ids))
            .order_by(DeliveryRow.id)
        ).all()
        claimed = [
            Claimed(
                d.id,
                d.release_id,
                d.kind,
                d.language,
                d.message_id,
                d.attempts,
                s.id,
                s.email,
                s.name,
                s.token_version,
            )
            for d, s in rows
        ]
        uow.commit()
    return claimed


def send_batch(ctx: ServiceContext, *, limit: int = 200, connections: int = 4) -> BatchReport:
    """Claim a batch, send it, record every result as it comes."""
    batch = claim(ctx, limit=limit)
    report = BatchReport(claimed=len(batch))
    if not batch:
        return report
    settings = ctx.settings
    now = ctx.clock.now()
    variants = {
        key: render_variant(ctx, *key)
        for key in {(c.release_id, c.kind, c.language) for c in batch}
    }
    envelopes = []
    for item in batch:
        links = subscriber_links(ctx, item.subscriber_id, item.token_version)
        envelopes.append(
            bulk.Envelope(
                item.id,
                _mail_address(settings.mail_from),
                item.email,
                bulk.assemble(
                    variants[(item.release_id, item.kind, item.language)],
                    to=item.email,
                    name=item.name or item.email.split("@", 1)[0],
                    unsubscribe_url=links["unsubscribe"],
                    preferences_url=links["preferences"],
                    unsubscribe_mailto=f"mailto:unsubscribe@{_mail_domain(ctx)}"
                    f"?subject=unsubscribe%20{item.subscriber_id}",
                    message_id=item.message_id,
                    sender=settings.mail_from,
                    reply_to=settings.mail_reply_to,
                    list_id=f"Press releases <releases.{_mail_domain(ctx)}>",
                    date=now,
                ),
            )
        )
    attempts = {c.id: c.attempts for c in batch}
    subscribers = {c.id: c.subscriber_id for c in batch}

    def record(result: bulk.Result) -> None:
        report.outcomes[result.outcome.value] += 1
        _record(ctx, result, attempts[result.delivery_id], subscribers[result.delivery_id])

    def started(envelope: bulk.Envelope) -> None:
        with ctx.uow() as uow:
            uow.session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.id == envelope.delivery_id,
                    DeliveryRow.attempts == attempts[envelope.delivery_id],
                )
                .values(send_started_at=ctx.clock.now())
            )
            uow.commit()

    asyncio.run(
        bulk.send_all(
            envelopes,
            host=settings.smtp_host,
            port=settings.smtp_port,
            connections=connections,
            timeout=settings.smtp_timeout,
            on_start=started,
            on_result=record,
        )
    )
    log.info("deliveries claimed=%d %s", report.claimed, dict(report.outcomes))
    return report


def _record(ctx: ServiceContext, result: bulk.Result, attempts: int, subscriber_id: int) -> None:
    now = ctx.clock.now()
    values: dict[str, object] = {"smtp_reply": result.reply[:1000]}
    if result.outcome is bulk.Outcome.SENT:
        values.update(state="sent", sent_at=now)
    elif result.outcome is bulk.Outcome.PERMANENT:
        values.update(state="failed")
    elif attempts >= ctx.settings.delivery_max_attempts:
        values.update(state="failed", smtp_reply=f"gave up after {attempts}: {result.reply}"[:1000])
    else:
        delay = min(3600.0, 30 * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)  # noqa: S311
        reply = result.reply
        if result.outcome is bulk.Outcome.AMBIGUOUS:
            values["possible_duplicate"] = True
        values.update(
            state="deferred",
            next_attempt_at=now + timedelta(seconds=delay),
            smtp_reply=reply[:1000],
        )
    with ctx.uow() as uow:
        # Only the lease holder's answer counts: a row another worker took over is theirs.
        uow.session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.id == result.delivery_id,
                DeliveryRow.state == "sending",
                DeliveryRow.attempts == attempts,
            )
            .values(**values)
        )
        uow.commit()
    if result.outcome is bulk.Outcome.PERMANENT:
        record_hard_bounce(ctx, subscriber_id)  # toward suspension, by the subscribers' rules


def _mail_address(value: str) -> str:
    return value.rsplit("<", 1)[-1].rstrip(">").strip()


def subscriber_links(ctx: ServiceContext, subscriber_id: int, token_version: int) -> dict[str, str]:
    """The unsubscribe and preferences links of every distribution email."""
    from workflow.services.subscription_tokens import subscription_links

    links: dict[str, str] = subscription_links(ctx.settings, subscriber_id, token_version)
    return links


def render_variant(ctx: ServiceContext, release_id: int, kind: str, language: str) -> bulk.Variant:
    """The message for every recipient of one (release, kind, language), with the
    per-recipient parts left as placeholders; CSS inlined once."""
    with ctx.uow() as uow:
        session = uow.session
        release = session.get(ReleaseRow, release_id)
        assert release is not None
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
        assert text is not None
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
        suffix = "" if language == release.primary_language else f"?lang={language}"
        values = {
            "lang": language,
            "kind": {"notice": "embargo_notice"}.get(base, base),
            "embargo_line": embargo_line,
            "title": text.title,
            "subtitle": text.subtitle,
            "number": release.number or "",
            "date": f"{moment.astimezone(zone):%Y-%m-%d}",
            "body": text.body,
            "body_html": Markup(render_markdown(text.body)),  # noqa: S704  # sanitised by nh3
            "url": f"{ctx.settings.public_base_url.rstrip('/')}/releases/"
            f"{release.number or release.id}{suffix}",
            "contact": " · ".join(
                x for x in (release.contact_name, release.contact_phone, release.contact_email) if x
            ),
            "notice": notice,
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
                .where(DeliveryRow.release_id == release_id, DeliveryRow.state == "failed")
                .order_by(DeliveryRow.id)
            )
        ]
        duplicates = uow.session.scalar(
            select(func.count())
            .select_from(DeliveryRow)
            .where(DeliveryRow.release_id == release_id, DeliveryRow.possible_duplicate.is_(True))
        )
    return DeliveryReport(counts, failures, int(duplicates or 0))  # type: ignore[arg-type]
