"""Bounces after delivery: a relay's DSN (RFC 3464) posted to the API or read from the
bounce mailbox, and its webhook's JSON, mark deliveries bounced and count toward the
subscriber's suspension, once however often they are reported."""

from __future__ import annotations

import mailbox
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Staff
from tests.integration.test_distribution import (
    deliveries,
    drain,
    handle_events,
    published_release,
    subscribe,
)
from tests.smtp_faults import FaultyHandler
from workflow.api import create_app
from workflow.clock import FrozenClock
from workflow.db.tables import SubscriberRow
from workflow.services import accounts, bounces
from workflow.services.context import ServiceContext

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

GONE = "gone@press.example"


def dsn(recipient: str, message_id: str, *, status: str = "5.1.1", action: str = "failed") -> bytes:
    """A delivery status notification as Postfix writes one."""
    code = "550 5.1.1 <{r}>: Recipient address rejected: User unknown" if action == "failed" else ""
    diagnostic = f"Diagnostic-Code: smtp; {code.format(r=recipient)}\n" if code else ""
    return f"""\
Return-Path: <>
From: MAILER-DAEMON@relay.press.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces@newsroom.example
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"
Message-Id: <20261123.ABC@relay.press.example>

--B1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{recipient}>: host mx.press.example said: 550 5.1.1 User unknown

--B1
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.press.example
Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0900 (KST)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.press.example
{diagnostic}
--B1
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Newsroom <newsroom@newsroom.example>
To: {recipient}
Subject: =?utf-8?q?press_release?=
Message-ID: {message_id}

--B1--
""".replace("\n", "\r\n").encode()


@pytest.fixture
def sent(ctx: ServiceContext, staff: Staff, faulty: FaultyHandler, clock: FrozenClock) -> str:
    """A release mailed to GONE and to a colleague; returns GONE's Message-ID."""
    ctx.settings.hard_bounce_limit = 2
    subscribe(ctx, GONE, [staff.health])
    subscribe(ctx, "stays@press.example", [staff.health])
    published_release(ctx, staff)
    handle_events(ctx)
    drain(ctx, clock)
    rows = {d.subscriber_id: d for d in deliveries(ctx)}
    assert {d.state for d in rows.values()} == {"sent"}
    return next(d.message_id for d in rows.values() if _email(ctx, d.subscriber_id) == GONE)


def _email(ctx: ServiceContext, subscriber_id: int) -> str:
    with ctx.uow() as uow:
        return str(uow.session.get(SubscriberRow, subscriber_id).email)  # type: ignore[union-attr]


def _subscriber(ctx: ServiceContext, email: str) -> tuple[str, int]:
    with ctx.uow() as uow:
        row = uow.session.scalars(select(SubscriberRow).where(SubscriberRow.email == email)).one()
        return row.state, row.hard_bounces


def _states(ctx: ServiceContext) -> dict[str, str]:
    return {_email(ctx, d.subscriber_id): d.state for d in deliveries(ctx)}


def test_a_dsn_is_classified_and_names_the_original_message() -> None:
    found = bounces.from_report(dsn(GONE, "<7.release.3@newsroom.example>"))
    assert found == [
        bounces.Bounce(
            GONE,
            True,
            "<7.release.3@newsroom.example>",
            f"smtp; 550 5.1.1 <{GONE}>: Recipient address rejected: User unknown",
        )
    ]
    delayed = bounces.from_report(dsn(GONE, "<x@y>", status="4.4.1", action="delayed"))
    assert [b.permanent for b in delayed] == [False]
    assert bounces.from_report(b"Subject: hello\r\n\r\njust a reply\r\n") == []
    assert bounces.from_report(b"") == []


def test_a_posted_dsn_bounces_the_delivery_once_however_often_it_comes(
    ctx: ServiceContext, staff: Staff, sent: str, cheap_password_hashing: None
) -> None:
    token = accounts.create_token(ctx, staff.admin, "relay").token
    officer = accounts.create_token(ctx, staff.author, "officer").token
    report = dsn(GONE, sent)
    with TestClient(create_app(ctx)) as client:

        def post(who: str, body: bytes) -> tuple[int, dict[str, int]]:
            response = client.post(
                "/api/v1/bounces/message",
                content=body,
                headers={"Authorization": f"Bearer {who}", "Content-Type": "multipart/report"},
            )
            return response.status_code, response.json()

        assert post(officer, report)[0] == 403
        assert _states(ctx)[GONE] == "sent"
        assert post(token, b"Subject: hi\r\n\r\nthanks!\r\n")[0] == 422
        status, body = post(token, report)
        assert (status, body["bounced"]) == (200, 1)
        status, body = post(token, report)
        assert (status, body["bounced"], body["already"]) == (200, 0, 1)
    assert _states(ctx) == {GONE: "bounced", "stays@press.example": "sent"}
    assert _subscriber(ctx, GONE) == ("active", 1), "counted once"


def test_webhook_bounces_without_a_message_id_take_the_latest_sent_message(
    ctx: ServiceContext, staff: Staff, sent: str, faulty: FaultyHandler, clock: FrozenClock
) -> None:
    report = bounces.record(ctx, [bounces.Bounce(GONE.upper(), True, "", "550 gone")])
    assert report["bounced"] == 1
    assert _subscriber(ctx, GONE) == ("active", 1)
    # A second release, a second hard bounce: the limit of two suspends the address,
    # and a third release is not mailed to it.
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    assert bounces.record(ctx, [bounces.Bounce(GONE, True)])["bounced"] == 1
    assert _subscriber(ctx, GONE) == ("bounced", 2)
    before = len([m for m in faulty.received() if GONE in m.recipients])
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    drain(ctx, clock)
    assert len([m for m in faulty.received() if GONE in m.recipients]) == before
    assert bounces.record(ctx, [bounces.Bounce("who@else.example", True)])["unknown"] == 1
    assert bounces.record(ctx, [bounces.Bounce(GONE, False)])["temporary"] == 1


@pytest.fixture
def maildir(tmp_path: Path) -> Iterator[mailbox.Maildir]:
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    yield box
    box.close()


def test_the_bounce_mailbox_is_read_and_emptied_and_odd_mail_set_aside(
    ctx: ServiceContext, sent: str, maildir: mailbox.Maildir
) -> None:
    maildir.add(dsn(GONE, sent))
    maildir.add(dsn(GONE, sent))  # the relay sent it twice
    maildir.add(b"From: editor@press.example\r\nSubject: re: release\r\n\r\nThanks\r\n")
    report = bounces.read_maildir(ctx, Path(maildir._path))
    assert (report["bounced"], report["already"], report["unrecognised"]) == (1, 1, 1)
    assert _states(ctx)[GONE] == "bounced"
    assert _subscriber(ctx, GONE) == ("active", 1)
    fresh = mailbox.Maildir(maildir._path, create=False)
    assert len(fresh) == 0
    assert len(fresh.get_folder("unrecognised")) == 1


def test_a_bounce_mailbox_message_stays_when_recording_fails(
    ctx: ServiceContext, sent: str, maildir: mailbox.Maildir, monkeypatch: pytest.MonkeyPatch
) -> None:
    maildir.add(dsn(GONE, sent))

    def broken(*_args: object) -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(bounces, "_record_one", broken)
    with pytest.raises(RuntimeError):
        bounces.read_maildir(ctx, Path(maildir._path))
    assert len(mailbox.Maildir(maildir._path, create=False)) == 1
    monkeypatch.undo()
    assert bounces.read_maildir(ctx, Path(maildir._path))["bounced"] == 1
