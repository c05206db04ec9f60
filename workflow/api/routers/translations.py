"""Translation requests: a press officer asks, the assigned translator hands in the text."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, status

from workflow.api.auth import Acting, Context, CurrentCaller
from workflow.api.errors import responses
from workflow.api.schemas import (
    MAX_ID,
    Created,
    OutcomeOut,
    TranslationIn,
    TranslationRequestIn,
    TranslationRequestOut,
)
from workflow.services import releases as svc
from workflow.services.queries.translation_requests import translation_requests_for

router = APIRouter(prefix="/api/v1", tags=["translation"])

Id = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post(
    "/releases/{release_id}/translation-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=Created,
    responses=responses(400, 401, 403, 404, 409, 413, 422),
    summary="Request a translation",
)
def request_translation(
    release_id: Id, data: TranslationRequestIn, ctx: Context, who: CurrentCaller
) -> Created:
    request_id = svc.request_translation(
        ctx,
        who.user.id,
        release_id,
        target_language=data.target_language,
        translator_id=data.translator_id,
        due_at=data.due_at,
    )
    return Created(id=request_id)


@router.get(
    "/translation-requests",
    response_model=list[TranslationRequestOut],
    responses=responses(401, 422),
    summary="My translation requests",
)
def my_requests(
    ctx: Context,
    who: CurrentCaller,
    state: Literal["open", "submitted", "cancelled"] | None = None,
) -> list[TranslationRequestOut]:
    """The requests assigned to the caller, soonest due first."""
    return [
        TranslationRequestOut.model_validate(r, from_attributes=True)
        for r in translation_requests_for(ctx, who.user.id, state=state)
    ]


@router.post(
    "/translation-requests/{request_id}/submit",
    response_model=OutcomeOut,
    responses=responses(400, 401, 403, 404, 409, 413, 422),
    summary="Hand in the translated text",
)
async def submit_translation(
    request_id: Id, data: TranslationIn, ctx: Context, who: Acting
) -> OutcomeOut:
    outcome = await who.act(
        lambda actor: svc.submit_translation(
            ctx,
            actor,
            request_id,
            title=data.title,
            subtitle=data.subtitle,
            body=data.body,
            base_revision=data.base_revision,
        )
    )
    return OutcomeOut.of(outcome)
