"""International addresses (RFC 6531, RFC 5890) through both SMTP senders, against a real
aiosmtpd server on loopback that offers SMTPUTF8 or does not.

A local part that is not ASCII (``기자@언론.kr``) goes with ``MAIL FROM:<…> SMTPUTF8``
where the relay offers it, and fails for good, alone, saying why, where it does not. A
Unicode domain alone (``desk@언론.kr``) goes as IDNA to any relay, without SMTPUTF8.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_string, policy

import dkim
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.private_servers import free_port
from tests.smtp_faults import Faults, FaultyHandler
from workflow.mail import mime
from workflow.mail.catcher import start_catcher
from workflow.mail.envelopes import Envelope as MailEnvelope
from workflow.mail.envelopes import Outcome
from workflow.mail.message import OutgoingMail
from workflow.mail.senders import PermanentMailError, SmtpSender
from workflow.mail.signing import DkimKey, DkimSigner
from workflow.mail.smtp_engine import SmtpBulkSender

KOREAN = "기자@언론.kr"  # needs SMTPUTF8
KOREAN_ON_THE_WIRE = "기자@xn--6o2b17v.kr"
IDNA_ONLY = "desk@언론.kr"  # goes as IDNA, without SMTPUTF8
IDNA_ON_THE_WIRE = "desk@xn--6o2b17v.kr"
SENDER = "newsroom@press.example"


class RecordingHandler(FaultyHandler):
    """A catcher that also keeps each message's MAIL parameters, by recipient."""

    def __init__(self, faults: Faults) -> None:
        super().__init__(faults)
        self.mail_options: dict[str, list[str]] = {}

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for recipient in envelope.rcpt_tos:
            self.mail_options[recipient] = list(envelope.mail_options)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def running_relay(smtputf8: bool) -> Iterator[tuple[RecordingHandler, int, bool]]:
    port = free_port()
    handler = RecordingHandler(Faults())
    controller, _ = start_catcher("127.0.0.1", port, handler=handler, smtputf8=smtputf8)
    try:
        yield handler, port, smtputf8
    finally:
        controller.stop()


@pytest.fixture(params=[True, False], ids=["smtputf8", "ascii-only"])
def relay(request: pytest.FixtureRequest) -> Iterator[tuple[RecordingHandler, int, bool]]:
    """A relay on loopback, offering SMTPUTF8 or not."""
    with running_relay(request.param) as running:
        yield running


def message(to: str, number: int) -> bytes:
    prepared = mime.prepare(
        mime.Variant("보도자료 배포", f"{mime.NAME}님, 안녕하세요.", "<p>안녕하세요</p>"),
        sender=f"뉴스룸 <{SENDER}>",
        list_id="Press releases <releases.press.example>",
    )
    return mime.assemble(
        prepared,
        to=to,
        name="김기자",
        message_id=f"<m{number}@press.example>",
        date="Mon, 07 Dec 2026 09:00:00 +0000",
        unsubscribe_url=f"https://press.example/u/{number}",
    )


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_the_bulk_sender_sends_international_addresses_or_fails_them_alone(
    relay: tuple[RecordingHandler, int, bool], pipelining: bool
) -> None:
    handler, port, offers_smtputf8 = relay
    handler.faults.pipelining = pipelining
    addresses = ["a@press.example", KOREAN, "b@press.example", IDNA_ONLY, "c@press.example"]
    envelopes = [MailEnvelope(i, SENDER, to, message(to, i)) for i, to in enumerate(addresses * 2)]
    # One connection and chunks of five: the Korean one sits between two messages on the
    # same connection, its content chained with theirs where the relay pipelines.
    results = SmtpBulkSender("127.0.0.1", port, timeout=10).send(envelopes, connections=1, chunk=5)

    outcomes = {r.delivery_id: r for r in results}
    assert len(outcomes) == len(envelopes)
    received = {m.recipients[0]: m for m in handler.received()}
    for envelope in envelopes:
        result = outcomes[envelope.delivery_id]
        if envelope.to == KOREAN and not offers_smtputf8:
            assert result.outcome is Outcome.PERMANENT
            assert result.reply == (
                f"not sent: the relay does not offer SMTPUTF8, needed for {KOREAN}"
            )
            assert result.relay_unable, "not the address's fault: no bounce"
        else:
            assert result.outcome is Outcome.SENT, result
            assert not result.relay_unable
    expected = {"a@press.example", "b@press.example", "c@press.example", IDNA_ON_THE_WIRE}
    if offers_smtputf8:
        expected.add(KOREAN_ON_THE_WIRE)
    assert set(received) == expected
    assert len(handler.received()) == 2 * len(expected), "each sent once, nothing more"
    # IDNA alone needs no SMTPUTF8; the To header carries the address as the envelope does.
    assert "SMTPUTF8" not in handler.mail_options[IDNA_ON_THE_WIRE]
    assert received[IDNA_ON_THE_WIRE].data.count(f"To: {IDNA_ON_THE_WIRE}\r\n".encode()) == 1
    if offers_smtputf8:
        assert "SMTPUTF8" in handler.mail_options[KOREAN_ON_THE_WIRE]
        korean = received[KOREAN_ON_THE_WIRE]
        assert f"To: {KOREAN_ON_THE_WIRE}\r\n".encode() in korean.data
        parsed = message_from_string(korean.data.decode("utf-8"), policy=policy.default)
        [to] = parsed["To"].addresses
        assert to.addr_spec == KOREAN_ON_THE_WIRE, "a UTF-8 header (RFC 6532) a reader parses"
    assert "SMTPUTF8" not in handler.mail_options["a@press.example"]


def test_a_signed_message_to_a_korean_address_verifies_as_received() -> None:
    """The DKIM signature covers the UTF-8 To header as it goes on the wire."""
    key = DkimKey("s1", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    signed = DkimSigner("press.example", (key,)).sign(message(KOREAN, 1))
    with running_relay(smtputf8=True) as (handler, port, _):
        sent = SmtpBulkSender("127.0.0.1", port, timeout=10).send(
            [MailEnvelope(1, SENDER, KOREAN, signed)]
        )
    assert [r.outcome for r in sent] == [Outcome.SENT]
    [received] = handler.received()
    record = key.dns_record().encode()
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)
    forged = received.data.replace(KOREAN_ON_THE_WIRE.encode(), b"other@xn--6o2b17v.kr")
    assert not dkim.verify(forged, dnsfunc=lambda name, timeout=5: record)


def notice(to: str) -> OutgoingMail:
    return OutgoingMail(
        to=to,
        subject="구독 확인",
        text="구독을 확인해 주세요.",
        html="<p>구독을 확인해 주세요.</p>",
        sender=f"Newsroom <{SENDER}>",
        message_id="<c1@press.example>",
        date=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
    )


def test_the_single_message_sender_sends_with_smtputf8_or_fails_for_good(
    relay: tuple[RecordingHandler, int, bool],
) -> None:
    handler, port, offers_smtputf8 = relay
    sender = SmtpSender("127.0.0.1", port, timeout=10)

    sender.send(notice(IDNA_ONLY))
    assert [m.recipients for m in handler.received()] == [(IDNA_ON_THE_WIRE,)]
    assert "SMTPUTF8" not in handler.mail_options[IDNA_ON_THE_WIRE]

    if offers_smtputf8:
        sender.send(notice(KOREAN))
        assert handler.received()[-1].recipients == (KOREAN_ON_THE_WIRE,)
        assert "SMTPUTF8" in handler.mail_options[KOREAN_ON_THE_WIRE]
    else:
        with pytest.raises(PermanentMailError) as refused:
            sender.send(notice(KOREAN))
        assert str(refused.value) == (
            f"not sent: the relay does not offer SMTPUTF8, needed for {KOREAN}"
        )
        assert len(handler.received()) == 1, "nothing more reached the relay"
