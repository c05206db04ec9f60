"""Mail senders behind one small interface, chosen by ``NEWSROOM_MAIL_BACKEND``.

``SmtpSender`` talks to a real relay through aiosmtplib; ``MemorySender`` keeps what it
was given (tests, development); ``NullSender`` drops everything. Errors are sorted into
transient (worth retrying later) and permanent (the address or message is refused).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import aiosmtplib

from config.settings import Settings
from workflow.mail.message import OutgoingMail


class MailError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientMailError(MailError):
    """Try again later: a 4xx reply, a dropped connection, a timeout."""


class PermanentMailError(MailError):
    """Do not try again: a 5xx reply, a refused recipient."""


class MailSender(Protocol):
    def send(self, mail: OutgoingMail) -> None:
        """Hand ``mail`` to the relay, or raise a ``MailError``."""
        ...


class MemorySender:
    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []

    def send(self, mail: OutgoingMail) -> None:
        mail.to_message()  # the same checks as a real send
        self.sent.append(mail)


class NullSender:
    def send(self, mail: OutgoingMail) -> None:
        mail.to_message()


class SmtpSender:
    """One SMTP transaction per message: fine for workflow notifications, which are few.
    (Bulk distribution keeps a pool of open connections instead.)"""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        username: str = "",
        password: str = "",
        starttls: bool = False,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.starttls = username, password, starttls

    def send(self, mail: OutgoingMail) -> None:
        asyncio.run(self._send(mail))

    async def _send(self, mail: OutgoingMail) -> None:
        try:
            errors, _reply = await aiosmtplib.send(
                mail.to_message(),
                hostname=self.host,
                port=self.port,
                timeout=self.timeout,
                username=self.username or None,
                password=self.password or None,
                start_tls=self.starttls,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            refusal = error.recipients[0] if error.recipients else None
            code = refusal.code if refusal else None
            raise _classify(code, str(error)) from None
        except aiosmtplib.SMTPResponseException as error:
            raise _classify(error.code, error.message) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise TransientMailError(f"{type(error).__name__}: {error}") from None
        if errors:
            code, message = next(iter(errors.values()))
            raise _classify(code, message)


def _classify(code: int | None, message: str) -> MailError:
    if code is not None and 500 <= code < 600:
        return PermanentMailError(f"{code} {message}", code=code)
    return TransientMailError(f"{code} {message}", code=code)


def build_sender(settings: Settings) -> MailSender:
    if settings.mail_backend == "memory":
        return MemorySender()
    if settings.mail_backend == "null":
        return NullSender()
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        timeout=settings.smtp_timeout,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )
