"""What happens when an event is handled: one registry from event type to its reactions.

For each type of event, read in one place:

- ``notices``: the workflow emails it calls for (``workflow.services.notifications``);
- ``deliveries``: what journalists are sent (``workflow.distribution.rules``);
- ``follow_ups``: tasks to run once it is handled (a timed publication, a machine
  translation draft), named by their Celery task names.

``tasks.events`` consumes every relayed event through ``reactions``; an event type not
listed here is stored and relayed but calls for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from workflow import outbox
from workflow.db.unit_of_work import UnitOfWork
from workflow.distribution import rules
from workflow.distribution.planning import Planned, plan
from workflow.distribution.rules import TellRule
from workflow.domain import events as ev
from workflow.services import notifications as notices
from workflow.services.context import ServiceContext
from workflow.services.notifications import NoticeRule, store_notices


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A task to ask for once the event is handled."""

    task: str
    args: tuple[Any, ...] = ()
    eta: datetime | None = None


FollowUpRule = Callable[[ServiceContext, Any], list[FollowUp]]


def publication_timer(ctx: ServiceContext, event: ev.ReleaseScheduled) -> list[FollowUp]:
    """A publication due soon gets a timed task, which sharpens its timing only: the
    sweep checks again, and publishes once."""
    publish_at = datetime.fromisoformat(event.publish_at)
    if (publish_at - ctx.clock.now()).total_seconds() > ctx.settings.eta_horizon_seconds:
        return []
    return [FollowUp("newsroom.publish_due", eta=publish_at)]


def machine_draft(ctx: ServiceContext, event: ev.TranslationRequested) -> list[FollowUp]:
    """With the machine provider configured, a draft translation to start from."""
    if ctx.settings.translation_provider != "machine":
        return []
    return [FollowUp("newsroom.machine_translate", args=(event.request_id,))]


def photo_renditions(_ctx: ServiceContext, event: ev.AttachmentUploaded) -> list[FollowUp]:
    """A file new to a release: a photo's renditions (a document has none: the task
    finds nothing to do)."""
    return [FollowUp("newsroom.make_renditions", args=(event.attachment_id,))]


@dataclass(frozen=True, slots=True)
class Reactions:
    notices: tuple[NoticeRule, ...] = ()
    deliveries: tuple[TellRule, ...] = ()
    follow_ups: tuple[FollowUpRule, ...] = field(default=())


NONE: Final = Reactions()

REGISTRY: Final[Mapping[type[ev.Event], Reactions]] = {
    ev.ReleaseEdited: Reactions(
        notices=(notices.sent_back_to_review, notices.translation_to_review)
    ),
    ev.ReleaseSubmitted: Reactions(notices=(notices.review_requested,)),
    ev.ChangesRequested: Reactions(notices=(notices.changes_requested,)),
    ev.ReleaseApproved: Reactions(notices=(notices.release_approved,)),
    ev.ReleaseRejected: Reactions(notices=(notices.release_rejected,)),
    ev.ReleaseScheduled: Reactions(deliveries=(rules.scheduled,), follow_ups=(publication_timer,)),
    ev.ReleaseUnscheduled: Reactions(deliveries=(rules.unscheduled,)),
    ev.TranslationPublished: Reactions(deliveries=(rules.translated,)),
    ev.ReleasePublished: Reactions(
        notices=(notices.release_published, notices.release_now_public),
        deliveries=(rules.published,),
    ),
    ev.CorrectionProposed: Reactions(notices=(notices.correction_proposed,)),
    ev.CorrectionPublished: Reactions(
        notices=(notices.original_corrected,), deliveries=(rules.corrected,)
    ),
    ev.ReleaseWithdrawn: Reactions(deliveries=(rules.withdrawn,)),
    ev.ReleaseUnpublished: Reactions(deliveries=(rules.unpublished,)),
    ev.TranslationRequested: Reactions(
        notices=(notices.translation_requested,), follow_ups=(machine_draft,)
    ),
    ev.TranslationSubmitted: Reactions(notices=(notices.translation_submitted,)),
    ev.AttachmentUploaded: Reactions(follow_ups=(photo_renditions,)),
}


def reactions(event: ev.Event) -> Reactions:
    return REGISTRY.get(type(event), NONE)


def follow_ups(ctx: ServiceContext, event: ev.Event) -> list[FollowUp]:
    return [task for follow in reactions(event).follow_ups for task in follow(ctx, event)]


class Dispatch(Protocol):
    """How the consumer asks for the work an event's handling leaves behind."""

    def notices_stored(self) -> None: ...
    def deliveries_planned(self, count: int) -> None: ...
    def follow_up(self, task: FollowUp) -> None: ...


def handle(ctx: ServiceContext, event: ev.Event, dispatch: Dispatch) -> None:
    """Handle one relayed event: its notices, its deliveries, its follow-ups.

    The notices, the deliveries and the mark that the event was handled are one
    transaction, so that the event is handled wholly or not at all (then again). A large
    plan is committed in growing steps, so that sending begins while the rest is planned:
    the event is marked handled with the last step, and handling it again plans only
    what is missing. What was committed is what ``dispatch`` is asked for; were those
    asks lost, the sweeps do the work."""
    found = reactions(event)
    settings = ctx.settings
    step = settings.delivery_batch_size * settings.delivery_parallel_batches
    with ctx.uow() as uow:
        notified = store_notices(ctx, uow.session, event, found.notices)
        planned = _plan_step(ctx, uow, event, found.deliveries, after=0, limit=step)
    if notified:
        dispatch.notices_stored()
    dispatch.deliveries_planned(planned.added)
    while planned.last is not None:
        step *= 4  # each step planned while the one before is sent
        with ctx.uow() as uow:
            planned = _plan_step(ctx, uow, event, found.deliveries, after=planned.last, limit=step)
        dispatch.deliveries_planned(planned.added)
    for task in follow_ups(ctx, event):
        dispatch.follow_up(task)


def _plan_step(
    ctx: ServiceContext,
    uow: UnitOfWork,
    event: ev.Event,
    tell: Sequence[TellRule],
    *,
    after: int,
    limit: int,
) -> Planned:
    """The event's deliveries to the next ``limit`` subscribers after ``after``,
    committed; with the event marked handled if that was the last step."""
    planned = Planned(0)
    if tell and isinstance(event, ev.ReleaseEvent):
        planned = plan(ctx, uow.session, event, tell, after=after, limit=limit)
    if planned.last is None:
        outbox.mark_handled(uow.session, event.event_id, ctx.clock.now())
    uow.commit()
    return planned


def plan_deliveries(ctx: ServiceContext, event: ev.Event) -> int:
    """Plan every delivery ``event`` calls for, in one transaction; how many are new."""
    tell = reactions(event).deliveries
    if not tell or not isinstance(event, ev.ReleaseEvent):
        return 0
    with ctx.uow() as uow:
        added = plan(ctx, uow.session, event, tell).added
        uow.commit()
    return added


def store_event_notices(ctx: ServiceContext, event: ev.Event) -> int:
    """Store the notifications ``event`` calls for, in one transaction; how many are new."""
    with ctx.uow() as uow:
        added = store_notices(ctx, uow.session, event, reactions(event).notices)
        uow.commit()
    return added
