"""What anyone may read without signing in: public releases, their live text only.

Nothing embargoed, scheduled, under review or never published is visible here, whether
listed, looked up by number, or guessed: all of it is 404 (see
``queries.public.public_release``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import RedirectResponse

from workflow.api.auth import Context
from workflow.api.errors import responses
from workflow.api.schemas import MAX_ID, PublicPageOut, PublicReleaseOut
from workflow.domain.values import Language
from workflow.services.queries.paging import MAX_PAGE_SIZE
from workflow.services.queries.public import ReleaseReplaced, public_release, public_releases

router = APIRouter(prefix="/api/v1/public", tags=["public"])

ReleaseNumber = Annotated[str, Path(pattern=r"^[0-9]{4}-[0-9]{4,6}$", description="e.g. 2026-0001")]


@router.get(
    "/releases",
    response_model=PublicPageOut,
    responses=responses(422),
    summary="Published releases",
)
def list_public(
    ctx: Context,
    language: Annotated[Language | None, Query(description="Live in this language")] = None,
    topic: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> PublicPageOut:
    result = public_releases(ctx, language=language, topic_id=topic, page=page, per_page=per_page)
    return PublicPageOut.of(result)


@router.get(
    "/releases/{number}",
    response_model=PublicReleaseOut,
    responses={
        301: {"description": "Superseded: Location is the release that replaced it"},
        **responses(404, 410, 422),
    },
    summary="A published release by its number",
)
def get_public(number: ReleaseNumber, ctx: Context) -> PublicReleaseOut | RedirectResponse:
    """The live text in every live language; a withdrawn release shows the withdrawal
    notice without its body; one published in error is gone (410); a superseded one
    leads to the release that replaced it (301)."""
    try:
        return PublicReleaseOut.of(public_release(ctx, number))
    except ReleaseReplaced as replaced:
        return RedirectResponse(f"/api/v1/public/releases/{replaced.by_number}", status_code=301)
