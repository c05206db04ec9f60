"""The audit of administrative acts on a real database (SQLite, and PostgreSQL when
configured): each act is recorded once, with the change and only with it, from where it
came; the record is append-only down to the database; admins read it back."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import Staff
from workflow.clock import FrozenClock
from workflow.db.tables import AdminActRow, UserRow
from workflow.domain.admin_acts import AdminActFilter, AdminActKind
from workflow.domain.errors import ConcurrentUpdate, Conflict, PermissionDenied
from workflow.domain.users import CONSOLE
from workflow.openid_connect import Identity
from workflow.origin import acting_from
from workflow.services import (
    accounts,
    admin_acts,
    people,
    single_sign_on,
    subscriber_lists,
    subscribers,
    two_factor,
)
from workflow.services.context import ServiceContext

K = AdminActKind
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_password_hashing: None) -> None:
    """Passwords are set and checked here: Argon2 at its smallest cost."""


def acts(ctx: ServiceContext) -> list[AdminActRow]:
    with ctx.uow() as uow:
        rows = list(uow.session.scalars(select(AdminActRow).order_by(AdminActRow.id)))
        uow.session.expunge_all()
        return rows


def count(ctx: ServiceContext) -> int:
    with ctx.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AdminActRow)) or 0


def last(ctx: ServiceContext) -> AdminActRow:
    return acts(ctx)[-1]


def shape(row: AdminActRow) -> tuple[Any, ...]:
    return (row.actor_id, row.actor, row.kind, row.target_id, row.details, row.origin)


def test_every_administrative_command_records_one_act_from_where_it_came(
    ctx: ServiceContext, staff: Staff
) -> None:
    admin, origin = staff.admin, "203.0.113.9"
    email = "admin@newsroom.example"
    with acting_from(origin):
        kim = people.add_user(
            ctx, admin, email="Kim@Newsroom.example", name="Kim", roles=["translator"]
        )
        assert shape(last(ctx)) == (
            admin,
            email,
            "user.added",
            str(kim),
            {
                "email": "kim@newsroom.example",
                "name": "Kim",
                "roles": ["translator"],
                "language": "ko",
                "with_password": False,
            },
            origin,
        )
        assert last(ctx).actor_roles == "admin"
        people.set_roles(ctx, admin, kim, ["translator", "approver"])
        assert shape(last(ctx))[2:5] == (
            "user.roles_set",
            str(kim),
            {
                "email": "kim@newsroom.example",
                "before": ["translator"],
                "after": ["approver", "translator"],
            },
        )
        accounts.set_password(ctx, admin, kim, PASSWORD)
        assert last(ctx).kind == "user.password_set"
        token = accounts.create_token(ctx, kim, "laptop")
        created = last(ctx)
        assert (created.actor_id, created.kind, created.target_id) == (
            kim,
            "token.created",
            str(token.id),
        )
        assert created.details == {"name": "laptop", "expires_at": token.expires_at.isoformat()}
        accounts.revoke_token(ctx, kim, token.id)
        accounts.revoke_token(ctx, kim, token.id)  # harmless, and recorded once
        assert [a.kind for a in acts(ctx)[-2:]] == ["token.created", "token.revoked"]
        accounts.change_own_password(ctx, kim, PASSWORD, "another horse battery")
        assert shape(last(ctx))[:5] == (
            kim,
            "kim@newsroom.example",
            "user.password_changed",
            str(kim),
            {"sessions_ended": 0, "tokens_revoked": 0},
        )
        accounts.create_token(ctx, kim, "phone")
        people.deactivate_user(ctx, admin, kim)
        assert last(ctx).details == {
            "email": "kim@newsroom.example",
            "was_active": True,
            "sessions_ended": 0,
            "tokens_revoked": 1,
        }
        topic = people.add_topic(ctx, admin, "Trade")
        assert shape(last(ctx))[2:5] == ("topic.added", str(topic), {"name": "Trade"})

        subscribers.subscribe(ctx, "lee@wire.example", "", [staff.health], "ko")
        lee = subscribers.find_subscriber(ctx, admin, "lee@wire.example").id
        subscribers.confirm(ctx, _confirm_token(ctx, lee))
        subscribers.suspend(ctx, admin, lee)
        subscribers.unsuspend(ctx, admin, lee)
        subscribers.set_embargo_trusted(ctx, admin, lee, True)
        subscribers.set_embargo_trusted(ctx, admin, lee, True)  # no change: no act
        subscribers.set_embargo_trusted(ctx, admin, lee, False)
        subscriber_acts = acts(ctx)[-4:]
        assert [(a.kind, a.target_id) for a in subscriber_acts] == [
            ("subscriber.suspended", str(lee)),
            ("subscriber.unsuspended", str(lee)),
            ("subscriber.trusted", str(lee)),
            ("subscriber.untrusted", str(lee)),
        ]
        # Subscribers by id only: retention turns their addresses into keyed hashes.
        assert all("lee@" not in str(a.details) for a in subscriber_acts)

        lines = subscriber_lists.read_csv(
            io.StringIO(
                "email,name,language,topics\n"
                "park@tv.example,Park,ko,Global Health\n"
                "lee@wire.example,Lee,ko,Global Health\n"
            )
        )
        subscriber_lists.import_subscribers(ctx, admin, lines)
        assert shape(last(ctx))[2:5] == (
            "subscribers.imported",
            None,
            {"lines": 2, "added": 1, "kept": 1, "rejected": 0, "skip_invalid": False},
        )
        assert len(subscriber_lists.export_subscribers(ctx, admin)) == 2
        assert shape(last(ctx))[2:5] == ("subscribers.exported", None, {"rows": 2})
    assert {a.origin for a in acts(ctx) if a.actor_id == admin} == {origin}


def _confirm_token(ctx: ServiceContext, subscriber_id: int) -> str:
    link = subscribers.links_for(ctx, subscriber_id)["confirm"]
    return link.split("token=", 1)[1]


def test_a_set_of_roles_that_changes_nothing_records_nothing(
    ctx: ServiceContext, staff: Staff
) -> None:
    before = count(ctx)
    people.set_roles(ctx, staff.admin, staff.translator, ["translator"])
    assert count(ctx) == before


def test_a_refused_act_is_not_recorded(ctx: ServiceContext, staff: Staff) -> None:
    before = count(ctx)
    with pytest.raises(PermissionDenied):
        people.add_topic(ctx, staff.officer, "Trade")
    with pytest.raises(Conflict):
        people.add_topic(ctx, staff.admin, "Global Health")
    with pytest.raises(PermissionDenied):
        subscriber_lists.export_subscribers(ctx, staff.officer)
    lines = subscriber_lists.read_csv(io.StringIO("email,name,language,topics\nbad,,ko,Nope\n"))
    assert not subscriber_lists.import_subscribers(ctx, staff.admin, lines).imported
    assert count(ctx) == before


@pytest.fixture
def refuse_recording(ctx: ServiceContext) -> Iterator[None]:
    """A trigger that makes every new administrative act fail, then takes it away."""
    postgres = ctx.engine.dialect.name == "postgresql"
    with ctx.engine.begin() as connection:
        if postgres:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_act() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'no act today'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_act BEFORE INSERT ON admin_acts "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_act()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_act BEFORE INSERT ON admin_acts "
                    "BEGIN SELECT RAISE(ABORT, 'no act today'); END"
                )
            )
    yield
    with ctx.engine.begin() as connection:
        if postgres:
            connection.execute(text("DROP TRIGGER refuse_act ON admin_acts"))
            connection.execute(text("DROP FUNCTION refuse_act()"))
        else:
            connection.execute(text("DROP TRIGGER refuse_act"))


def test_an_act_that_cannot_be_recorded_is_not_made(
    ctx: ServiceContext, staff: Staff, refuse_recording: None
) -> None:
    """The record and the change are one transaction: no change goes unrecorded."""
    with pytest.raises((DBAPIError, ConcurrentUpdate)):
        people.add_user(ctx, staff.admin, email="new@newsroom.example", name="N", roles=["admin"])
    with pytest.raises((DBAPIError, ConcurrentUpdate)):
        people.deactivate_user(ctx, staff.admin, staff.translator)
    with pytest.raises((DBAPIError, ConcurrentUpdate)):
        accounts.create_token(ctx, staff.author, "laptop")
    with ctx.uow() as uow:
        emails = uow.session.scalars(select(UserRow.email).where(UserRow.active.is_(True)))
        assert "new@newsroom.example" not in set(emails)
    assert people.get_user(ctx, staff.admin, staff.translator).active
    assert accounts.list_tokens(ctx, staff.author) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE admin_acts SET actor = 'someone else'",
        "DELETE FROM admin_acts",
        "DELETE FROM admin_acts WHERE id < 0",
    ],
)
def test_the_database_refuses_to_change_or_delete_an_act(
    ctx: ServiceContext, staff: Staff, statement: str
) -> None:
    if "id < 0" in statement and ctx.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's triggers run per row: a statement that matches none changes none")
    before = [shape(a) for a in acts(ctx)]
    assert before
    with (
        pytest.raises(DBAPIError, match="admin_acts is append-only"),
        ctx.engine.begin() as connection,
    ):
        connection.execute(text(statement))
    assert [shape(a) for a in acts(ctx)] == before


def test_admins_find_acts_by_actor_kind_and_day_page_by_page(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    first_day = clock.now().astimezone(ctx.settings.office_zone).date()
    for n in range(5):
        people.add_topic(ctx, staff.admin, f"Topic {n}")
    clock.advance(days=2)
    accounts.create_token(ctx, staff.author, "laptop")
    everything = admin_acts.search_admin_acts(ctx, staff.admin, AdminActFilter())
    assert everything.total == count(ctx)
    assert [a.id for a in everything.acts] == sorted((a.id for a in everything.acts), reverse=True)

    topics = AdminActFilter.checked(kind="topic.added")
    page_one = admin_acts.search_admin_acts(ctx, staff.admin, topics, offset=0, limit=2)
    page_four = admin_acts.search_admin_acts(ctx, staff.admin, topics, offset=6, limit=2)
    assert page_one.total == 7  # the fixture's two and these five
    assert [a.details["name"] for a in page_one.acts] == ["Topic 4", "Topic 3"]
    assert [a.details["name"] for a in page_four.acts] == ["Global Health"]

    by_author = AdminActFilter.checked(actor_id=staff.author)
    assert [a.kind for a in admin_acts.search_admin_acts(ctx, staff.admin, by_author).acts] == [
        "token.created"
    ]
    later = AdminActFilter.checked(since=first_day + timedelta(days=1))
    assert [a.kind for a in admin_acts.search_admin_acts(ctx, staff.admin, later).acts] == [
        "token.created"
    ]
    that_day = AdminActFilter.checked(since=first_day, until=first_day)
    assert admin_acts.search_admin_acts(ctx, staff.admin, that_day).total == count(ctx) - 1
    assert (
        admin_acts.search_admin_acts(
            ctx, staff.admin, AdminActFilter.checked(until=date(2000, 1, 1))
        ).acts
        == []
    )
    assert (staff.admin, "admin@newsroom.example") in admin_acts.admin_act_actors(ctx, staff.admin)
    assert (CONSOLE.id, "console operator") in admin_acts.admin_act_actors(ctx, staff.admin)
    with pytest.raises(PermissionDenied, match="only admins see the audit"):
        admin_acts.search_admin_acts(ctx, staff.officer, AdminActFilter())


def test_an_export_is_recorded_and_holds_what_was_there_when_it_was(
    ctx: ServiceContext, staff: Staff
) -> None:
    wanted = AdminActFilter.checked(kind="topic.added")
    with acting_from("198.51.100.4"):
        export = admin_acts.export_admin_acts(ctx, staff.admin, wanted)
    people.add_topic(ctx, staff.admin, "After the export")
    stream = io.StringIO()
    written = admin_acts.write_csv(admin_acts.exported_acts(ctx, export), ctx, stream)
    lines = stream.getvalue().splitlines()
    assert written == export.rows == 2 and len(lines) == 3
    assert lines[0] == "id,at,actor_id,actor,actor_roles,kind,target_id,details,origin,request_id"
    assert '"{""name"": ""Global Health""}"' in lines[1]
    recorded = [a for a in acts(ctx) if a.kind == K.ADMIN_ACTS_EXPORTED]
    assert [(a.actor_id, a.origin, a.details) for a in recorded] == [
        (
            staff.admin,
            "198.51.100.4",
            {"actor_id": None, "kind": "topic.added", "since": None, "until": None, "rows": 2},
        )
    ]
    with pytest.raises(PermissionDenied):
        admin_acts.export_admin_acts(ctx, staff.translator, wanted)


def test_a_cell_a_spreadsheet_would_run_is_written_as_text(
    ctx: ServiceContext, staff: Staff
) -> None:
    sly = people.add_user(
        ctx, staff.admin, email="=cmd@newsroom.example", name="S", roles=["translator"]
    )
    accounts.create_token(ctx, sly, "laptop")
    export = admin_acts.export_admin_acts(ctx, staff.admin, AdminActFilter.checked(actor_id=sly))
    stream = io.StringIO()
    admin_acts.write_csv(admin_acts.exported_acts(ctx, export), ctx, stream)
    row = stream.getvalue().splitlines()[1].split(",")
    assert row[3] == "'=cmd@newsroom.example"


def test_sign_in_policy_and_second_factors_are_recorded(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    with acting_from("203.0.113.20"):
        two_factor.set_policy(ctx, staff.admin, "approvers_and_admins")
        two_factor.set_policy(ctx, staff.admin, "approvers_and_admins")  # nothing changed
        two_factor.set_policy(ctx, staff.admin, "off")
        single_sign_on.set_new_account_role(ctx, staff.admin, "translator")
    with ctx.uow() as uow:
        kim = uow.users.get(staff.approver)
    secret = two_factor.start_enrolment(ctx, kim).secret
    two_factor.confirm_enrolment(ctx, kim, pyotp.TOTP(secret).at(clock.now()))
    clock.advance(seconds=60)
    accounts.turn_off_two_factor(ctx, kim, pyotp.TOTP(secret).at(clock.now()), "192.0.2.1")
    secret = two_factor.start_enrolment(ctx, kim).secret
    two_factor.confirm_enrolment(ctx, kim, pyotp.TOTP(secret).at(clock.now()))
    two_factor.reset(ctx, CONSOLE.id, "approver@newsroom.example")
    assert [shape(a)[:5] for a in acts(ctx)[-7:]] == [
        (
            staff.admin,
            "admin@newsroom.example",
            "sign_in_policy.changed",
            None,
            {"two_factor": {"before": "off", "after": "approvers_and_admins"}},
        ),
        (
            staff.admin,
            "admin@newsroom.example",
            "sign_in_policy.changed",
            None,
            {"two_factor": {"before": "approvers_and_admins", "after": "off"}},
        ),
        (
            staff.admin,
            "admin@newsroom.example",
            "sign_in_policy.changed",
            None,
            {"sso_new_account_role": {"before": None, "after": "translator"}},
        ),
        (kim.id, kim.email, "two_factor.turned_on", str(kim.id), {}),
        (kim.id, kim.email, "two_factor.turned_off", str(kim.id), {}),
        (kim.id, kim.email, "two_factor.turned_on", str(kim.id), {}),
        (
            CONSOLE.id,
            "console operator",
            "two_factor.reset",
            str(kim.id),
            {"email": kim.email, "was_on": True},
        ),
    ]
    assert {a.origin for a in acts(ctx) if a.kind == "sign_in_policy.changed"} == {"203.0.113.20"}


def test_an_account_single_sign_on_makes_is_recorded_as_the_person_s_own(
    ctx: ServiceContext, staff: Staff
) -> None:
    single_sign_on.set_new_account_role(ctx, staff.admin, "translator")
    identity = Identity("sub-1", "New.Person@newsroom.example", True, "New Person", ("pwd",), "")
    with acting_from("198.51.100.30"):
        single_sign_on.sign_in(ctx, identity, "198.51.100.30")
    added = last(ctx)
    assert (added.actor, added.kind, added.origin) == (
        "new.person@newsroom.example",
        "user.added",
        "198.51.100.30",
    )
    assert added.details["via"] == "single sign-on" and added.details["roles"] == ["translator"]
    assert added.actor_id == int(added.target_id or 0)
