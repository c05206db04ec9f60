"""DKIM: with a key configured, every email arrives signed and the signature verifies
against the published key: distribution emails over both List-Unsubscribe headers, and
the workflow notices too."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import dkim
import pytest

from tests.conftest import Staff
from tests.integration.test_distribution import drain, handle_events, published_release, subscribe
from tests.integration.test_notifications import handle_all
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.mail.senders import build_sender
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.notifications import send_due_notifications

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl for a key")


@pytest.fixture
def key_pair(tmp_path: Path) -> tuple[Path, bytes]:
    """A fresh RSA key, and the DNS TXT record that would publish its public half."""
    private = tmp_path / "dkim.pem"
    subprocess.run(  # noqa: S603
        ["openssl", "genrsa", "-out", str(private), "2048"],  # noqa: S607
        check=True,
        capture_output=True,
    )
    public = subprocess.run(  # noqa: S603
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_distribution_emails_are_signed_over_both_unsubscribe_headers(
    ctx: ServiceContext,
    staff: Staff,
    faulty: FaultyHandler,
    clock: FrozenClock,
    key_pair: tuple[Path, bytes],
) -> None:
    private, record = key_pair
    ctx.settings.dkim_private_key_file = private
    ctx.settings.dkim_selector = "press2026"
    ctx.settings.mail_from = "Newsroom <newsroom@newsroom.example>"  # signs for its domain
    for i in range(3):
        subscribe(ctx, f"j{i}@press.example", [staff.health], language="en")
    published_release(ctx, staff)
    handle_events(ctx)
    drain(ctx, clock)

    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record

    messages = [m.data for m in faulty.received()]
    assert len(messages) == 3
    for data in messages:
        assert dkim.verify(data, dnsfunc=dns), "the signature verifies"
        header = re.search(rb"^DKIM-Signature:(.*?)\r\n(?! )", data, re.M | re.S)
        assert header is not None
        signed = re.search(rb"h=([^;]+)", re.sub(rb"\s", b"", header.group(1)))
        assert signed is not None
        names = {h.lower() for h in signed.group(1).split(b":")}
        assert {b"list-unsubscribe", b"list-unsubscribe-post", b"from", b"subject"} <= names
        forged = re.sub(
            rb"^List-Unsubscribe: <[^>]+>",
            b"List-Unsubscribe: <https://evil.example/u>",
            data,
            flags=re.M,
        )
        assert forged != data and not dkim.verify(forged, dnsfunc=dns), "a changed link fails"
    assert set(asked) == {b"press2026._domainkey.newsroom.example."}


def test_workflow_notices_are_signed_too(
    ctx: ServiceContext, staff: Staff, faulty: FaultyHandler, key_pair: tuple[Path, bytes]
) -> None:
    private, record = key_pair
    ctx.settings.dkim_private_key_file = private
    ctx.settings.dkim_selector = "press2026"
    ctx.settings.mail_from = "Newsroom <newsroom@newsroom.example>"
    release_id = published_release(ctx, staff)
    svc.withdraw_release(ctx, staff.approver, release_id, "잘못 배포되었습니다.")
    handle_all(ctx)
    assert send_due_notifications(ctx, build_sender(ctx.settings)).sent >= 1
    notices = [m.data for m in faulty.received()]
    assert notices, "the author's notice reached the relay"
    for data in notices:
        assert data.startswith(b"DKIM-Signature:")
        assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record)
