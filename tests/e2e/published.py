"""Releases made public (or held back) through the real services, for the public pages'
tests: each helper goes through submit, approve and publish as staff would."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import Staff
from workflow.clock import FrozenClock
from workflow.domain.values import Contact
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release


def draft(
    ctx: ServiceContext,
    staff: Staff,
    *,
    ko: tuple[str, str] | None = None,
    en: tuple[str, str] | None = None,
    topics: list[int] | None = None,
    contact: Contact | None = None,
) -> int:
    """A release approved and ready, in Korean and/or English (title, body)."""
    first, other = ("ko", ko), ("en", en)
    if ko is None:
        first, other = ("en", en), ("ko", None)
    assert first[1] is not None
    release_id = svc.create_release(
        ctx,
        staff.author,
        language=first[0],
        title=first[1][0],
        body=first[1][1],
        topics=topics if topics is not None else [staff.health],
        contact=contact,
    ).release_id
    if other[1] is not None:
        svc.edit_version(
            ctx,
            staff.author,
            release_id,
            language=other[0],
            title=other[1][0],
            body=other[1][1],
            base_revision=0,
        )
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    return release_id


def publish(ctx: ServiceContext, staff: Staff, clock: FrozenClock, **texts: object) -> str:
    """Publish a release now, then move the clock on a minute (so that the next one is
    newer); returns its public number."""
    release_id = draft(ctx, staff, **texts)  # type: ignore[arg-type]
    svc.publish_release(ctx, staff.author, release_id)
    clock.advance(minutes=1)
    return number_of(ctx, release_id)


def number_of(ctx: ServiceContext, release_id: int) -> str:
    number = get_release(ctx, release_id).number
    assert number is not None
    return number


def schedule(
    ctx: ServiceContext,
    staff: Staff,
    clock: FrozenClock,
    *,
    in_hours: float,
    embargo_hours: float | None = None,
    **texts: object,
) -> int:
    release_id = draft(ctx, staff, **texts)  # type: ignore[arg-type]
    now = clock.now()
    svc.schedule_release(
        ctx,
        staff.author,
        release_id,
        publish_at=now + timedelta(hours=in_hours),
        embargo_until=now + timedelta(hours=embargo_hours) if embargo_hours else None,
    )
    return release_id


def past_the_public_cache(ctx: ServiceContext, clock: FrozenClock) -> None:
    """Move the clock past the public page cache's bound (``public_cache_seconds``): a
    change made until now (a correction, a withdrawal) shows to the public by then, and is
    promised no sooner (workflow/web/public_cache.py)."""
    clock.advance(seconds=ctx.settings.public_cache_seconds)


def past_the_kept_counts(ctx: ServiceContext, clock: FrozenClock) -> None:
    """Move the clock past the longest a public answer is kept
    (``public_cache_max_age_seconds``): the view counts shown are today's by then."""
    clock.advance(seconds=ctx.settings.public_cache_max_age_seconds)
