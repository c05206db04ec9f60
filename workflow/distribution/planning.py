"""The rules of ``workflow.distribution.rules`` applied: one ``deliveries`` row per
(release, subscriber, kind), in the caller's transaction. The unique key makes planning
again what was planned (a step covered twice, an event handled again) add nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from workflow.db import deliveries
from workflow.db.tables import ReleaseRow
from workflow.distribution.rules import Rule, shared_language
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
    release_id: int,
    rules: Sequence[Rule],
    *,
    after: int = 0,
    limit: int | None = None,
) -> Planned:
    """Plan the deliveries ``rules`` call for, in ``session``'s transaction, which the
    caller commits.

    With ``limit``, a step: only for the ``limit`` subscribers (of any state) whose ids
    come next after ``after``; the next step starts after the ``last`` it covered."""
    if not rules:
        return Planned(0)
    last = None
    if limit is not None:
        last = deliveries.step_end(session, after=after, limit=limit)
    release = session.get(ReleaseRow, release_id)
    if release is None:
        return Planned(0, last)
    language = shared_language(
        deliveries.live_languages(session, release_id), release.primary_language
    )
    domain = mail_domain(ctx.settings.mail_from)
    now = ctx.clock.now()
    added = sum(
        deliveries.insert_planned(
            session,
            release_id,
            rule,
            after=after,
            last=last,
            language=language,
            domain=domain,
            now=now,
        )
        for rule in rules
    )
    return Planned(added, last)
