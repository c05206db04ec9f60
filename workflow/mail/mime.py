"""The one MIME builder: every email Newsroom sends, a workflow notice as a release to
thousands, is a multipart/alternative document written here (plain text first, then
HTML, both base64; the subject as RFC 2047 encoded words).

A fan-out renders a message once per (release, kind, language) and fills in each
recipient's parts by string replacement, because building a Python ``EmailMessage`` per
recipient costs more than sending it. ``prepare`` does what every recipient shares
(headers checked and encoded once); ``assemble`` adds one recipient's own.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

from workflow.mail.addresses import wire_address

# Per-recipient parts of a rendered variant, replaced in ``assemble``.
NAME, UNSUBSCRIBE, PREFERENCES = "\x01name\x01", "\x01unsubscribe\x01", "\x01preferences\x01"
BOUNDARY = "=_newsroom_alternative_7f3c"

_HEADER_BREAK = re.compile(r"[\r\n\x00]")


class HeaderInjection(ValueError):
    """A header value carried a line break: refused rather than sent."""


def header_value(name: str, value: str) -> str:
    if _HEADER_BREAK.search(value):
        raise HeaderInjection(f"the {name} header must be one line")
    return value


@dataclass(frozen=True, slots=True)
class Variant:
    """The rendered subject and bodies, with placeholders for per-recipient parts."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Prepared:
    """A variant with everything that is the same for all its recipients done once:
    the headers that do not vary, already checked and encoded."""

    variant: Variant
    head: str


def prepare(
    variant: Variant,
    *,
    sender: str,
    reply_to: str = "",
    list_id: str = "",
) -> Prepared:
    """Encode and check the headers every recipient of ``variant`` shares. With
    ``list_id``, the headers of a mailing list's message (RFC 2919, RFC 8058, bulk
    precedence); without, those of a message to one person."""
    headers = [
        ("From", _mailbox(header_value("From", sender))),
        ("Subject", encoded_text(header_value("Subject", variant.subject))),
    ]
    if reply_to:
        headers.insert(1, ("Reply-To", _mailbox(header_value("Reply-To", reply_to))))
    if list_id:
        headers += [
            ("List-Id", header_value("List-Id", list_id)),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("Precedence", "bulk"),
        ]
    headers += [
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{BOUNDARY}"'),
    ]
    return Prepared(variant, _lines(headers))


# Bytes of UTF-8 in one encoded word: 56 characters of base64, so that the word (68
# characters) and "Subject: " fit a 78-character line.
_WORD_BYTES = 42


def encoded_text(value: str) -> str:
    """``value`` as an unstructured header's text (RFC 2047), folded with CRLF.

    ASCII goes as it is, folded before spaces, which unfolding keeps. Anything else goes
    as base64 encoded words of whole characters, none of which begins or ends with a
    space: a decoder drops the white space between two encoded words, and some also
    trim the edges of each decoded word, which would lose a space that fell there.
    """
    if value.isascii() and "=?" not in value:
        return _folded_ascii(value)
    words: list[str] = []
    start = 0
    while start < len(value):
        end = start
        size = 0
        while end < len(value) and size + len(value[end].encode()) <= _WORD_BYTES:
            size += len(value[end].encode())
            end += 1
        # Never split next to a space: move the boundary back into the word before it.
        while end < len(value) and end - start > 1 and (value[end - 1] == " " or value[end] == " "):
            end -= 1
        chunk = value[start:end].encode()
        words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=")
        start = end
    return "\r\n ".join(words)


def _folded_ascii(value: str, width: int = 76) -> str:
    lines: list[str] = []
    line = ""
    for word in value.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    # Each fold is CRLF before the space that separated two words: unfolding keeps it.
    return "\r\n ".join(lines)


def message_date(moment: datetime) -> str:
    return format_datetime(moment)


def new_message_id(domain: str) -> str:
    return make_msgid(domain=domain)


def mail_domain(sender: str) -> str:
    """The domain of the sender address (``Newsroom <news@press.example>``), for
    Message-IDs and list headers."""
    address = mail_address(sender)
    return address.rsplit("@", 1)[-1] if "@" in address else "localhost"


def mail_address(value: str) -> str:
    """The bare address of ``Name <address>`` (or of a bare address)."""
    return value.rsplit("<", 1)[-1].rstrip(">").strip()


def assemble(
    prepared: Prepared,
    *,
    to: str,
    message_id: str,
    date: str,
    name: str = "",
    unsubscribe_url: str = "",
    preferences_url: str = "",
    unsubscribe_mailto: str = "",
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """One recipient's message: the shared head, then what is theirs. Every header value
    that varies is checked for line breaks here. ``to`` goes as SMTP carries it: a
    Unicode domain in IDNA; a local part that is not ASCII in UTF-8 (RFC 6532), for a
    relay with SMTPUTF8."""
    variant = prepared.variant
    text = (
        variant.text.replace(NAME, name)
        .replace(UNSUBSCRIBE, unsubscribe_url)
        .replace(PREFERENCES, preferences_url)
    )
    body_html = (
        variant.html.replace(NAME, html.escape(name))
        .replace(UNSUBSCRIBE, html.escape(unsubscribe_url))
        .replace(PREFERENCES, html.escape(preferences_url))
    )
    own = [("To", _header_address(to)), ("Date", date), ("Message-ID", message_id)]
    if unsubscribe_url:
        links = f"<{unsubscribe_url}>" + (f", <{unsubscribe_mailto}>" if unsubscribe_mailto else "")
        own.append(("List-Unsubscribe", links))
    own.extend(headers)
    checked = _lines((key, header_value(key, value)) for key, value in own)
    parts = "".join(
        f'--{BOUNDARY}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{_base64_lines(body)}\r\n"
        for subtype, body in (("plain", text), ("html", body_html))
    )
    message = f"{prepared.head}{checked}\r\n{parts}--{BOUNDARY}--\r\n"
    return message.encode("ascii" if own[0][1].isascii() else "utf-8")


def _header_address(to: str) -> str:
    if to.isascii():
        return to
    try:
        return wire_address(to).address
    except ValueError:  # no message goes to it: the sender refuses it, saying why
        return to


def _lines(headers: Iterable[tuple[str, str]]) -> str:
    return "".join(f"{key}: {value}\r\n" for key, value in headers)


def _base64_lines(text: str) -> str:
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _mailbox(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((str(Header(name, "utf-8")) if name else "", address))
