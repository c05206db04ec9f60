"""The table of ``workflow.distribution.rules`` applied: one ``deliveries`` row per
message, in the caller's transaction. The unique key (release, subscriber, kind) makes
planning again what was planned (a step covered twice, an event handled again) add
nothing. And the daily digests that are due (``plan_digests``), one per subscriber and
day by the unique key (subscriber, day).

Most of a fan-out is subscribers who hold nothing of the release yet, and the table's
answer for all of them is the same: at publication, the release. They are planned in one
``INSERT … SELECT``. Everyone else (those who hold something of it, and the trusted
followers who may get an embargoed copy: a few, or at most those who were sent it) is
read with what they hold and given the table's answer one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from workflow.db import deliveries
from workflow.db.deliveries import HeldRow
from workflow.db.tables import ReleaseRow
from workflow.distribution import digests, rules
from workflow.distribution.rules import Holding, Recipient, TellRule
from workflow.domain import events as ev
from workflow.domain.states import ReleaseState
from workflow.mail.mime import mail_domain
from workflow.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class Planned:
    added: int  # rows planned
    # The last subscriber id this step covered, or None: it covered all the rest.
    last: int | None = None


def plan(
    ctx: ServiceContext,
    session: Session,
    event: ev.ReleaseEvent,
    tell: Sequence[TellRule],
    *,
    after: int = 0,
    limit: int | None = None,
) -> Planned:
    """Plan the messages ``tell`` gives on ``event``, in ``session``'s transaction, which
    the caller commits.

    With ``limit``, a step: only for the ``limit`` subscribers (of any state) whose ids
    come next after ``after``; the next step starts after the ``last`` it covered."""
    if not tell:
        return Planned(0)
    last = None
    if limit is not None:
        last = deliveries.step_end(session, after=after, limit=limit)
    row = session.get(ReleaseRow, event.release_id)
    if row is None or _superseded(event, row):
        return Planned(0, last)
    now = ctx.clock.now()
    if after == 0:
        _revise_unsent(session, event)
    release = _release(session, event, row)
    domain = mail_domain(ctx.settings.mail_from)
    people, held = deliveries.candidates(session, event.release_id, after=after, last=last)
    holdings = _holdings(held)
    messages = []
    for person in people:
        recipient = Recipient(
            person.language,
            person.trusted,
            person.follows,
            holdings[person.subscriber_id],
            digest=person.digest,
        )
        for rule in tell:
            message = rules.answer(rule, event, release, recipient, now)
            if message is not None:
                messages.append(
                    deliveries.Planned(
                        person.subscriber_id,
                        rules.row_kind(message.kind, event),
                        message.language,
                        message.not_before,
                        message.text_key,
                        message.embargo_until,
                        waits=rules.waits_for_digest(message, recipient),
                    )
                )
    added = deliveries.insert(session, event.release_id, messages, domain=domain, now=now)
    # Those who hold nothing last: the one statement skips whoever was planned above.
    if isinstance(event, ev.ReleasePublished):
        added += deliveries.insert_for_newcomers(
            session,
            event.release_id,
            kind=rules.RELEASE,
            not_before=rules.public_from(release, now),
            after=after,
            last=last,
            asked=[person.subscriber_id for person in people],
            language=rules.shared_language(release.live, release.primary),
            digested=rules.RELEASE in rules.DIGESTED,
            domain=domain,
            now=now,
        )
    return Planned(added, last)


def _superseded(event: ev.ReleaseEvent, row: ReleaseRow) -> bool:
    """An event whose news the release has left behind since, so that sending it now
    would be wrong: a schedule since edited back to review (its text is no longer the
    approved one; its unscheduling follows), a publication since withdrawn or taken down
    as published in error."""
    state = ReleaseState(row.state)
    if isinstance(event, ev.ReleaseScheduled):
        publish_at = datetime.fromisoformat(event.publish_at)
        return state is not ReleaseState.SCHEDULED or row.publish_at != publish_at
    if isinstance(event, ev.ReleasePublished):
        return state in (ReleaseState.WITHDRAWN, ReleaseState.UNPUBLISHED)
    return False


def _revise_unsent(session: Session, event: ev.ReleaseEvent) -> None:
    """Messages not yet sent whose news is out of date: an embargoed copy, or a notice,
    of a schedule that no longer holds, and anything at all of a release withdrawn or
    taken down as published in error (a daily digest's copy included), are cancelled;
    the public text on its way to readers of a version that went live since goes in
    their language."""
    before = datetime.fromisoformat(event.occurred_at)
    if isinstance(event, ev.TranslationPublished):
        deliveries.readdress_unsent(session, event.release_id, event.languages)
    elif isinstance(event, ev.ReleaseUnscheduled):
        kinds = (rules.EMBARGOED, rules.UPDATED, rules.EMBARGO_MOVED)
        deliveries.cancel_unsent(session, event.release_id, kinds=kinds, before=before)
    elif isinstance(event, (ev.ReleaseWithdrawn, ev.ReleaseUnpublished)):
        deliveries.cancel_unsent(session, event.release_id, kinds=None, before=before)


def _release(session: Session, event: ev.ReleaseEvent, row: ReleaseRow) -> rules.Release:
    versions = deliveries.versions(session, event.release_id)
    live = frozenset(language for language, _, live in versions if live is not None)
    text_key = rules.text_key({language: revision for language, revision, _ in versions})
    embargo_until, publish_at = row.embargo_until, row.publish_at
    if isinstance(event, ev.ReleaseScheduled):
        embargo_until = _moment(event.embargo_until)
        publish_at = _moment(event.publish_at)
    elif isinstance(event, ev.ReleasePublished):
        embargo_until = _moment(event.embargo_until)
    return rules.Release(
        primary=row.primary_language,
        live=live or frozenset(language for language, _, _ in versions),
        text_key=text_key,
        embargo_until=embargo_until,
        publish_at=publish_at,
    )


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _holdings(rows: Iterable[HeldRow]) -> defaultdict[int, Holding]:
    """What each subscriber holds, from their rows in the order they were planned."""
    messages: defaultdict[int, list[rules.Sent]] = defaultdict(list)
    for row in rows:
        sent = row.state in ("sent", "sending")
        messages[row.subscriber_id].append(
            rules.Sent(row.kind, row.language, sent, row.text_key, row.embargo_until)
        )
    result: defaultdict[int, Holding] = defaultdict(Holding)
    result.update((subscriber, rules.holding(held)) for subscriber, held in messages.items())
    return result


def plan_digests(ctx: ServiceContext, *, step: int = 500) -> int:
    """Plan every daily digest that is due (``workflow.distribution.digests``): for each
    active subscriber who chose one and has releases waiting, the digest of the latest
    day whose time has come, with the releases public before it. Committed in steps of
    ``step`` subscribers; how many digests were planned. Two planners at once plan each
    digest once: the unique (subscriber, day) decides."""
    zone = ctx.settings.office_zone
    domain = mail_domain(ctx.settings.mail_from)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        times = deliveries.digest_times(uow.session)
    planned = 0
    for at in times:
        day, cutoff = digests.due(now, at, zone)
        after: int | None = 0
        while after is not None:
            with ctx.uow() as uow:
                added, after = deliveries.plan_digests(
                    uow.session,
                    at=at,
                    day=day,
                    cutoff=cutoff,
                    after=after,
                    limit=step,
                    domain=domain,
                    now=now,
                )
                uow.commit()
            planned += added
    return planned
