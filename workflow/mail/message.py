"""One email as Newsroom sends it, and its conversion to a MIME message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

_HEADER_BREAK = re.compile(r"[\r\n\x00]")


class HeaderInjection(ValueError):
    """A header value carried a line break: refused rather than sent."""


def header_value(name: str, value: str) -> str:
    if _HEADER_BREAK.search(value):
        raise HeaderInjection(f"the {name} header must be one line")
    return value


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    html: str
    sender: str
    message_id: str
    date: datetime
    reply_to: str = ""
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def to_message(self) -> EmailMessage:
        """multipart/alternative: the plain-text part first, then the HTML part."""
        message = EmailMessage()
        message["From"] = header_value("From", self.sender)
        message["To"] = header_value("To", self.to)
        message["Subject"] = header_value("Subject", self.subject)
        message["Date"] = format_datetime(self.date)
        message["Message-ID"] = header_value("Message-ID", self.message_id)
        if self.reply_to:
            message["Reply-To"] = header_value("Reply-To", self.reply_to)
        message["Auto-Submitted"] = "auto-generated"
        for name, value in self.headers:
            message[name] = header_value(name, value)
        message.set_content(self.text, subtype="plain", charset="utf-8")
        message.add_alternative(self.html, subtype="html", charset="utf-8")
        return message


def new_message_id(domain: str) -> str:
    return make_msgid(domain=domain)


def mail_domain(sender: str) -> str:
    """The domain of the sender address (``Newsroom <news@press.example>``), for
    Message-IDs and list headers."""
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rsplit("@", 1)[-1] if "@" in address else "localhost"
