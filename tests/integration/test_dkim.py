"""DKIM: with a key configured, every email arrives signed and the signature verifies
against the published key: distribution emails over both List-Unsubscribe headers, and
the workflow notices too; with an Ed25519 key beside the RSA one, both signatures."""

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
from workflow.mail import mime, signing
from workflow.mail.catcher import CatchingHandler
from workflow.mail.envelopes import Envelope, Outcome
from workflow.mail.senders import build_sender
from workflow.mail.smtp_engine import SmtpBulkSender
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


@pytest.fixture
def ed25519_key_pair(tmp_path: Path) -> tuple[Path, bytes]:
    """A fresh Ed25519 key, and the TXT record of its raw public key (RFC 8463)."""
    private = tmp_path / "dkim-ed25519.pem"
    subprocess.run(  # noqa: S603
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(private)],  # noqa: S607
        check=True,
        capture_output=True,
    )
    public = subprocess.run(  # noqa: S603
        ["openssl", "pkey", "-in", str(private), "-pubout", "-outform", "DER"],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    # The DER SubjectPublicKeyInfo of an Ed25519 key ends with the 32 bytes of the key.
    return private, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public[-32:])


def test_with_an_ed25519_key_too_every_message_carries_both_signatures(
    ctx: ServiceContext,
    staff: Staff,
    faulty: FaultyHandler,
    clock: FrozenClock,
    key_pair: tuple[Path, bytes],
    ed25519_key_pair: tuple[Path, bytes],
) -> None:
    """Many messages, Korean names and a Korean subject long enough to fold, each with
    an RSA and an Ed25519 signature that dkimpy verifies; a changed body fails both."""
    (rsa_key, rsa_record), (ed_key, ed_record) = key_pair, ed25519_key_pair
    ctx.settings.dkim_private_key_file = rsa_key
    ctx.settings.dkim_selector = "rsa2026"
    ctx.settings.dkim_ed25519_private_key_file = ed_key
    ctx.settings.dkim_ed25519_selector = "ed2026"
    ctx.settings.mail_from = "뉴스룸 <newsroom@newsroom.example>"
    records = {
        b"rsa2026._domainkey.newsroom.example.": rsa_record,
        b"ed2026._domainkey.newsroom.example.": ed_record,
    }

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return records[name]

    for i in range(24):
        subscribe(ctx, f"k{i}@press.example", [staff.health], name=f"김기자{i}")
    release_id = svc.create_release(
        ctx,
        staff.author,
        language="ko",
        title="외교부, 제5차 한-아세안 보건협력 고위급 회의 개최 및 공동성명 채택 " * 2,
        body="회의 결과를 알려 드립니다.",
        topics=[staff.health],
    ).release_id
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    handle_events(ctx)
    drain(ctx, clock)

    messages = [m.data for m in faulty.received()]
    assert len(messages) == 24
    for data in messages:
        assert data.count(b"DKIM-Signature:") == 2
        for index in (0, 1):
            assert dkim.DKIM(data).verify(idx=index, dnsfunc=dns), f"signature {index}"
        # A list that appends its footer on the way breaks both (no l= tag is signed).
        appended = data + b"--\r\nSent through a mailing list\r\n"
        for index in (0, 1):
            with pytest.raises(dkim.ValidationError, match="body hash mismatch"):
                dkim.DKIM(appended).verify(idx=index, dnsfunc=dns)


def test_a_key_of_the_wrong_kind_is_refused_naming_the_setting(
    ctx: ServiceContext, key_pair: tuple[Path, bytes], ed25519_key_pair: tuple[Path, bytes]
) -> None:
    ctx.settings.dkim_private_key_file = ed25519_key_pair[0]
    with pytest.raises(ValueError, match="NEWSROOM_DKIM_PRIVATE_KEY_FILE must hold an RSA key"):
        signing.signer(ctx.settings)
    ctx.settings.dkim_private_key_file = key_pair[0]
    ctx.settings.dkim_ed25519_private_key_file = key_pair[0]
    with pytest.raises(ValueError, match="NEWSROOM_DKIM_ED25519_PRIVATE_KEY_FILE"):
        signing.signer(ctx.settings)


def test_the_bulk_engine_signs_each_message_as_it_goes_when_given_a_signer(
    smtp: tuple[CatchingHandler, int], key_pair: tuple[Path, bytes]
) -> None:
    handler, port = smtp
    private, record = key_pair
    key = signing.load_key("press2026", private)
    relay = SmtpBulkSender(
        "127.0.0.1", port, timeout=10, signer=signing.DkimSigner("newsroom.example", (key,))
    )
    prepared = mime.prepare(
        mime.Variant(
            "[보도자료] 외교부, 한-아세안 보건협력 고위급 회의 개최 " * 2, "본문", "<p>본문</p>"
        ),
        sender="뉴스룸 <newsroom@newsroom.example>",
        list_id="Press releases <releases.newsroom.example>",
    )
    envelopes = [
        Envelope(
            i,
            "newsroom@newsroom.example",
            f"j{i}@press.example",
            mime.assemble(
                prepared,
                to=f"j{i}@press.example",
                name=f"김기자{i}",
                message_id=f"<m{i}@newsroom.example>",
                date="Mon, 07 Dec 2026 09:00:00 +0000",
                unsubscribe_url=f"https://newsroom.example/u/{i}",
            ),
        )
        for i in range(12)
    ]
    results = relay.send(envelopes, connections=3, chunk=4)
    assert [r.outcome for r in results] == [Outcome.SENT] * 12
    received = [m.data for m in handler.received()]
    assert len(received) == 12
    for data in received:
        assert data.count(b"DKIM-Signature:") == 1
        assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record)
