"""Two people acting on one release at the same moment: one wins, the other is told."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import update

from tests.conftest import Staff
from tests.integration.test_release_services import BODY_KO, approved, draft
from workflow.db.tables import UserRow
from workflow.domain.errors import (
    ConcurrentUpdate,
    Conflict,
    DomainError,
    PermissionDenied,
    StaleEdit,
)
from workflow.domain.states import ReleaseState
from workflow.domain.users import CONSOLE
from workflow.services import accounts, people
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import audit_trail, get_release, revisions


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same instant in threads; each result or the error it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        barrier.wait()
        try:
            return call()
        except DomainError as error:
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_approvers_at_once_approve_once(ctx: ServiceContext, staff: Staff) -> None:
    for _ in range(5):
        release_id = draft(ctx, staff)
        svc.submit_release(ctx, staff.author, release_id)
        results = race(
            *(
                (lambda who=who, r=release_id: svc.approve_release(ctx, who, r))
                for who in (staff.approver, staff.approver_2)
            )
        )
        errors = [r for r in results if isinstance(r, DomainError)]
        assert len(errors) == 1, results
        assert get_release(ctx, release_id).state is ReleaseState.APPROVED
        trail = audit_trail(ctx, release_id)
        assert [a.action for a in trail].count("approve") == 1


def test_two_editors_saving_the_same_revision(ctx: ServiceContext, staff: Staff) -> None:
    for _ in range(5):
        release_id = draft(ctx, staff)
        results = race(
            *(
                (
                    lambda who=who, r=release_id: svc.edit_version(
                        ctx,
                        who,
                        r,
                        language="ko",
                        title=f"제목 {who}",
                        body=BODY_KO,
                        base_revision=1,
                    )
                )
                for who in (staff.author, staff.officer)
            )
        )
        errors = [r for r in results if isinstance(r, DomainError)]
        assert len(errors) == 1 and isinstance(errors[0], StaleEdit | ConcurrentUpdate), results
        history = revisions(ctx, release_id, "ko")
        assert [r.number for r in history] == [1, 2]
        trail = audit_trail(ctx, release_id)
        assert [a.action for a in trail] == ["create", "edit"]


def test_parallel_publications_get_distinct_consecutive_numbers(
    ctx: ServiceContext, staff: Staff
) -> None:
    ids = [approved(ctx, staff, f"보도자료 {i}") for i in range(8)]
    race(*((lambda r=r: svc.publish_release(ctx, staff.author, r)) for r in ids))
    numbers = sorted(get_release(ctx, r).number or "" for r in ids)
    assert numbers == [f"2026-{i:04d}" for i in range(1, 9)]


@pytest.mark.postgres
def test_an_unlocked_stale_write_is_refused_by_the_row_version(
    ctx: ServiceContext, staff: Staff
) -> None:
    """Even a writer that skipped the row lock cannot overwrite: its UPDATE finds a newer
    row_version and the whole transaction rolls back."""
    release_id = draft(ctx, staff)
    with ctx.uow() as first, ctx.uow() as second:
        a = first.releases.get(release_id)
        b = second.releases.get(release_id)
        author = first.users.get(staff.author)
        a.submit(author, ctx.clock.now())
        first.releases.save(a)
        first.commit()
        b.abandon(second.users.get(staff.author), ctx.clock.now())
        second.releases.save(b)
        with pytest.raises(ConcurrentUpdate):
            second.commit()
    assert get_release(ctx, release_id).state is ReleaseState.IN_REVIEW
    assert [a.action for a in audit_trail(ctx, release_id)] == ["create", "submit"]


def test_two_admins_removing_each_other_at_once_leave_one(
    ctx: ServiceContext, staff: Staff
) -> None:
    for round_ in range(5):
        deputy = people.add_user(
            ctx,
            staff.admin,
            email=f"deputy{round_}@newsroom.example",
            name="Deputy",
            roles=["admin"],
        )
        results = race(
            lambda d=deputy: people.deactivate_user(ctx, d, staff.admin),
            lambda d=deputy: people.deactivate_user(ctx, staff.admin, d),
        )
        # The loser is refused either as the last admin or, if the other went first, as
        # an account already deactivated.
        refused = [r for r in results if isinstance(r, Conflict | PermissionDenied)]
        assert len(refused) == 1, results
        admins = [u for u in people.list_users(ctx, CONSOLE.id) if "admin" in u.roles and u.active]
        assert len(admins) == 1
        # Put the office back as it was for the next round.
        people.set_roles(ctx, CONSOLE.id, staff.admin, ["admin"])
        with ctx.uow() as uow:
            uow.users.set_active(staff.admin, True)
            uow.commit()
        people.deactivate_user(ctx, staff.admin, deputy)


def test_a_signed_in_request_is_looked_up_while_a_command_holds_the_write_lock(
    ctx: ServiceContext, staff: Staff
) -> None:
    """The caller's lookup is one statement outside any transaction (``ctx.reading``):
    on SQLite it does not queue behind a command for the database's write lock."""
    token = accounts.create_token(ctx, staff.author, "laptop").token
    accounts.token_user(ctx, token)  # its first use is written down, a minute holds
    with ctx.uow() as uow, ThreadPoolExecutor(1) as pool:
        uow.session.execute(update(UserRow).where(UserRow.id == staff.admin).values(name="Busy"))
        uow.flush()  # the write lock is held until this block ends
        user = pool.submit(accounts.token_user, ctx, token).result(timeout=5)
    assert user is not None and user.id == staff.author
