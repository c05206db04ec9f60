"""International addresses, from the subscription form to the wire: every way of writing
one address is kept as one (local part NFC, domain in Unicode, lower case), and that
form goes out with its domain in IDNA, needing SMTPUTF8 only for a local part that is
not ASCII."""

from __future__ import annotations

import unicodedata

import pytest

from workflow.domain.errors import ValidationFailed
from workflow.domain.values import normalise_email
from workflow.mail import mime
from workflow.mail.addresses import WireAddress, wire_address

KEPT = "기자@언론.kr"


@pytest.mark.parametrize(
    "written",
    [
        "기자@언론.kr",
        " 기자@언론.kr ",
        "기자@언론.KR",
        "기자@XN--6O2B17V.KR",  # the domain as IDNA A-labels, in capitals
        "기자@xn--6o2b17v.kr",
        "기자@언론。kr",  # an ideographic full stop, as a Korean keyboard may type it
        unicodedata.normalize("NFD", "기자@언론.kr"),  # Hangul decomposed into jamo
    ],
)
def test_every_spelling_of_an_international_address_is_kept_as_one(written: str) -> None:
    assert normalise_email(written) == KEPT


def test_the_domain_is_normalised_by_idna_2008_and_the_local_part_kept_as_written() -> None:
    assert normalise_email("Desk@ＰＲＥＳＳ.Example") == "Desk@press.example"
    # IDNA 2008 keeps ß (IDNA 2003 made it "ss": another domain).
    assert normalise_email("user@xn--strae-oqa.de") == "user@straße.de"
    assert normalise_email("기자@press.example") == "기자@press.example"


@pytest.mark.parametrize("written", ["기자＠언론.kr", "기자@언론", "기자@-언론.kr", "@언론.kr"])
def test_what_is_no_address_is_refused(written: str) -> None:
    with pytest.raises(ValidationFailed):
        normalise_email(written)


@pytest.mark.parametrize(
    ("kept", "on_the_wire"),
    [
        ("j1@press.example", WireAddress("j1@press.example")),
        ("desk@언론.kr", WireAddress("desk@xn--6o2b17v.kr")),
        ("기자@언론.kr", WireAddress("기자@xn--6o2b17v.kr", smtputf8=True)),
        ("기자@press.example", WireAddress("기자@press.example", smtputf8=True)),
        ("user@straße.de", WireAddress("user@xn--strae-oqa.de")),
    ],
)
def test_a_kept_address_goes_with_its_domain_in_idna(kept: str, on_the_wire: WireAddress) -> None:
    assert wire_address(kept) == on_the_wire


def test_an_address_with_no_wire_form_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="cannot be sent to"):
        wire_address("기자@언론..kr")


def assembled(to: str) -> bytes:
    prepared = mime.prepare(mime.Variant("제목", "본문", "<p>본문</p>"), sender="n@press.example")
    return mime.assemble(prepared, to=to, message_id="<m1@press.example>", date="-")


def test_the_to_header_carries_the_address_as_the_envelope_does() -> None:
    idna = assembled("desk@언론.kr")
    assert b"\r\nTo: desk@xn--6o2b17v.kr\r\n" in idna
    assert idna.isascii(), "a Unicode domain alone needs no UTF-8 header"
    korean = assembled("기자@언론.kr")
    assert "\r\nTo: 기자@xn--6o2b17v.kr\r\n".encode() in korean  # RFC 6532, with SMTPUTF8
