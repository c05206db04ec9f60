"""Bounce reports from the mail relay: its webhook's JSON, or a bounce message as it was
received. Admins only (the relay signs in with an admin's personal access token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from workflow.api.auth import Context, CurrentCaller
from workflow.api.errors import responses
from workflow.api.schemas import Input
from workflow.domain.errors import ValidationFailed
from workflow.services import bounces

router = APIRouter(prefix="/api/v1/bounces", tags=["bounces"])

REPORT_TYPES = ("message/rfc822", "multipart/report", "text/plain")


class BounceIn(Input):
    recipient: Annotated[
        str, Field(min_length=3, max_length=320, pattern="@", description="The address")
    ]
    permanent: StrictBool = Field(description="A hard bounce (true) or a temporary failure (false)")
    message_id: Annotated[
        str, Field(max_length=998, description="The original Message-ID, if known")
    ] = ""
    reason: Annotated[str, Field(max_length=1000, description="The remote server's reply")] = ""


class BouncesIn(Input):
    bounces: Annotated[list[BounceIn], Field(min_length=1, max_length=1000)]


class BouncesOut(BaseModel):
    bounced: int = Field(description="Deliveries newly marked bounced")
    already: int = Field(description="Bounces recorded before (a report counts once)")
    temporary: int = Field(description="Temporary failures: nothing changed")
    unknown: int = Field(description="Bounces that match no delivery")

    @classmethod
    def of(cls, report: bounces.BounceReport) -> BouncesOut:
        return cls(
            bounced=report["bounced"],
            already=report["already"],
            temporary=report["temporary"],
            unknown=report["unknown"],
        )


@router.post(
    "",
    response_model=BouncesOut,
    responses=responses(401, 403, 413, 422),
    summary="Report bounces (a relay's webhook)",
)
def report_bounces(data: BouncesIn, ctx: Context, who: CurrentCaller) -> BouncesOut:
    found = [
        bounces.Bounce(b.recipient.strip(), b.permanent, b.message_id.strip(), b.reason)
        for b in data.bounces
    ]
    return BouncesOut.of(bounces.record_as(ctx, who.user.id, found))


@router.post(
    "/message",
    response_model=BouncesOut,
    responses=responses(401, 403, 413, 422),
    summary="Report a bounce message (a DSN, RFC 3464, or a mail server's own format)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in REPORT_TYPES},
        }
    },
)
async def report_bounce_message(request: Request, ctx: Context, who: CurrentCaller) -> BouncesOut:
    await run_in_threadpool(bounces.require_reporter, ctx, who.user.id)
    raw = await request.body()
    found = bounces.from_report(raw)
    if not found:
        raise ValidationFailed("body", "this is not a bounce message that could be read")
    # The database work runs in the thread pool, as for the plain ``def`` endpoints.
    report = await run_in_threadpool(bounces.record_as, ctx, who.user.id, found)
    return BouncesOut.of(report)
