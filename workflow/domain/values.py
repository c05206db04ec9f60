"""Small value types of the domain and the checks on what people type."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email

from workflow.domain.attachments import Placement
from workflow.domain.checks import single_line
from workflow.domain.errors import ValidationFailed
from workflow.domain.house_format import canonical_body

__all__ = ["Contact", "Language", "Text", "body_text", "normalise_email", "single_line"]


class Language(StrEnum):
    KO = "ko"
    EN = "en"


MAX_TITLE_LENGTH = 300
MAX_NAME_LENGTH = 200
MAX_BODY_LENGTH = 200_000

_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def body_text(field: str, value: str) -> str:
    """A Markdown body: stored as written, with no NUL or other control bytes, except
    that a text in the ministry's house format (pasted from its word processor) is
    stored in its canonical Markdown form (``workflow.domain.house_format``)."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    if _BODY_CONTROL.search(value):
        raise ValidationFailed(field, "must not contain control characters")
    value = canonical_body(value)
    if len(value) > MAX_BODY_LENGTH:
        raise ValidationFailed(field, "must be at most %(limit)s characters", limit=MAX_BODY_LENGTH)
    return value


def normalise_email(value: str, *, field: str = "email") -> str:
    """A syntactically valid address, normalised; no DNS lookup. The one email rule of
    the domain: staff, subscribers and a release's contact.

    Every way of writing an international address is kept as one: the local part in
    NFC, the domain lower-case in Unicode, whether it came in Unicode or IDNA A-labels
    (IDNA 2008 with UTS 46 mapping, so ``언론。KR`` and ``xn--6o2b17v.kr`` are
    ``언론.kr``). The mail port sends the domain as IDNA, and a local part that is not
    ASCII with SMTPUTF8 (``workflow.mail.addresses``)."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(field, str(exc)) from None
    return result.normalized


@dataclass(frozen=True, slots=True)
class Text:
    """What a reader sees of one language version."""

    title: str
    body: str
    subtitle: str = ""
    # The release's photos and documents in the order the page shows them, in this
    # version's words (``workflow.domain.attachments``).
    attachments: tuple[Placement, ...] = ()

    @classmethod
    def checked(cls, title: str, body: str, subtitle: str = "") -> Text:
        return cls(
            title=single_line("title", title, max_length=MAX_TITLE_LENGTH),
            subtitle=single_line("subtitle", subtitle, max_length=MAX_TITLE_LENGTH, required=False),
            body=body_text("body", body),
        )


@dataclass(frozen=True, slots=True)
class Contact:
    """The person journalists call about a release."""

    name: str = ""
    phone: str = ""
    email: str = ""

    @classmethod
    def checked(cls, name: str = "", phone: str = "", email: str = "") -> Contact:
        return cls(
            name=single_line("contact.name", name, max_length=MAX_NAME_LENGTH, required=False),
            phone=single_line("contact.phone", phone, max_length=50, required=False),
            email=normalise_email(email, field="contact.email") if email else "",
        )


def release_number(year: int, sequence: int) -> str:
    """The public number of a release: ``2026-0412``, year and per-year sequence."""
    return f"{year}-{sequence:04d}"
