"""Subscribers on the real database: the double opt-in by email, leaving without a login,
the admins' controls, hard bounces, and the CSV import and export through the command."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from tests.conftest import Staff
from workflow.clock import FrozenClock
from workflow.db.tables import NotificationRow, SubscriberRow
from workflow.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from workflow.mail.senders import MemorySender
from workflow.services import subscribers as svc
from workflow.services.context import ServiceContext
from workflow.services.notifications import send_due_notifications
from workflow.services.subscriber_lists import import_subscribers, read_csv

NEWSROOM = shutil.which("newsroom", path=str(Path(sys.executable).parent)) or "newsroom"
EMAIL = "reporter@daily.example"


def confirmations(ctx: ServiceContext) -> list[NotificationRow]:
    with ctx.uow() as uow:
        found = list(
            uow.session.scalars(
                select(NotificationRow)
                .where(NotificationRow.kind == "subscription_confirm")
                .order_by(NotificationRow.id)
            )
        )
        uow.session.expunge_all()
        return found


def link_in(row: NotificationRow) -> str:
    """The token of the confirmation link, as the journalist would click it."""
    found = re.search(r"/subscriptions/confirm\?token=([A-Za-z0-9_.\-]+)", row.body_text)
    assert found, row.body_text
    assert found.group(0) in row.body_html
    return found.group(1)


def token_of(url: str) -> str:
    return url.split("token=", 1)[1]


def state_of(ctx: ServiceContext, email: str = EMAIL) -> str:
    with ctx.uow() as uow:
        state = uow.session.scalar(select(SubscriberRow.state).where(SubscriberRow.email == email))
        assert state is not None
        return state


def subscribed_and_confirmed(ctx: ServiceContext, staff: Staff, email: str = EMAIL) -> int:
    result = svc.subscribe(ctx, email, "Lee Reporter", [staff.health], "ko")
    svc.confirm(ctx, link_in(confirmations(ctx)[-1]))
    return result.subscriber_id


# --- the opt-in --------------------------------------------------------------------------


def test_subscribing_sends_a_confirmation_and_only_confirming_activates(
    ctx: ServiceContext, staff: Staff
) -> None:
    result = svc.subscribe(
        ctx, " Reporter@Daily.Example ", "Lee Reporter", [staff.health, staff.peninsula], "en"
    )
    assert (result.state, result.confirmation_queued) == ("pending", True)
    [row] = confirmations(ctx)
    assert row.user_id is None and row.release_id is None
    assert (row.to_address, row.language, row.state) == (EMAIL, "en", "pending")
    assert row.dedup_key == f"confirm:{result.subscriber_id}:1"
    assert "confirm your subscription" in row.subject
    assert "Global Health, Korean Peninsula" in row.body_text
    # Greeted by neither name nor address: the name is whatever someone typed into a
    # public form, beside anyone's address.
    assert row.body_text.startswith("Hello,") and "Lee Reporter" not in row.body_text
    assert "Release:" not in row.body_text
    assert "2026-05-21 09:00 KST" in row.body_text  # a week, in the office's time zone
    assert state_of(ctx) == "pending"

    view = svc.confirm(ctx, link_in(row))
    assert (view.state, view.email, view.language) == ("active", EMAIL, "en")
    assert view.topics == ("Global Health", "Korean Peninsula")
    assert view.confirmed_at == ctx.clock.now()


def test_the_confirmation_goes_out_through_the_notification_sweep(
    ctx: ServiceContext, staff: Staff
) -> None:
    svc.subscribe(ctx, EMAIL, "", [staff.health], "both")
    sender = MemorySender()
    assert send_due_notifications(ctx, sender).sent == 1
    [mail] = sender.sent
    assert mail.to == EMAIL and "구독" in mail.subject  # "both" reads Korean first
    assert mail.text.startswith("안녕하십니까.") and EMAIL not in mail.text.split("\n")[0]
    assert send_due_notifications(ctx, sender).sent == 0


def test_a_used_confirmation_link_changes_nothing_when_replayed(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    svc.subscribe(ctx, EMAIL, "Lee", [staff.health], "ko")
    token = link_in(confirmations(ctx)[0])
    svc.confirm(ctx, token)
    confirmed_at = clock.now()
    clock.advance(hours=1)
    with pytest.raises(ValidationFailed, match="already been used") as refused:
        svc.confirm(ctx, token)
    assert refused.value.field == "token"
    view = svc.find_subscriber(ctx, staff.admin, EMAIL)
    assert (view.state, view.confirmed_at) == ("active", confirmed_at)


def test_a_confirmation_link_expires(ctx: ServiceContext, staff: Staff, clock: FrozenClock) -> None:
    svc.subscribe(ctx, EMAIL, "Lee", [staff.health], "ko")
    clock.advance(days=7, minutes=1)
    with pytest.raises(ValidationFailed, match="expired"):
        svc.confirm(ctx, link_in(confirmations(ctx)[0]))
    assert state_of(ctx) == "pending"
    # Subscribing again sends a fresh link, which works.
    assert svc.subscribe(ctx, EMAIL, "Lee", [staff.health], "ko").confirmation_queued
    assert svc.confirm(ctx, link_in(confirmations(ctx)[-1])).state == "active"


def test_the_form_sends_one_confirmation_per_address_in_ten_minutes(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    first = svc.subscribe(ctx, EMAIL, "Lee", [staff.health], "ko")
    again = svc.subscribe(ctx, EMAIL, "Lee", [staff.peninsula], "en")
    assert first.confirmation_queued and not again.confirmation_queued
    assert len(confirmations(ctx)) == 1
    clock.advance(minutes=11)
    assert svc.subscribe(ctx, EMAIL, "Lee", [staff.peninsula], "en").confirmation_queued
    old, new = confirmations(ctx)
    with pytest.raises(ValidationFailed, match="replaced by a newer one"):
        svc.confirm(ctx, link_in(old))
    view = svc.confirm(ctx, link_in(new))
    assert (view.state, view.topics, view.language) == ("active", ("Korean Peninsula",), "en")


def test_the_form_cannot_change_an_active_subscriber(ctx: ServiceContext, staff: Staff) -> None:
    subscribed_and_confirmed(ctx, staff)
    result = svc.subscribe(ctx, EMAIL, "Someone Else", [staff.peninsula], "en")
    assert (result.state, result.confirmation_queued) == ("active", False)
    view = svc.find_subscriber(ctx, staff.admin, EMAIL)
    assert (view.name, view.topics, view.language) == ("Lee Reporter", ("Global Health",), "ko")
    assert len(confirmations(ctx)) == 1


@pytest.mark.parametrize(
    ("topics", "language", "field"),
    [([], "ko", "topics"), ([999], "ko", "topics"), (None, "de", "language")],
)
def test_bad_subscriptions_are_refused_and_store_nothing(
    ctx: ServiceContext, staff: Staff, topics: list[int] | None, language: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        svc.subscribe(ctx, EMAIL, "Lee", [staff.health] if topics is None else topics, language)
    assert refused.value.field == field
    assert svc.list_subscribers(ctx, staff.admin) == [] and confirmations(ctx) == []


# --- leaving, and coming back ------------------------------------------------------------


def test_unsubscribing_needs_no_login_and_a_return_needs_a_new_confirmation(
    ctx: ServiceContext, staff: Staff
) -> None:
    subscriber_id = subscribed_and_confirmed(ctx, staff)
    links = svc.links_for(ctx, subscriber_id)

    # Nothing but the link from the email: the RFC 8058 one-click POST.
    assert svc.unsubscribe(ctx, token_of(links["unsubscribe"])).state == "unsubscribed"
    assert svc.unsubscribe(ctx, token_of(links["unsubscribe"])).state == "unsubscribed"
    with pytest.raises(ValidationFailed, match="replaced"):
        svc.preferences(ctx, token_of(links["preferences"]))

    again = svc.subscribe(ctx, EMAIL, "Lee Reporter", [staff.peninsula], "en")
    assert (again.state, again.confirmation_queued) == ("pending", True)
    assert state_of(ctx) == "pending"
    old_link, new_link = confirmations(ctx)
    assert new_link.dedup_key == f"confirm:{subscriber_id}:3"
    with pytest.raises(ValidationFailed, match="replaced"):
        svc.confirm(ctx, link_in(old_link))
    with pytest.raises(ValidationFailed, match="replaced"):
        svc.unsubscribe(ctx, token_of(links["unsubscribe"]))  # an old link, a new subscription
    assert svc.confirm(ctx, link_in(new_link)).state == "active"


def test_preferences_through_their_link(ctx: ServiceContext, staff: Staff) -> None:
    subscriber_id = subscribed_and_confirmed(ctx, staff)
    token = token_of(svc.links_for(ctx, subscriber_id)["preferences"])
    assert svc.preferences(ctx, token).topics == ("Global Health",)
    view = svc.update_preferences(ctx, token, [staff.peninsula, staff.health], "both")
    assert (view.topics, view.language, view.state) == (
        ("Global Health", "Korean Peninsula"),
        "both",
        "active",
    )
    with pytest.raises(ValidationFailed, match="this is a preferences link, not an unsubscribe"):
        svc.unsubscribe(ctx, token)
    assert state_of(ctx) == "active"


def test_a_link_to_a_subscriber_who_does_not_exist_is_refused(ctx: ServiceContext) -> None:
    links = svc.subscription_links(ctx.settings, 9999, 1)
    with pytest.raises(ValidationFailed, match="no longer valid"):
        svc.unsubscribe(ctx, token_of(links["unsubscribe"]))


# --- admins and the delivery engine ------------------------------------------------------


def test_admins_suspend_unsuspend_and_trust(ctx: ServiceContext, staff: Staff) -> None:
    subscriber_id = subscribed_and_confirmed(ctx, staff)
    with pytest.raises(PermissionDenied, match="only admins suspend subscribers"):
        svc.suspend(ctx, staff.author, subscriber_id)
    with pytest.raises(PermissionDenied):
        svc.list_subscribers(ctx, staff.approver)
    assert svc.suspend(ctx, staff.admin, subscriber_id).state == "suspended"
    with pytest.raises(Conflict, match="cannot suspend a subscriber who is suspended"):
        svc.suspend(ctx, staff.admin, subscriber_id)
    assert svc.set_embargo_trusted(ctx, staff.admin, subscriber_id, True).embargo_trusted
    assert svc.unsuspend(ctx, staff.admin, subscriber_id).state == "active"
    assert [v.email for v in svc.list_subscribers(ctx, staff.admin, state="active")] == [EMAIL]
    with pytest.raises(NotFound):
        svc.find_subscriber(ctx, staff.admin, "nobody@daily.example")


def test_hard_bounces_up_to_the_limit_stop_the_mail(ctx: ServiceContext, staff: Staff) -> None:
    subscriber_id = subscribed_and_confirmed(ctx, staff)
    ctx.settings.hard_bounce_limit = 2
    assert svc.record_hard_bounce(ctx, subscriber_id) == "active"
    assert svc.record_hard_bounce(ctx, subscriber_id) == "bounced"
    view = svc.find_subscriber(ctx, staff.admin, EMAIL)
    assert (view.state, view.hard_bounces) == ("bounced", 2)
    # Never mailed again: the public form sends it no confirmation.
    sent = len(confirmations(ctx))
    again = svc.subscribe(ctx, EMAIL, "Lee", [staff.health], "ko")
    assert (again.state, again.confirmation_queued) == ("bounced", False)
    assert len(confirmations(ctx)) == sent
    assert svc.find_subscriber(ctx, staff.admin, EMAIL).state == "bounced"


# --- the command line: import and export -------------------------------------------------


@pytest.fixture
def run(database_url: str):  # type: ignore[no-untyped-def]
    def newsroom(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "NEWSROOM_DATABASE_URL": database_url}
        return subprocess.run(  # noqa: S603  # our own console script
            [NEWSROOM, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    return newsroom


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """email,name,language,topics,embargo_trusted
kim@daily.example,Kim Min-ji,ko,Global Health,yes
lee@wire.example,Lee Jun-ho,both,Global Health; korean peninsula,
"""


def test_import_is_all_or_nothing(run, ctx: ServiceContext, staff: Staff, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = GOOD + "not-an-address,X,ko,Global Health,no\npark@news.example,Park,fr,Sports,no\n"
    done = run("subscribers", "import", str(write(tmp_path / "list.csv", bad)))
    assert done.returncode == 2
    assert "line 4: not-an-address: email:" in done.stderr
    assert (
        "line 5: park@news.example: language: must be 'ko', 'en' or 'both'; "
        "topics: unknown topic 'Sports'"
    ) in done.stderr
    assert "error: 2 of 4 rows are invalid; nothing was imported" in done.stderr
    assert svc.list_subscribers(ctx, staff.admin) == []

    done = run("subscribers", "import", "--skip-invalid", str(tmp_path / "list.csv"))
    assert done.returncode == 0, done.stderr
    assert "2 added" in done.stdout and "2 rejected" in done.stdout
    views = {v.email: v for v in svc.list_subscribers(ctx, staff.admin)}
    assert set(views) == {"kim@daily.example", "lee@wire.example"}
    assert all(v.state == "active" and v.confirmed_at for v in views.values())
    assert views["kim@daily.example"].embargo_trusted
    assert not views["lee@wire.example"].embargo_trusted
    assert views["lee@wire.example"].topics == ("Global Health", "Korean Peninsula")
    assert confirmations(ctx) == []  # the office vouches: no opt-in email


def test_import_refuses_a_file_with_a_wrong_header(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = run(
        "subscribers", "import", str(write(tmp_path / "x.csv", "mail,name\na@b.example,A\n"))
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: file: the header must name")


def test_an_address_that_opted_out_is_not_reactivated_by_an_import(  # type: ignore[no-untyped-def]
    run, ctx: ServiceContext, staff: Staff, tmp_path: Path
) -> None:
    subscriber_id = subscribed_and_confirmed(ctx, staff, "kim@daily.example")
    svc.unsubscribe(ctx, token_of(svc.links_for(ctx, subscriber_id)["unsubscribe"]))
    duplicate = GOOD.replace("kim@daily.example", "KIM@Daily.Example")
    done = run("subscribers", "import", str(write(tmp_path / "list.csv", duplicate)))
    assert done.returncode == 0, done.stderr
    assert "line 2: kim@daily.example: not reactivated: it unsubscribed on 2026-05-14" in (
        done.stdout
    )
    assert "1 added, 1 already on the list" in done.stdout
    assert state_of(ctx, "kim@daily.example") == "unsubscribed"
    assert state_of(ctx, "lee@wire.example") == "active"


def test_export_and_import_round_trip(  # type: ignore[no-untyped-def]
    run, ctx: ServiceContext, staff: Staff, tmp_path: Path
) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'  # a name typed into the form
    extra = io.StringIO()
    csv.writer(extra).writerow(["gone@x.example", formula, "en", "Korean Peninsula", "no"])
    rows = GOOD + extra.getvalue()
    assert import_subscribers(ctx, staff.admin, read_csv(io.StringIO(rows))).added == 3
    lee = svc.find_subscriber(ctx, staff.admin, "lee@wire.example")
    links = svc.links_for(ctx, lee.id)
    svc.update_preferences(
        ctx,
        token_of(links["preferences"]),
        lee.topic_ids,
        "both",
        delivery="digest",
        digest_time="07:30",
    )
    gone = svc.find_subscriber(ctx, staff.admin, "gone@x.example")
    svc.unsubscribe(ctx, token_of(svc.links_for(ctx, gone.id)["unsubscribe"]))

    exported = run("subscribers", "export")
    assert exported.returncode == 0, exported.stderr
    table = list(csv.reader(io.StringIO(exported.stdout)))
    assert table[0] == [
        "email",
        "name",
        "language",
        "topics",
        "embargo_trusted",
        "state",
        "digest",
    ]
    assert table[1:] == [
        ["kim@daily.example", "Kim Min-ji", "ko", "Global Health", "yes", "active", ""],
        [
            "lee@wire.example",
            "Lee Jun-ho",
            "both",
            "Global Health;Korean Peninsula",
            "no",
            "active",
            "07:30",
        ],
        ["gone@x.example", "'" + formula, "en", "Korean Peninsula", "no", "unsubscribed", ""],
    ]

    # Into an empty list and out again: the same file, the opt-out included.
    saved = tmp_path / "out.csv"
    assert run("subscribers", "export", "--output", str(saved)).returncode == 0
    assert saved.read_text(encoding="utf-8") == exported.stdout
    with ctx.uow() as uow:
        uow.session.execute(delete(SubscriberRow))
        uow.commit()
    assert run("subscribers", "import", str(saved)).returncode == 0
    assert run("subscribers", "export").stdout == exported.stdout
    assert svc.find_subscriber(ctx, staff.admin, "gone@x.example").name == formula
    with saved.open(encoding="utf-8", newline="") as stream:
        assert len(read_csv(stream)) == 3


def test_trust_suspend_and_their_errors(run, ctx: ServiceContext, staff: Staff) -> None:  # type: ignore[no-untyped-def]
    import_subscribers(ctx, staff.admin, read_csv(io.StringIO(GOOD)))
    done = run("subscribers", "trust", "Lee@Wire.Example")
    assert done.returncode == 0 and "lee@wire.example: active, embargo-trusted" in done.stdout
    assert run("subscribers", "suspend", "lee@wire.example").returncode == 0
    assert state_of(ctx, "lee@wire.example") == "suspended"
    again = run("subscribers", "suspend", "lee@wire.example")
    assert again.returncode == 1
    assert again.stderr.startswith("error: cannot suspend a subscriber who is suspended")
    assert run("subscribers", "unsuspend", "lee@wire.example").returncode == 0
    assert run("subscribers", "untrust", "lee@wire.example").returncode == 0
    view = svc.find_subscriber(ctx, staff.admin, "lee@wire.example")
    assert (view.state, view.embargo_trusted) == ("active", False)
    missing = run("subscribers", "suspend", "nobody@wire.example")
    assert missing.returncode == 3
    assert missing.stderr == "error: subscriber nobody@wire.example does not exist\n"
