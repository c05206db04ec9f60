"""Addresses as SMTP carries them (RFC 5321, RFC 5890, RFC 6531).

A subscriber's address is kept as the subscription form normalised it: the local part
as written (NFC), the domain in Unicode (``기자@언론.kr``, ``desk@언론.kr``). On the wire
the domain goes in IDNA A-labels (``desk@xn--6o2b17v.kr``), which every relay takes;
only a local part that is not ASCII needs the relay's SMTPUTF8 extension, and then the
message's headers may carry UTF-8 too (RFC 6532).
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email


@dataclass(frozen=True, slots=True)
class WireAddress:
    """An address in the form it goes in SMTP commands and headers, and whether it
    needs SMTPUTF8 to go at all."""

    address: str
    smtputf8: bool = False


def wire_address(address: str) -> WireAddress:
    """``address`` with its domain in IDNA A-labels (``ValueError`` for one that has no
    such form). An ASCII address is returned as it is, without a look."""
    if address.isascii():
        return WireAddress(address)
    try:
        # The same IDNA 2008 / UTS 46 conversion the subscription form normalised with;
        # deliverability is not this function's business (special-use names pass).
        checked = validate_email(address, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as error:
        raise ValueError(f"{address!r} cannot be sent to: {error}") from None
    # ``smtputf8``: the local part is not ASCII (the domain has its ASCII form above).
    return WireAddress(f"{checked.local_part}@{checked.ascii_domain}", checked.smtputf8)


def no_smtputf8(address: str) -> str:
    """The reason a message to ``address`` fails for good at a relay without SMTPUTF8."""
    return f"not sent: the relay does not offer SMTPUTF8, needed for {address}"
