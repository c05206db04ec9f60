"""A release's email, sent to the caller before it goes to anyone else
(``workflow.services.sample_messages``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, status
from pydantic import BaseModel, Field

from workflow.api.auth import Acting, Context
from workflow.api.errors import responses
from workflow.api.schemas import MAX_ID, Input
from workflow.services import sample_messages as svc

router = APIRouter(prefix="/api/v1", tags=["releases"])

ReleaseId = Annotated[int, Path(ge=1, le=MAX_ID)]


class TestEmailIn(Input):
    language: Literal["ko", "en", "both"] | None = Field(
        default=None, description="Which version; the caller's own language by default"
    )


class TestEmailQueued(BaseModel):
    to: str = Field(description="The caller's address, where the copy goes")


@router.post(
    "/releases/{release_id}/test-email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TestEmailQueued,
    responses=responses(400, 401, 403, 404, 409, 413, 422),
    summary="Send me the release's email",
)
async def send_test_email(
    release_id: ReleaseId,
    ctx: Context,
    who: Acting,
    data: Annotated[TestEmailIn | None, Body()] = None,
) -> TestEmailQueued:
    """The email subscribers will get for this release (an embargoed copy while an
    embargo is set), to the caller only, "[TEST]" before its subject. It is not a
    delivery: no report counts it. Press officers, approvers and admins."""
    language = (data or TestEmailIn()).language or ""
    to = await who.act(lambda actor: svc.send_test_email(ctx, actor, release_id, language=language))
    return TestEmailQueued(to=to)
