"""Seeing a release's email before it goes out: ``newsroom mail preview`` writes the exact
message, and an officer's test copy reaches only them, marked [TEST], never a delivery."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import Staff
from tests.integration.test_cli import NEWSROOM
from tests.integration.test_distribution import drain, handle_events, subscribe
from tests.integration.test_release_services import BODY_KO
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.db.tables import AuditRow, DeliveryRow
from workflow.domain.errors import PermissionDenied, ValidationFailed
from workflow.mail.senders import build_sender
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.notifications import send_due_notifications
from workflow.services.sample_messages import preview_message, send_test_email


def draft(ctx: ServiceContext, staff: Staff) -> int:
    return svc.create_release(
        ctx, staff.author, language="ko", title="국제보건 회의", body=BODY_KO, topics=[staff.health]
    ).release_id


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_preview_is_the_message_a_subscriber_would_get(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    release_id = draft(ctx, staff)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    preview = parsed(preview_message(ctx, "2026-0001", kind="release", language="ko"))
    subscribe(ctx, "reader@press.example", [staff.health])
    handle_events(ctx)
    drain(ctx, clock)
    [sent] = faulty.received()
    assert preview["Subject"] == sent.message["Subject"] == "2026-0001 국제보건 회의"
    for header in ("From", "List-Id", "List-Unsubscribe-Post", "Precedence"):
        assert preview[header] == sent.message[header], header
    body = preview.get_body(("plain",))
    real = sent.message.get_body(("plain",))
    assert body is not None and real is not None

    # Only the reader's own parts differ: their name and their links.
    def shared(text: str) -> list[str]:
        return [line for line in text.splitlines() if "님께" not in line and "http" not in line]

    assert shared(body.get_content()) == shared(real.get_content())
    assert "1. 외교부는" in body.get_content()


def test_the_preview_command_writes_a_file_and_refuses_in_one_line(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, database_url: str, tmp_path: Path
) -> None:
    release_id = draft(ctx, staff)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    at = clock.now() + timedelta(hours=3)
    svc.schedule_release(ctx, staff.author, release_id, publish_at=at, embargo_until=at)
    env = {**os.environ, "NEWSROOM_DATABASE_URL": database_url}

    def newsroom(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603  # our own console script
            [NEWSROOM, "mail", "preview", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    out = tmp_path / "release.eml"
    done = newsroom("1", "--kind", "embargoed_release", "--lang", "ko", "--out", str(out))
    assert done.returncode == 0, done.stderr
    message = parsed(out.read_bytes())
    assert str(message["Subject"]) == "[엠바고 2026년 5월 14일 12:00 KST] 국제보건 회의"
    for args, code, words in (
        (["1", "--kind", "gossip"], 2, "kind: must be one of"),
        (["1", "--lang", "fr"], 2, "language: must be ko, en or both"),
        (["1", "--lang", "en"], 2, "no text in that language"),
        (["2099-9999"], 3, "does not exist"),
    ):
        refused = newsroom(*args)
        assert refused.returncode == code, (args, refused.stderr)
        assert refused.stderr.count("\n") == 1 and words in refused.stderr, refused.stderr


def test_a_test_copy_reaches_the_officer_alone_and_is_no_delivery(
    ctx: ServiceContext, staff: Staff, faulty: FaultyHandler
) -> None:
    release_id = draft(ctx, staff)
    subscribe(ctx, "reader@press.example", [staff.health])
    address = send_test_email(ctx, staff.author, release_id)
    send_due_notifications(ctx, build_sender(ctx.settings))
    [mail] = faulty.received()
    assert mail.recipients == (address,) and address.endswith("@newsroom.example")
    assert str(mail.message["Subject"]) == "[TEST] 국제보건 회의"
    text = mail.message.get_body(("plain",))
    assert text is not None and "1. 외교부는" in text.get_content()
    with ctx.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(DeliveryRow)) == 0
        actions = list(uow.session.scalars(select(AuditRow.action)))
    assert "send_test_email" in actions


def test_a_test_copy_is_refused_to_readers_and_for_a_missing_version(
    ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff)
    with pytest.raises(PermissionDenied):
        send_test_email(ctx, staff.translator, release_id)
    with pytest.raises(ValidationFailed):
        send_test_email(ctx, staff.author, release_id, language="en")
    # The bilingual message needs both versions; this release has only Korean.
    with pytest.raises(ValidationFailed):
        send_test_email(ctx, staff.author, release_id, language="both")
    with pytest.raises(ValidationFailed):
        preview_message(ctx, str(release_id), kind="release", language="both")
