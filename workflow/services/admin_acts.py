"""The audit of administrative acts: recording each act with the change it records, and
reading the record back for admins, on the administration page, through the API or as
a CSV file.

``record_admin_act`` is the one way in. Every service function that makes an
administrative change calls it inside its own unit of work, before ``commit``: the entry
is appended to that transaction (``workflow.db.appended``), so it exists if and only if
the change was committed, whoever asked (the web pages, the API or the ``newsroom``
command). Where the act came from is read from ``workflow.origin``, which each entry
point sets. Nothing here, nor anywhere else, updates or deletes an entry; triggers refuse
it in the database too, and retention leaves the table alone.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TextIO

from sqlalchemy import ColumnElement, func, select

from workflow.db.appended import append
from workflow.db.tables import AdminActRow
from workflow.db.unit_of_work import UnitOfWork
from workflow.domain.admin_acts import AdminActFilter, AdminActKind
from workflow.domain.errors import ValidationFailed
from workflow.domain.release_core import role_values
from workflow.domain.users import User
from workflow.logs import current_request_id
from workflow.origin import current_origin
from workflow.services.context import Actor, ServiceContext, resolve_actor
from workflow.spreadsheet_cells import safe_cell

MAX_PAGE_SIZE: Final = 500
# Rows read per query while an export streams.
EXPORT_BATCH: Final = 1_000
CSV_COLUMNS: Final = (
    "id",
    "at",
    "actor_id",
    "actor",
    "actor_roles",
    "kind",
    "target_id",
    "details",
    "origin",
    "request_id",
)

JsonValue = str | int | float | bool | None | list[Any] | dict[str, Any]


def record_admin_act(
    uow: UnitOfWork,
    actor: User,
    kind: AdminActKind,
    *,
    at: datetime,
    target_id: int | str | None = None,
    details: Mapping[str, JsonValue] | None = None,
) -> None:
    """Record that ``actor`` did ``kind`` (to ``target_id``, if it was one thing) at
    ``at``, in ``uow``'s transaction: the entry commits with the change or not at all.

    ``details`` says what was done, in JSON-safe values: enough to read the act without
    the rows it changed (an email, a name, roles before and after, counts), never a
    secret (no password, no token) and never a subscriber's address (subscribers are
    named by id: their addresses are reduced to keyed hashes by retention, and this
    record is kept). The origin (client address, or ``cli:<user>@<host>``) and the
    request id come from the context of the work in hand.
    """
    append(
        uow.session,
        AdminActRow,
        [
            {
                "at": at,
                "actor_id": actor.id,
                "actor": actor.email or actor.name,
                "actor_roles": ",".join(role_values(actor)),
                "kind": kind.value,
                "target_id": None if target_id is None else str(target_id),
                "details": dict(details or {}),
                "origin": current_origin() or "",
                "request_id": current_request_id(),
            }
        ],
    )


@dataclass(frozen=True, slots=True)
class AdminActView:
    id: int
    at: datetime
    actor_id: int
    actor: str
    actor_roles: str
    kind: str
    target_id: str | None
    details: dict[str, Any]
    origin: str
    request_id: str | None


@dataclass(frozen=True, slots=True)
class AdminActPage:
    acts: list[AdminActView]
    total: int  # how many match, on every page


def _view(row: AdminActRow) -> AdminActView:
    return AdminActView(
        id=row.id,
        at=row.at,
        actor_id=row.actor_id,
        actor=row.actor,
        actor_roles=row.actor_roles,
        kind=row.kind,
        target_id=row.target_id,
        details=dict(row.details or {}),
        origin=row.origin,
        request_id=row.request_id,
    )


def _conditions(ctx: ServiceContext, wanted: AdminActFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.actor_id is not None:
        conditions.append(AdminActRow.actor_id == wanted.actor_id)
    if wanted.kind is not None:
        conditions.append(AdminActRow.kind == wanted.kind.value)
    start, end = wanted.window(ctx.settings.office_zone)
    if start is not None:
        conditions.append(AdminActRow.at >= start)
    if end is not None:
        conditions.append(AdminActRow.at < end)
    return conditions


def _require_admin(uow: UnitOfWork, who: Actor) -> User:
    actor = resolve_actor(uow, who)
    actor.require_admin("see the audit of administrative acts")
    return actor


def search_admin_acts(
    ctx: ServiceContext,
    who: Actor,
    wanted: AdminActFilter,
    *,
    offset: int = 0,
    limit: int = 50,
) -> AdminActPage:
    """One page of the acts ``wanted`` picks out, newest first: admins only."""
    if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
        raise ValidationFailed(
            "page", "offset from 0, limit from 1 to %(most)s", most=MAX_PAGE_SIZE
        )
    conditions = _conditions(ctx, wanted)
    with ctx.uow() as uow:
        _require_admin(uow, who)
        total = uow.session.scalar(select(func.count()).select_from(AdminActRow).where(*conditions))
        rows = uow.session.scalars(
            select(AdminActRow)
            .where(*conditions)
            .order_by(AdminActRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return AdminActPage([_view(row) for row in rows], int(total or 0))


def admin_act_actors(ctx: ServiceContext, who: Actor) -> list[tuple[int, str]]:
    """Everyone who has acted, as (actor id, the name they acted under last), by name:
    the choices of the actor filter."""
    with ctx.uow() as uow:
        _require_admin(uow, who)
        last = (
            select(AdminActRow.actor_id, func.max(AdminActRow.id).label("last_id"))
            .group_by(AdminActRow.actor_id)
            .subquery()
        )
        found = uow.session.execute(
            select(AdminActRow.actor_id, AdminActRow.actor).join(
                last, AdminActRow.id == last.c.last_id
            )
        )
        return sorted(((row.actor_id, row.actor) for row in found), key=lambda a: a[1])


@dataclass(frozen=True, slots=True)
class AdminActExport:
    """An export of the acts ``wanted`` picks out, as recorded: every one up to
    ``last_id``, the last act before the export's own entry. The table is append-only,
    so reading them afterwards, in batches, gives exactly what was there."""

    wanted: AdminActFilter
    last_id: int
    rows: int


def export_admin_acts(ctx: ServiceContext, who: Actor, wanted: AdminActFilter) -> AdminActExport:
    """Record that ``who`` exports the acts ``wanted`` picks out (itself an act), and say
    which: read them with ``exported_acts``. Admins only."""
    conditions = _conditions(ctx, wanted)
    with ctx.uow() as uow:
        actor = _require_admin(uow, who)
        last_id = uow.session.scalar(select(func.max(AdminActRow.id))) or 0
        rows = uow.session.scalar(
            select(func.count())
            .select_from(AdminActRow)
            .where(*conditions, AdminActRow.id <= last_id)
        )
        export = AdminActExport(wanted, last_id, int(rows or 0))
        record_admin_act(
            uow,
            actor,
            AdminActKind.ADMIN_ACTS_EXPORTED,
            at=ctx.clock.now(),
            details={**wanted.as_details(), "rows": export.rows},
        )
        uow.commit()
    return export


def exported_acts(ctx: ServiceContext, export: AdminActExport) -> Iterator[AdminActView]:
    """The acts of ``export``, oldest first, read a batch at a time."""
    conditions = _conditions(ctx, export.wanted)
    after = 0
    while True:
        with ctx.reading() as session:
            batch = [
                _view(row)
                for row in session.scalars(
                    select(AdminActRow)
                    .where(*conditions, AdminActRow.id > after, AdminActRow.id <= export.last_id)
                    .order_by(AdminActRow.id)
                    .limit(EXPORT_BATCH)
                )
            ]
        yield from batch
        if len(batch) < EXPORT_BATCH:
            return
        after = batch[-1].id


def csv_lines(acts: Iterable[AdminActView], ctx: ServiceContext) -> Iterator[str]:
    """The acts as CSV, a header then one line each (times in the office's zone, with
    their offset; details as JSON), every cell safe to open in a spreadsheet."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)

    def line(cells: Iterable[object]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(CSV_COLUMNS)
    zone = ctx.settings.office_zone
    for act in acts:
        yield line(
            [
                act.id,
                act.at.astimezone(zone).isoformat(),
                act.actor_id,
                safe_cell(act.actor),
                act.actor_roles,
                act.kind,
                act.target_id or "",
                safe_cell(json.dumps(act.details, ensure_ascii=False, sort_keys=True)),
                safe_cell(act.origin),
                act.request_id or "",
            ]
        )


def write_csv(acts: Iterable[AdminActView], ctx: ServiceContext, stream: TextIO) -> int:
    """Write ``csv_lines`` to ``stream``; returns the acts written."""
    count = -1
    for count, text in enumerate(csv_lines(acts, ctx)):  # noqa: B007  # the last count
        stream.write(text)
    return count
