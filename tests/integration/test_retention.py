"""Retention on a real database (SQLite, and PostgreSQL when configured), with a real
SMTP server for the deliveries: what is past its time goes, in batches, once; what
leaves a subscriber is a keyed hash that still blocks the address; the counts of a
release's deliveries, the office's records and the audit of administrative acts stay."""

from __future__ import annotations

import io
import os
import threading
from typing import Any

import pytest
from sqlalchemy import JSON, String, Text, cast, func, inspect, select, update

from tests.conftest import Staff
from tests.integration.test_distribution import drain, handle_events, published_release, subscribe
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.db.tables import (
    AdminActRow,
    AuditRow,
    Base,
    DeliveryRow,
    DeliveryTallyRow,
    LoginAttemptRow,
    NotificationRow,
    SubscriberRow,
    SuppressedAddressRow,
)
from workflow.distribution import reports
from workflow.domain.errors import NotFound
from workflow.services import accounts, subscriber_lists, subscribers
from workflow.services.context import ServiceContext
from workflow.services.retention import RetentionReport, run_retention
from workflow.services.suppressions import address_hash

KIM, LEE, PARK = "kim@daily.example", "lee@wire.example", "park@tv.example"


@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_password_hashing: None) -> None:
    """Logins are checked here: Argon2 at its smallest cost."""


def count(ctx: ServiceContext, model: type[Base]) -> int:
    with ctx.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def where_the_address_is(ctx: ServiceContext, address: str) -> list[str]:
    """Every table and column whose text (or JSON) holds ``address``, anywhere."""
    found = []
    with ctx.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, String | Text | JSON):
                    text = cast(column, Text) if isinstance(column.type, JSON) else column
                    hits = connection.scalar(
                        select(func.count())
                        .select_from(table)
                        .where(text.contains(address, autoescape=True))
                    )
                    if hits:
                        found.append(f"{table.name}.{column.name}")
    return found


def link_token(ctx: ServiceContext, subscriber_id: int, purpose: str) -> str:
    return subscribers.links_for(ctx, subscriber_id)[purpose].split("token=", 1)[1]


def confirmed(ctx: ServiceContext, email: str, topic: int) -> int:
    subscriber_id = subscribers.subscribe(ctx, email, "", [topic], "ko").subscriber_id
    assert subscriber_id is not None
    subscribers.confirm(ctx, link_token(ctx, subscriber_id, "confirm"))
    return subscriber_id


def import_notes(ctx: ServiceContext, staff: Staff, *emails: str) -> dict[str, str]:
    lines = subscriber_lists.read_csv(
        io.StringIO(
            "email,name,language,topics\n"
            + "".join(f"{email},,ko,Global Health\n" for email in emails)
        )
    )
    report = subscriber_lists.import_subscribers(ctx, staff.admin, lines)
    return {note.email: note.reason for note in report.kept}


def test_a_subscriber_who_left_is_kept_only_as_a_keyed_hash_that_still_blocks_them(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    kim, lee, park = (confirmed(ctx, email, staff.health) for email in (KIM, LEE, PARK))
    release_id = published_release(ctx, staff)
    handle_events(ctx)
    drain(ctx, clock)
    assert reports.delivery_report(ctx, release_id).counts == {"sent": 3}
    subscribers.unsubscribe(ctx, link_token(ctx, kim, "unsubscribe"))
    for _ in range(ctx.settings.hard_bounce_limit):
        subscribers.record_hard_bounce(ctx, lee)
    acts_before = count(ctx, AdminActRow)
    audit_before = count(ctx, AuditRow)

    clock.advance(days=ctx.settings.retention_suppression_days - 1)
    assert run_retention(ctx).subscribers == 0, "not yet"
    clock.advance(days=2)
    done = run_retention(ctx)
    assert (done.subscribers, done.deliveries) == (2, 0)

    # Nothing anywhere names them now, but their hashes, and no one else's went.
    assert where_the_address_is(ctx, KIM) == [] and where_the_address_is(ctx, LEE) == []
    assert where_the_address_is(ctx, PARK) != []
    with ctx.uow() as uow:
        kept = {
            row.address_hash: row.reason
            for row in uow.session.execute(
                select(SuppressedAddressRow.address_hash, SuppressedAddressRow.reason)
            )
        }
    key = ctx.settings.secret_key
    assert kept == {address_hash(key, KIM): "unsubscribed", address_hash(key, LEE): "bounced"}
    with pytest.raises(NotFound):
        subscribers.find_subscriber(ctx, staff.admin, KIM)
    # Their deliveries are counts of the release now; Park's is still a row.
    report = reports.delivery_report(ctx, release_id)
    assert report.counts == {"sent": 3} and report.by_kind == {"release": {"sent": 3}}
    assert (report.subscribers, report.subscribers_reached) == (3, 3)
    assert report.folded_at == clock.now()
    assert [d.subscriber_id for d in _deliveries(ctx)] == [park]
    # The office's records stay: the audit of administrative acts, the release's trail.
    assert (count(ctx, AdminActRow), count(ctx, AuditRow)) == (acts_before, audit_before)

    # An import adds neither back; the address typed in any case is recognised.
    assert import_notes(ctx, staff, "Kim@Daily.example", LEE) == {
        KIM: "not added: it unsubscribed (and is kept only as a keyed hash); only a new "
        "confirmed subscription brings it back",
        LEE: "not added: it bounced, and a bounced address is never mailed again",
    }
    # The public form: nothing at all for the bounced address (not even a confirmation)...
    notices = count(ctx, NotificationRow)
    refused = subscribers.subscribe(ctx, LEE, "", [staff.health], "ko")
    assert (refused.subscriber_id, refused.state, refused.confirmation_queued) == (
        None,
        "bounced",
        False,
    )
    assert count(ctx, NotificationRow) == notices and where_the_address_is(ctx, LEE) == []
    # ...and a fresh confirmation for the one that unsubscribed, which lifts its hash.
    again = subscribers.subscribe(ctx, KIM, "", [staff.health], "en")
    assert (again.state, again.confirmation_queued) == ("pending", True)
    assert count(ctx, SuppressedAddressRow) == 2, "held until confirmed"
    assert again.subscriber_id is not None
    subscribers.confirm(ctx, link_token(ctx, again.subscriber_id, "confirm"))
    with ctx.uow() as uow:
        reasons = list(uow.session.scalars(select(SuppressedAddressRow.reason)))
    assert reasons == ["bounced"]

    assert run_retention(ctx) == RetentionReport(), "a second run finds nothing to do"


def _deliveries(ctx: ServiceContext) -> list[DeliveryRow]:
    with ctx.uow() as uow:
        rows = list(uow.session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))
        uow.session.expunge_all()
        return rows


def test_deliveries_are_deleted_with_their_recipients_in_batches_and_their_counts_stay(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    ctx.settings.retention_batch_size = 4
    for n in range(9):
        subscribe(ctx, f"j{n}@press.example", [staff.health])
    subscribe(ctx, "gone@press.example", [staff.health])
    faulty.faults.refuse = {"gone@press.example"}
    release_id = published_release(ctx, staff)
    handle_events(ctx)
    drain(ctx, clock)
    before = reports.delivery_report(ctx, release_id)
    assert before.counts == {"sent": 9, "failed": 1} and len(before.failures) == 1

    clock.advance(days=ctx.settings.retention_delivery_days - 1)
    assert run_retention(ctx).deliveries == 0
    clock.advance(days=2)
    assert run_retention(ctx).deliveries == 10  # three batches of four, the last short
    assert _deliveries(ctx) == []
    after = reports.delivery_report(ctx, release_id)
    assert (after.counts, after.by_kind) == (before.counts, before.by_kind)
    assert (after.subscribers, after.subscribers_reached) == (10, 9)
    assert after.failures == [] and after.folded_at == clock.now()
    assert where_the_address_is(ctx, "gone@press.example") == ["subscribers.email"]
    assert run_retention(ctx).deliveries == 0


def test_two_runs_at_once_fold_each_delivery_once(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    ctx.settings.retention_batch_size = 3
    for n in range(40):
        subscribe(ctx, f"j{n}@press.example", [staff.health])
    release_id = published_release(ctx, staff)
    handle_events(ctx)
    drain(ctx, clock)
    clock.advance(days=ctx.settings.retention_delivery_days + 1)
    reports_of_runs: list[RetentionReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports_of_runs.append(run_retention(ctx))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(r.deliveries for r in reports_of_runs) == 40
    assert _deliveries(ctx) == []
    with ctx.uow() as uow:
        tally = uow.session.get(DeliveryTallyRow, release_id)
        assert tally is not None and tally.counts == {"release": {"sent": 40}}


def test_old_login_attempts_emails_and_caught_mail_go_and_recent_ones_stay(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    for _ in range(2):
        with pytest.raises(accounts.AuthenticationFailed):
            accounts.check_credentials(
                ctx, "author@newsroom.example", "wrong password", "192.0.2.1"
            )
    confirmed(ctx, KIM, staff.health)  # a confirmation email, not sent
    with ctx.uow() as uow:
        uow.session.execute(update(NotificationRow).values(state="sent"))
        uow.commit()
    mail = ctx.settings.var_dir / "mail"
    mail.mkdir(parents=True)
    old_file, new_file = mail / "000001.eml", mail / "000002.eml"
    for path in (old_file, new_file):
        path.write_bytes(b"Subject: caught\r\n\r\nbody\r\n")
    days_ago = clock.now().timestamp() - (ctx.settings.retention_message_days + 1) * 86_400
    os.utime(old_file, (days_ago, days_ago))

    clock.advance(seconds=ctx.settings.login_window_seconds + 1)
    with pytest.raises(accounts.AuthenticationFailed):
        accounts.check_credentials(ctx, "author@newsroom.example", "wrong again", "192.0.2.1")
    done = run_retention(ctx)
    assert (done.login_attempts, done.notifications, done.caught_mail) == (2, 0, 1)
    assert count(ctx, LoginAttemptRow) == 1
    assert sorted(p.name for p in mail.iterdir()) == ["000002.eml"]

    clock.advance(days=ctx.settings.retention_message_days + 1)
    assert run_retention(ctx).notifications == 1
    assert count(ctx, NotificationRow) == 0
    assert where_the_address_is(ctx, KIM) == ["subscribers.email"], "an active subscriber stays"


def test_a_rotated_key_keeps_blocking_while_it_is_listed(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    confirmed(ctx, KIM, staff.health)
    kim = subscribers.find_subscriber(ctx, staff.admin, KIM).id
    subscribers.unsubscribe(ctx, link_token(ctx, kim, "unsubscribe"))
    clock.advance(days=ctx.settings.retention_suppression_days + 1)
    run_retention(ctx)
    old_key = ctx.settings.secret_key
    ctx.settings.secret_key = "a-new-key-" + "x" * 40
    ctx.settings.previous_secret_keys = [old_key]
    assert KIM in import_notes(ctx, staff, KIM), "blocked under the old key, still listed"
    ctx.settings.previous_secret_keys = []
    assert import_notes(ctx, staff, KIM) == {}, "a key no longer listed blocks nothing"


def test_an_admin_erases_a_subscriber_at_once_and_the_act_is_recorded(
    ctx: ServiceContext, staff: Staff
) -> None:
    kim = confirmed(ctx, KIM, staff.health)
    subscribers.erase(ctx, staff.admin, kim)
    assert where_the_address_is(ctx, KIM) == []
    assert KIM in import_notes(ctx, staff, KIM)
    with ctx.uow() as uow:
        act = uow.session.scalars(
            select(AdminActRow).where(AdminActRow.kind == "subscriber.erased")
        ).one()
        assert act is not None
        assert (act.kind, act.target_id, act.details) == (
            "subscriber.erased",
            str(kim),
            {"state": "active", "kept_as": "unsubscribed"},
        )
    with pytest.raises(NotFound):
        subscribers.erase(ctx, staff.admin, kim)


def test_the_schema_holds_no_subscriber_address_outside_these_columns(
    ctx: ServiceContext,
) -> None:
    """Retention clears the columns that can hold a subscriber's address; a new one must
    be added to ``suppressions.reduce_to_hash`` and this list."""
    columns = {
        f"{table}.{column['name']}"
        for table in inspect(ctx.engine).get_table_names()
        for column in inspect(ctx.engine).get_columns(table)
        if any(word in column["name"] for word in ("email", "address", "recipient"))
    }
    known: set[Any] = {
        "subscribers.email",
        "notifications.to_address",
        "users.email",
        "login_attempts.email",
        "login_attempts.address",
        "releases.contact_email",
        "suppressed_addresses.address_hash",
    }
    assert columns == known


def test_a_sign_up_never_confirmed_goes_once_its_latest_link_has_expired(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    days = ctx.settings.confirmation_link_days
    subscribers.subscribe(ctx, "never@press.example", "", [staff.health], "ko")
    subscribers.subscribe(ctx, "again@press.example", "", [staff.health], "ko")
    clock.advance(days=days - 1)
    # Asked again the day before the first link expires: a new link, a new week.
    clock.advance(hours=23)
    subscribers.subscribe(ctx, "again@press.example", "", [staff.health], "ko")
    clock.advance(hours=2)
    assert run_retention(ctx).unconfirmed == 1
    assert where_the_address_is(ctx, "never@press.example") == []
    assert "subscribers.email" in where_the_address_is(ctx, "again@press.example")
    clock.advance(days=days)
    assert run_retention(ctx).unconfirmed == 1
    assert count(ctx, SubscriberRow) == 0
    # Nothing blocks either address: neither ever agreed to anything, nor left.
    assert subscribers.subscribe(ctx, "never@press.example", "", [staff.health], "ko")
