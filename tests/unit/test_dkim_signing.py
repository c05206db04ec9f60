"""The DKIM signer (``workflow.mail.signing``) against dkimpy, the reference verifier:
every message it signs verifies, with RSA and with Ed25519, Korean subjects and folded
headers included; a changed body or signed header does not; what relaxed and simple
canonicalisation forgive (refolded headers, empty lines added at the end) still does.

dkimpy is given the public keys through ``dnsfunc``, its documented way of answering
the DNS lookup of ``<selector>._domainkey.<domain>``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow.mail import mime
from workflow.mail.message import OutgoingMail
from workflow.mail.signing import SIGNED_HEADERS, DkimKey, DkimSigner

DOMAIN = "press.example"
RSA_KEY = DkimKey("rsa2026", rsa.generate_private_key(public_exponent=65537, key_size=2048))
ED_KEY = DkimKey("ed2026", ed25519.Ed25519PrivateKey.generate())
BOTH = DkimSigner(DOMAIN, (RSA_KEY, ED_KEY))
RECORDS = {
    f"{key.selector}._domainkey.{DOMAIN}.".encode(): key.dns_record().encode()
    for key in (RSA_KEY, ED_KEY)
}


def dns(name: bytes, timeout: int = 5) -> bytes:
    return RECORDS[name]


def verifies(message: bytes, index: int) -> bool:
    """Whether dkimpy verifies the ``index``-th DKIM-Signature of ``message`` (as
    ``dkim.verify`` does for the first: a failure it raises is a no)."""
    try:
        return bool(dkim.DKIM(message).verify(idx=index, dnsfunc=dns))
    except dkim.DKIMException:
        return False


def both_verify(message: bytes) -> bool:
    return verifies(message, 0) and verifies(message, 1)


def notice(subject: str, text: str, name: str = "김기자") -> bytes:
    return OutgoingMail(
        to="reporter@press.example",
        subject=subject,
        text=text,
        html=f"<p>{text}</p>",
        sender=f"{name} <newsroom@{DOMAIN}>",
        message_id=f"<n1@{DOMAIN}>",
        date=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        reply_to=f"press@{DOMAIN}",
    ).to_bytes()


def distribution_message(name: str, subject: str) -> bytes:
    prepared = mime.prepare(
        mime.Variant(subject, f"{mime.NAME}님, 안녕하세요.\n\n본문", "<p>본문</p>"),
        sender=f"뉴스룸 <newsroom@{DOMAIN}>",
        reply_to=f"press@{DOMAIN}",
        list_id=f"Press releases <releases.{DOMAIN}>",
    )
    return mime.assemble(
        prepared,
        to="j1@press.example",
        message_id=f"<d1@{DOMAIN}>",
        date="Mon, 07 Dec 2026 09:00:00 +0000",
        name=name,
        unsubscribe_url="https://press.example/u/abc",
        preferences_url="https://press.example/p/abc",
        unsubscribe_mailto=f"mailto:unsubscribe@{DOMAIN}?subject=unsubscribe%201",
    )


def signature_headers(message: bytes) -> list[bytes]:
    return re.findall(rb"^DKIM-Signature:.*?\r\n(?![ \t])", message, re.M | re.S)


def test_a_distribution_message_verifies_with_both_keys_over_its_list_headers() -> None:
    signed = BOTH.sign(
        distribution_message("김기자", "[보도자료] 외교부, 한-아세안 회의 개최 " * 3)
    )
    assert both_verify(signed)
    first, second = signature_headers(signed)
    assert b"a=rsa-sha256" in first and b"a=ed25519-sha256" in second
    listed = re.search(rb"h=([^;]+);", re.sub(rb"\s", b"", first))
    assert listed is not None
    # A distribution message has every header of the list, both unsubscribe ones too.
    assert listed.group(1).split(b":") == [name.lower() for name in SIGNED_HEADERS]
    assert all(len(line) <= 78 for line in b"".join(signature_headers(signed)).split(b"\r\n"))


def test_only_the_headers_present_are_listed() -> None:
    signed = BOTH.sign(notice("알림", "본문"))
    listed = re.search(rb"h=([^;]+);", re.sub(rb"\s", b"", signature_headers(signed)[0]))
    assert listed is not None
    assert b"list-id" not in listed.group(1).split(b":")
    assert both_verify(signed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=st.text(
        alphabet=st.sampled_from("가나다라 보도자료외교부 abcXYZ\t.,:;!?-[]()\"'"), max_size=200
    ),
    text=st.text(alphabet=st.sampled_from("가나 ab\t.\n\r-"), max_size=400),
    name=st.text(alphabet=st.sampled_from("김이박 기자 Kim"), max_size=20),
)
def test_any_message_signed_verifies_with_both_keys(subject: str, text: str, name: str) -> None:
    """Subjects of any length (folded by ``email.header``, with bare LFs), texts with any
    line ends and trailing space, names in Korean: all verify, both signatures."""
    for message in (notice(subject, text, name), distribution_message(name, subject or "-")):
        assert both_verify(BOTH.sign(message))


def test_a_changed_body_or_signed_header_fails_and_what_canonicalisation_forgives_passes() -> None:
    signed = BOTH.sign(distribution_message("김기자", "대량 배포 " * 12))
    head, body = signed.split(b"\r\n\r\n", 1)

    changed_body = head + b"\r\n\r\n" + body.replace(b"--=_newsroom", b"--=_newsroon", 1)
    assert not verifies(changed_body, 0) and not verifies(changed_body, 1)
    forged_link = signed.replace(b"https://press.example/u/abc", b"https://evil.example/u/abc")
    assert forged_link != signed and not verifies(forged_link, 0) and not verifies(forged_link, 1)
    forged_subject = re.sub(rb"^Subject: =\?utf-8\?b\?", b"Subject: =?utf-8?q?", signed, flags=re.M)
    assert forged_subject != signed and not both_verify(forged_subject)

    # Relaxed headers: a header refolded, its spacing changed, its name in capitals.
    refolded = re.sub(rb"^Date: ", b"DATE:\t \r\n  ", signed, flags=re.M)
    assert refolded != signed and both_verify(refolded)
    # Simple body: empty lines added at its end.
    assert both_verify(signed + b"\r\n\r\n")
    # A header not signed may be added by a relay on the way.
    assert both_verify(b"Received: from relay.example by mx.example\r\n" + signed)


def test_a_header_written_twice_is_signed_at_its_last_instance() -> None:
    message = notice("알림", "본문")
    twice = message.replace(b"Subject: ", b"Subject: first\r\nSubject: ", 1)
    signed = BOTH.sign(twice)
    assert both_verify(signed)
    assert not both_verify(signed.replace(b"Subject: =?", b"Subject: =?x", 1))


def test_a_message_written_with_bare_line_feeds_is_signed_as_it_goes_on_the_wire() -> None:
    message = notice("알림", "본문").replace(b"\r\n", b"\n")
    signed = BOTH.sign(message)
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert both_verify(signed)


@pytest.mark.parametrize("key", [RSA_KEY, ED_KEY], ids=["rsa", "ed25519"])
def test_each_algorithm_alone(key: DkimKey) -> None:
    signed = DkimSigner(DOMAIN, (key,), clock=lambda: 1_796_000_000).sign(notice("알림", "본문"))
    assert b"t=1796000000;" in signed
    assert len(signature_headers(signed)) == 1
    assert verifies(signed, 0)


def test_a_message_of_headers_only_is_signed_over_an_empty_body() -> None:
    message = b"From: n@press.example\r\nTo: j@press.example\r\nSubject: hi\r\n"
    signed = BOTH.sign(message)
    assert signed.endswith(message)
    assert both_verify(signed)
    assert both_verify(signed + b"\r\n"), "an empty body is the same in simple form"


def test_a_message_without_from_is_refused() -> None:
    with pytest.raises(ValueError, match="without a From header"):
        BOTH.sign(b"To: j@press.example\r\nSubject: hi\r\n\r\nbody\r\n")
