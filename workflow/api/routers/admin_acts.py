"""The audit of administrative acts, for admins: a page of them as JSON, or all that a
filter picks out as CSV (an export that is itself recorded)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from workflow.api.auth import Context, CurrentCaller
from workflow.api.errors import json_responses, responses
from workflow.api.schemas import Day
from workflow.domain.admin_acts import AdminActFilter, AdminActKind
from workflow.services import admin_acts

router = APIRouter(prefix="/api/v1/admin-acts", tags=["admin acts"])

MAX_PAGE_SIZE = 200
# Users' ids, and the system actors' negative ones (the console is -2).
ActorId = Annotated[
    int | None,
    Query(ge=-2, le=2_147_483_647, description="Acts by this actor (the console is -2)"),
]
Kind = Annotated[AdminActKind | None, Query(description="Acts of this kind")]
Since = Annotated[Day | None, Query(description="From this day (office time zone)")]
Until = Annotated[Day | None, Query(description="To this day, inclusive")]


class AdminActOut(BaseModel):
    id: int
    at: datetime
    actor_id: int = Field(description="A user's id; the console is -2")
    actor: str = Field(description="The actor's email (a person's) or name, as it was then")
    actor_roles: list[str]
    kind: str
    target_id: str | None = Field(description="What it was done to, if one thing")
    details: dict[str, Any]
    origin: str = Field(description="The client's address, or cli:<OS user>@<host>")
    request_id: str | None

    @classmethod
    def of(cls, act: admin_acts.AdminActView) -> AdminActOut:
        return cls(
            id=act.id,
            at=act.at,
            actor_id=act.actor_id,
            actor=act.actor,
            actor_roles=[r for r in act.actor_roles.split(",") if r],
            kind=act.kind,
            target_id=act.target_id,
            details=act.details,
            origin=act.origin,
            request_id=act.request_id,
        )


class AdminActPageOut(BaseModel):
    items: list[AdminActOut]
    total: int
    page: int
    per_page: int


@router.get(
    "",
    response_model=AdminActPageOut,
    responses=responses(401, 403, 422),
    summary="Administrative acts, newest first (admins)",
)
def list_admin_acts(
    ctx: Context,
    who: CurrentCaller,
    actor: ActorId = None,
    kind: Kind = None,
    since: Since = None,
    until: Until = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> AdminActPageOut:
    wanted = AdminActFilter.checked(
        actor_id=actor, kind=kind.value if kind else None, since=since, until=until
    )
    found = admin_acts.search_admin_acts(
        ctx, who.user, wanted, offset=(page - 1) * per_page, limit=per_page
    )
    return AdminActPageOut(
        items=[AdminActOut.of(act) for act in found.acts],
        total=found.total,
        page=page,
        per_page=per_page,
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        **json_responses(401, 403, 422),
        200: {"content": {"text/csv": {}}, "description": "The acts, oldest first"},
    },
    summary="Export administrative acts as CSV (admins; the export is recorded)",
)
def export_admin_acts(
    ctx: Context,
    who: CurrentCaller,
    actor: ActorId = None,
    kind: Kind = None,
    since: Since = None,
    until: Until = None,
) -> StreamingResponse:
    wanted = AdminActFilter.checked(
        actor_id=actor, kind=kind.value if kind else None, since=since, until=until
    )
    export = admin_acts.export_admin_acts(ctx, who.user, wanted)
    lines = admin_acts.csv_lines(admin_acts.exported_acts(ctx, export), ctx)
    return StreamingResponse(
        (line.encode("utf-8") for line in lines),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="admin-acts.csv"',
            "Cache-Control": "no-store",
        },
    )
