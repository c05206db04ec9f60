"""The rows a command appends (revisions, approvals, audit entries, outbox events) are
sent with its COMMIT (``workflow.db.appended``): committed together with the rest of
its writes or not at all, never lost by a commit that goes another way. On PostgreSQL
this is psycopg's pipeline mode, so the suite's PostgreSQL run is the one that matters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import Staff
from tests.integration.test_release_services import add_english, draft
from workflow.db.appended import append
from workflow.db.tables import AuditRow, OutboxRow, ReleaseRow, RevisionRow
from workflow.domain import events as ev
from workflow.domain.errors import ConcurrentUpdate
from workflow.domain.states import ReleaseState
from workflow.outbox import add_to_outbox
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import audit_trail, get_release


def count(ctx: ServiceContext, model: type[AuditRow] | type[OutboxRow]) -> int:
    with ctx.reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def audit_row(release_id: int, action: str, at: object) -> dict[str, object]:
    return {
        "release_id": release_id,
        "action": action,
        "actor_id": None,
        "actor_roles": "console",
        "from_state": "draft",
        "to_state": "draft",
        "at": at,
    }


def test_a_transition_commits_its_row_and_what_it_appended_together(
    ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff)
    add_english(ctx, staff, release_id)
    outcome = svc.submit_release(ctx, staff.author, release_id)
    assert outcome.state is ReleaseState.IN_REVIEW
    release = get_release(ctx, release_id, staff.author)
    assert {lang.value: v.revision for lang, v in release.versions.items()} == {"ko": 1, "en": 1}
    trail = audit_trail(ctx, release_id)
    assert [a.action for a in trail] == ["create", "edit", "submit"]
    assert trail[-1].details == {} and trail[0].comment == ""  # the columns' defaults


def test_an_append_that_fails_takes_the_whole_transaction_with_it(
    ctx: ServiceContext, staff: Staff
) -> None:
    """A revision number taken a moment earlier fails at the COMMIT's round trip: the
    release's row, the audit entry queued before it and the outbox event after it stay
    as they were, and the caller hears of a lost race."""
    release_id = draft(ctx, staff)
    before = (count(ctx, AuditRow), count(ctx, OutboxRow))
    with ctx.uow() as uow:
        release = uow.releases.get(release_id, for_update=True)
        now = release.created_at + timedelta(minutes=1)
        uow.session.get_one(ReleaseRow, release_id).contact_name = "Someone Else"
        append(uow.session, AuditRow, [audit_row(release_id, "edit", now)])
        taken = {
            "release_id": release_id,
            "language": "ko",
            "number": 1,  # the draft's first revision has it
            "title": "Taken",
            "subtitle": "",
            "body": "1. Taken.",
            "author_id": staff.author,
            "created_at": now,
            "note": "",
        }
        append(uow.session, RevisionRow, [taken])
        add_to_outbox(
            uow.session,
            [
                ev.ReleaseEdited(
                    occurred_at=now.isoformat(),
                    actor_id=staff.author,
                    release_id=release_id,
                    language="ko",
                    revision=1,
                    approvals_voided=0,
                )
            ],
        )
        with pytest.raises(ConcurrentUpdate):
            uow.commit()
    assert (count(ctx, AuditRow), count(ctx, OutboxRow)) == before
    release = get_release(ctx, release_id, staff.author)
    assert release.contact is not None and release.contact["name"] == "Kim Min-ji"


def test_rows_appended_are_sent_by_any_commit_and_forgotten_by_a_rollback(
    ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff)
    with ctx.session_factory() as s:
        at = s.get_one(ReleaseRow, release_id).created_at
        append(s, AuditRow, [audit_row(release_id, "forgotten", at)])
        s.rollback()
        append(s, AuditRow, [audit_row(release_id, "kept", at)])
        s.commit()  # not the unit of work's commit: the session's own hook sends them
    actions = [a.action for a in audit_trail(ctx, release_id)]
    assert actions == ["create", "kept"]
