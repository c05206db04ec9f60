"""Preview links: a release not yet public, shown read-only to someone outside the office
through a signed, expiring, revocable address (``workflow.services.preview_links``).

Press officers and approvers make, list and revoke them; everyone else is refused (403),
since a link's address is all it takes to read the draft.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, status
from pydantic import BaseModel, Field

from workflow.api.auth import Acting, Context, CurrentCaller
from workflow.api.errors import responses
from workflow.api.schemas import JSON_NUMBER, MAX_ID, Input
from workflow.services import preview_links as svc

router = APIRouter(prefix="/api/v1", tags=["preview links"])

ReleaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
LinkId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


class PreviewLinkIn(Input):
    expires_in_days: Annotated[
        int,
        Field(ge=1, le=svc.MAX_DAYS, description="How long the link opens, in days"),
        JSON_NUMBER,
    ] = svc.DEFAULT_DAYS


class PreviewLinkCreated(BaseModel):
    id: str
    url: str = Field(description="The address to hand out; it opens without signing in")
    expires_at: datetime


class PreviewLinkOut(BaseModel):
    id: str
    url: str
    created_by: str = Field(description="The name of who made it")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_opened_at: datetime | None
    open_count: int
    status: svc.LinkStatus = Field(
        description="`ended`: the release was published, withdrawn, abandoned or rejected"
    )


@router.post(
    "/releases/{release_id}/preview-links",
    status_code=status.HTTP_201_CREATED,
    response_model=PreviewLinkCreated,
    responses=responses(400, 401, 403, 404, 409, 413, 422),
    summary="Make a preview link",
)
async def create_preview_link(
    release_id: ReleaseId,
    ctx: Context,
    who: Acting,
    data: Annotated[PreviewLinkIn | None, Body()] = None,
) -> PreviewLinkCreated:
    """A signed address that shows the release's current text, read-only and marked as
    a draft, to anyone who has it, until it expires (7 days unless ``expires_in_days``
    says otherwise, 30 at most) or is revoked; publication or withdrawal ends it too.
    Only for a release in draft, in review, with changes requested, approved or
    scheduled (409 otherwise)."""
    days = (data or PreviewLinkIn()).expires_in_days
    issued = await who.act(
        lambda actor: svc.create_preview_link(ctx, actor, release_id, expires_in_days=days)
    )
    return PreviewLinkCreated(id=issued.id, url=issued.url, expires_at=issued.expires_at)


@router.get(
    "/releases/{release_id}/preview-links",
    response_model=list[PreviewLinkOut],
    responses=responses(401, 403, 404, 422),
    summary="Preview links of a release",
)
def list_preview_links(
    release_id: ReleaseId, ctx: Context, who: CurrentCaller
) -> list[PreviewLinkOut]:
    """Every link made for the release, newest first, with how often and when it was
    last opened."""
    return [
        PreviewLinkOut(
            id=link.id,
            url=link.url,
            created_by=link.created_by,
            created_at=link.created_at,
            expires_at=link.expires_at,
            revoked_at=link.revoked_at,
            last_opened_at=link.last_opened_at,
            open_count=link.open_count,
            status=link.status,
        )
        for link in svc.preview_links(ctx, who.user, release_id)
    ]


@router.delete(
    "/preview-links/{link_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(401, 403, 404, 422),
    summary="Revoke a preview link",
)
async def revoke_preview_link(link_id: LinkId, ctx: Context, who: Acting) -> Response:
    """The link opens no more (410 from then on). Revoking a link already revoked
    succeeds again and changes nothing."""
    await who.act(lambda actor: svc.revoke_preview_link(ctx, actor, link_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
