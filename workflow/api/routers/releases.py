"""Releases for staff: create, list, read, edit, review, publish, and their history.

Each handler translates the request into one service call with the signed-in user as the
actor, and the result into JSON; the service and the domain decide everything else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from workflow.api.auth import Acting, Context, CurrentCaller
from workflow.api.errors import responses
from workflow.api.schemas import (
    MAX_ID,
    ONE_LINE,
    AuditOut,
    CommentIn,
    CommentOut,
    CorrectionIn,
    Created,
    DeliveryFailureOut,
    DeliveryReportOut,
    DetailsUpdate,
    DiffOut,
    NoteIn,
    OutcomeOut,
    ReasonIn,
    ReleaseCreate,
    ReleaseOut,
    ReleasePageOut,
    RevisionOut,
    ScheduleIn,
    SupersedeIn,
    VersionUpdate,
)
from workflow.distribution import reports
from workflow.domain.states import ReleaseState
from workflow.domain.values import Contact, Language
from workflow.services import releases as svc
from workflow.services.queries import staff_lists, staff_release
from workflow.services.queries.paging import MAX_PAGE_SIZE

router = APIRouter(prefix="/api/v1/releases", tags=["releases"])

ReleaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
LanguagePath = Annotated[Language, Path()]
READ = responses(401, 404, 422)
COMMAND = responses(401, 403, 404, 409, 422)
COMMAND_WITH_BODY = responses(400, 401, 403, 404, 409, 413, 422)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OutcomeOut,
    responses=responses(400, 401, 403, 409, 413, 422),
    summary="Start a draft",
)
async def create_release(data: ReleaseCreate, ctx: Context, who: Acting) -> OutcomeOut:
    contact = Contact.checked(**data.contact.model_dump()) if data.contact else None
    outcome = await who.act(
        lambda actor: svc.create_release(
            ctx,
            actor,
            language=data.language,
            title=data.title,
            subtitle=data.subtitle,
            body=data.body,
            topics=data.topics,
            contact=contact,
        )
    )
    return OutcomeOut.of(outcome)


@router.get("", response_model=ReleasePageOut, responses=responses(401, 422), summary="List")
def list_releases(
    ctx: Context,
    who: CurrentCaller,
    state: ReleaseState | None = None,
    topic: Annotated[int | None, Query(ge=1, le=MAX_ID, description="A topic id")] = None,
    author: Annotated[int | None, Query(ge=1, le=MAX_ID, description="A user id")] = None,
    language: Annotated[
        Language | None, Query(description="Releases with a version in this language")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=ONE_LINE, description="Text in a current title or body"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> ReleasePageOut:
    result = staff_lists.list_releases(
        ctx,
        state=state,
        topic_id=topic,
        author_id=author,
        language=language,
        text=q,
        page=page,
        per_page=per_page,
    )
    return ReleasePageOut.of(result)


@router.get(
    "/{release_id}/deliveries",
    response_model=DeliveryReportOut,
    responses=READ,
    summary="Delivery report",
)
def delivery_report(release_id: ReleaseId, ctx: Context, who: CurrentCaller) -> DeliveryReportOut:
    """Emails to journalists by state, in all and per kind of email, how many journalists
    they reached, each failure with its SMTP reply, and how many deliveries may have
    arrived twice (a connection lost after the final dot)."""
    staff_release.require_release(ctx, release_id)
    report = reports.delivery_report(ctx, release_id)
    return DeliveryReportOut(
        counts=report.counts,
        failures=[
            DeliveryFailureOut(address=address, kind=kind, reply=reply)
            for address, kind, reply in report.failures
        ],
        possible_duplicates=report.possible_duplicates,
        by_kind=report.by_kind,
        subscribers=report.subscribers,
        subscribers_reached=report.subscribers_reached,
        folded_at=report.folded_at,
    )


@router.get("/{release_id}", response_model=ReleaseOut, responses=READ, summary="Read")
def get_release(release_id: ReleaseId, ctx: Context, who: CurrentCaller) -> ReleaseOut:
    """Every language version with its current (working) text, and the caller's next
    possible actions."""
    return ReleaseOut.of(staff_release.get_release(ctx, release_id, who.user.id))


@router.patch(
    "/{release_id}",
    response_model=OutcomeOut,
    responses=COMMAND_WITH_BODY,
    summary="Change topics or contact",
)
async def update_details(
    release_id: ReleaseId, data: DetailsUpdate, ctx: Context, who: Acting
) -> OutcomeOut:
    contact = Contact.checked(**data.contact.model_dump()) if data.contact else None
    outcome = await who.act(
        lambda actor: svc.update_details(
            ctx, actor, release_id, topics=data.topics, contact=contact
        )
    )
    return OutcomeOut.of(outcome)


@router.put(
    "/{release_id}/versions/{language}",
    response_model=OutcomeOut,
    responses=COMMAND_WITH_BODY,
    summary="Save a language version",
)
async def edit_version(
    release_id: ReleaseId,
    language: LanguagePath,
    data: VersionUpdate,
    ctx: Context,
    who: Acting,
) -> OutcomeOut:
    """Saves a new revision. A stale ``base_revision`` is refused with 409, naming the
    current revision and who saved it."""
    outcome = await who.act(
        lambda actor: svc.edit_version(
            ctx,
            actor,
            release_id,
            language=language,
            title=data.title,
            subtitle=data.subtitle,
            body=data.body,
            base_revision=data.base_revision,
            note=data.note,
        )
    )
    return OutcomeOut.of(outcome)


@router.get(
    "/{release_id}/versions/{language}/revisions",
    response_model=list[RevisionOut],
    responses=READ,
    summary="Revisions of a language version",
)
def list_revisions(
    release_id: ReleaseId, language: LanguagePath, ctx: Context, who: CurrentCaller
) -> list[RevisionOut]:
    staff_release.require_release(ctx, release_id)
    return [RevisionOut.of(r) for r in staff_release.revisions(ctx, release_id, language)]


@router.get(
    "/{release_id}/versions/{language}/diff",
    response_model=DiffOut,
    responses=READ,
    summary="Diff between two revisions",
)
def diff(
    release_id: ReleaseId,
    language: LanguagePath,
    ctx: Context,
    who: CurrentCaller,
    from_revision: Annotated[int, Query(alias="from", ge=1, le=MAX_ID)],
    to_revision: Annotated[int, Query(alias="to", ge=1, le=MAX_ID)],
) -> DiffOut:
    text = staff_release.revision_diff(ctx, release_id, language, from_revision, to_revision)
    return DiffOut(
        language=language, from_revision=from_revision, to_revision=to_revision, diff=text
    )


@router.get(
    "/{release_id}/comments", response_model=list[CommentOut], responses=READ, summary="Comments"
)
def list_comments(release_id: ReleaseId, ctx: Context, who: CurrentCaller) -> list[CommentOut]:
    staff_release.require_release(ctx, release_id)
    return [
        CommentOut(id=c.id, author=c.author, body=c.body, created_at=c.created_at, kind=c.kind)
        for c in staff_release.comments(ctx, release_id)
    ]


@router.post(
    "/{release_id}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=Created,
    responses=COMMAND_WITH_BODY,
    summary="Add a comment",
)
def add_comment(release_id: ReleaseId, data: NoteIn, ctx: Context, who: CurrentCaller) -> Created:
    return Created(id=svc.add_comment(ctx, who.user.id, release_id, data.body))


@router.get(
    "/{release_id}/audit", response_model=list[AuditOut], responses=READ, summary="Audit trail"
)
def audit_trail(release_id: ReleaseId, ctx: Context, who: CurrentCaller) -> list[AuditOut]:
    staff_release.require_release(ctx, release_id)
    return [
        AuditOut.model_validate(a, from_attributes=True)
        for a in staff_release.audit_trail(ctx, release_id)
    ]


# --- transitions: each answers with the new state and the caller's next actions ----------


@router.post("/{release_id}/submit", response_model=OutcomeOut, responses=COMMAND)
async def submit(release_id: ReleaseId, ctx: Context, who: Acting) -> OutcomeOut:
    """Send a draft (or a release with changes requested) for review."""
    return OutcomeOut.of(await who.act(lambda actor: svc.submit_release(ctx, actor, release_id)))


@router.post(
    "/{release_id}/request-changes", response_model=OutcomeOut, responses=COMMAND_WITH_BODY
)
async def request_changes(
    release_id: ReleaseId, data: CommentIn, ctx: Context, who: Acting
) -> OutcomeOut:
    return OutcomeOut.of(
        await who.act(lambda actor: svc.request_changes(ctx, actor, release_id, data.comment))
    )


@router.post("/{release_id}/approve", response_model=OutcomeOut, responses=COMMAND)
async def approve(release_id: ReleaseId, ctx: Context, who: Acting) -> OutcomeOut:
    """One approval; the release moves on once the required number of distinct approvers
    (none of them an author or editor of the text) have approved."""
    return OutcomeOut.of(await who.act(lambda actor: svc.approve_release(ctx, actor, release_id)))


@router.post("/{release_id}/reject", response_model=OutcomeOut, responses=COMMAND_WITH_BODY)
async def reject(release_id: ReleaseId, data: CommentIn, ctx: Context, who: Acting) -> OutcomeOut:
    return OutcomeOut.of(
        await who.act(lambda actor: svc.reject_release(ctx, actor, release_id, data.comment))
    )


@router.post("/{release_id}/schedule", response_model=OutcomeOut, responses=COMMAND_WITH_BODY)
async def schedule(
    release_id: ReleaseId, data: ScheduleIn, ctx: Context, who: Acting
) -> OutcomeOut:
    outcome = await who.act(
        lambda actor: svc.schedule_release(
            ctx, actor, release_id, publish_at=data.publish_at, embargo_until=data.embargo_until
        )
    )
    return OutcomeOut.of(outcome)


@router.post("/{release_id}/unschedule", response_model=OutcomeOut, responses=COMMAND)
async def unschedule(release_id: ReleaseId, ctx: Context, who: Acting) -> OutcomeOut:
    return OutcomeOut.of(
        await who.act(lambda actor: svc.unschedule_release(ctx, actor, release_id))
    )


@router.post("/{release_id}/publish", response_model=OutcomeOut, responses=COMMAND)
async def publish(release_id: ReleaseId, ctx: Context, who: Acting) -> OutcomeOut:
    """Publish an approved release now (scheduled ones are published by the scheduler)."""
    return OutcomeOut.of(await who.act(lambda actor: svc.publish_release(ctx, actor, release_id)))


@router.post("/{release_id}/correct", response_model=OutcomeOut, responses=COMMAND_WITH_BODY)
async def correct(
    release_id: ReleaseId, data: CorrectionIn, ctx: Context, who: Acting
) -> OutcomeOut:
    """Propose corrected text for a published release, with a public note; the live text
    stays until an approver accepts the correction."""
    outcome = await who.act(
        lambda actor: svc.correct_release(
            ctx,
            actor,
            release_id,
            language=data.language,
            title=data.title,
            subtitle=data.subtitle,
            body=data.body,
            note=data.note,
            base_revision=data.base_revision,
            change=data.change,
        )
    )
    return OutcomeOut.of(outcome)


@router.post("/{release_id}/withdraw", response_model=OutcomeOut, responses=COMMAND_WITH_BODY)
async def withdraw(release_id: ReleaseId, data: ReasonIn, ctx: Context, who: Acting) -> OutcomeOut:
    return OutcomeOut.of(
        await who.act(lambda actor: svc.withdraw_release(ctx, actor, release_id, data.reason))
    )


@router.post("/{release_id}/unpublish", response_model=OutcomeOut, responses=COMMAND_WITH_BODY)
async def unpublish(release_id: ReleaseId, data: ReasonIn, ctx: Context, who: Acting) -> OutcomeOut:
    """Published in error: the release leaves every list and feed, its page answers 410,
    and those who were sent it are asked to disregard it."""
    return OutcomeOut.of(
        await who.act(lambda actor: svc.unpublish_release(ctx, actor, release_id, data.reason))
    )


@router.post("/{release_id}/supersede", response_model=OutcomeOut, responses=COMMAND_WITH_BODY)
async def supersede(
    release_id: ReleaseId, data: SupersedeIn, ctx: Context, who: Acting
) -> OutcomeOut:
    """Replaced by the published release ``by``: this one's page leads there (301)."""
    return OutcomeOut.of(
        await who.act(lambda actor: svc.supersede_release(ctx, actor, release_id, data.by))
    )


@router.post("/{release_id}/abandon", response_model=OutcomeOut, responses=COMMAND)
async def abandon(release_id: ReleaseId, ctx: Context, who: Acting) -> OutcomeOut:
    return OutcomeOut.of(await who.act(lambda actor: svc.abandon_release(ctx, actor, release_id)))


@router.post("/{release_id}/reopen", response_model=OutcomeOut, responses=COMMAND)
async def reopen(release_id: ReleaseId, ctx: Context, who: Acting) -> OutcomeOut:
    return OutcomeOut.of(await who.act(lambda actor: svc.reopen_release(ctx, actor, release_id)))
