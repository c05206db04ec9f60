"""Random commands through the service layer: every change the database keeps has its
audit entry and its outbox event, written in the same transaction."""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import Staff
from workflow.clock import FrozenClock
from workflow.db.tables import AuditRow, OutboxRow
from workflow.domain.errors import DomainError
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["author", "officer", "approver", "approver_2", "translator"]),
        st.sampled_from(
            [
                "edit",
                "submit",
                "request_changes",
                "approve",
                "reject",
                "reopen",
                "schedule",
                "publish",
                "correct",
                "withdraw",
                "abandon",
                "translate",
            ]
        ),
    ),
    min_size=1,
    max_size=15,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=COMMANDS)
def test_every_change_has_its_audit_entry_and_outbox_event(
    ctx: ServiceContext,
    staff: Staff,
    clock: FrozenClock,
    commands: list[tuple[str, str]],
) -> None:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="제목", body="1. 본문", topics=[staff.health]
    ).release_id
    request_id = svc.request_translation(
        ctx, staff.author, release_id, target_language="en", translator_id=staff.translator
    )
    for who, command in commands:
        clock.advance(minutes=1)
        actor = getattr(staff, who)
        with contextlib.suppress(DomainError):  # refusals are part of the walk
            run(ctx, actor, command, release_id, request_id)
    with ctx.engine.connect() as conn:
        audit_times = Counter(
            conn.scalars(select(AuditRow.at).where(AuditRow.release_id == release_id))
        )
        event_times = Counter(
            conn.scalars(select(OutboxRow.created_at).where(OutboxRow.release_id == release_id))
        )
    assert set(audit_times) == set(event_times), "a change without its event, or the reverse"


def run(ctx: ServiceContext, actor: int, command: str, release_id: int, request_id: int) -> None:
    view = None
    if command in {"edit", "correct", "translate"}:
        from workflow.services.queries.staff_release import get_release

        view = get_release(ctx, release_id)
    if command == "edit":
        assert view is not None
        base = next(iter(view.versions.values())).revision
        svc.edit_version(
            ctx,
            actor,
            release_id,
            language="ko",
            title="수정",
            body="1. 본문 수정",
            base_revision=base,
        )
    elif command == "translate":
        assert view is not None
        en = [v for lang, v in view.versions.items() if lang.value == "en"]
        svc.submit_translation(
            ctx,
            actor,
            request_id,
            title="Title",
            body="1. Body",
            base_revision=en[0].revision if en else 0,
        )
    elif command == "correct":
        assert view is not None
        base = next(iter(view.versions.values())).revision
        svc.correct_release(
            ctx,
            actor,
            release_id,
            language="ko",
            title="정정",
            body="1. 정정",
            note="정정합니다.",
            base_revision=base,
        )
    elif command == "schedule":
        svc.schedule_release(
            ctx, actor, release_id, publish_at=ctx.clock.now() + timedelta(minutes=30)
        )
    elif command in {"request_changes", "reject", "withdraw"}:
        getattr(
            svc,
            {
                "request_changes": "request_changes",
                "reject": "reject_release",
                "withdraw": "withdraw_release",
            }[command],
        )(ctx, actor, release_id, "사유")
    else:
        getattr(svc, f"{command}_release")(ctx, actor, release_id)
