"""One email to one person (a workflow notice, a subscription confirmation), as the
single-message senders take it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from workflow.mail import mime


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

    def to_bytes(self) -> bytes:
        """The message as it goes on the wire (``HeaderInjection`` for a header value
        with a line break)."""
        prepared = mime.prepare(
            mime.Variant(self.subject, self.text, self.html),
            sender=self.sender,
            reply_to=self.reply_to,
        )
        return mime.assemble(
            prepared,
            to=self.to,
            message_id=self.message_id,
            date=mime.message_date(self.date),
            headers=self.headers,
        )
