"""The mail port: every email leaves through one of two small interfaces, each with an
SMTP, an in-memory and a null implementation chosen by ``NEWSROOM_MAIL_BACKEND``.

- ``MailSender`` sends one message at a time (workflow notices, confirmations). Its
  errors are sorted into transient (worth retrying later) and permanent (the address or
  message is refused).
- ``BulkSender`` sends a fan-out's envelopes and reports a ``Result`` for each, telling
  its caller of progress through ``ChunkHooks`` (``workflow.mail.envelopes``).

``memory`` keeps what it was given (tests, development); ``null`` drops everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import aiosmtplib

from config.settings import Settings
from workflow.mail import signing, smtp_wire
from workflow.mail.addresses import no_smtputf8, wire_address
from workflow.mail.envelopes import ChunkHooks, Envelope, Outcome, Result
from workflow.mail.message import OutgoingMail
from workflow.mail.mime import mail_address
from workflow.mail.send_rate import SendRate, build_send_rate
from workflow.mail.signing import DkimSigner
from workflow.mail.smtp_engine import SmtpBulkSender


class MailError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientMailError(MailError):
    """Try again later: a 4xx reply, a dropped connection, a timeout."""


class PermanentMailError(MailError):
    """Do not try again: a 5xx reply, a refused recipient, an address that needs SMTPUTF8
    at a relay without it."""


class MailSender(Protocol):
    def send(self, mail: OutgoingMail) -> None:
        """Hand ``mail`` to the relay, or raise a ``MailError``."""
        ...


class MemorySender:
    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []

    def send(self, mail: OutgoingMail) -> None:
        mail.to_bytes()  # the same checks as a real send
        self.sent.append(mail)


class NullSender:
    def send(self, mail: OutgoingMail) -> None:
        mail.to_bytes()


class SmtpSender:
    """One SMTP transaction per message: fine for workflow notifications, which are few.
    (Bulk distribution keeps a pool of open connections instead.) An address's Unicode
    domain goes as IDNA; a local part that is not ASCII goes with SMTPUTF8 where the
    relay offers it, and fails for good where it does not."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        signer: DkimSigner | None = None,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.starttls = username, password, starttls
        self.signer = signer

    def send(self, mail: OutgoingMail) -> None:
        asyncio.run(self._send(mail))

    async def _send(self, mail: OutgoingMail) -> None:
        data = mail.to_bytes()
        if self.signer is not None:
            # Receivers judge every message of the domain, not only the bulk ones.
            data = self.signer.sign(data)
        try:
            sender, recipient = wire_address(mail_address(mail.sender)), wire_address(mail.to)
        except ValueError as error:
            raise PermanentMailError(f"not sent: {error}") from None
        utf8 = sender.smtputf8 or recipient.smtputf8
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout,
            username=self.username or None,
            password=self.password or None,
            start_tls=self.starttls,
        )
        try:
            async with client:
                if utf8:
                    await smtp_wire.greet(client)
                    if not client.supports_extension("smtputf8"):
                        raise PermanentMailError(no_smtputf8(mail.to))
                errors, _reply = await client.sendmail(
                    sender.address,
                    [recipient.address],
                    data,
                    mail_options=["SMTPUTF8"] if utf8 else None,
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


class BulkSender(Protocol):
    def send(
        self,
        envelopes: Sequence[Envelope],
        *,
        connections: int = 4,
        chunk: int = 1,
        hooks: ChunkHooks | None = None,
    ) -> list[Result]:
        """Send every envelope over up to ``connections`` connections, ``chunk`` at a
        time each, telling ``hooks``; a result for each envelope sent, never a raise."""
        ...


class MemoryBulkSender:
    """Keeps every message it is given, each accepted at once, in the order sent. The
    hooks are told as the SMTP sender tells them, one chunk after another."""

    def __init__(self) -> None:
        self.sent: list[Envelope] = []

    def send(
        self,
        envelopes: Sequence[Envelope],
        *,
        connections: int = 4,
        chunk: int = 1,
        hooks: ChunkHooks | None = None,
    ) -> list[Result]:
        hooks = hooks or ChunkHooks()
        size = max(1, chunk)
        chunks = [list(envelopes[i : i + size]) for i in range(0, len(envelopes), size)]
        results: list[Result] = []
        previous: tuple[list[Envelope], list[Result]] | None = None
        for batch in chunks:
            if not hooks.keep_going():
                if previous is not None:
                    hooks.after(*previous)
                    previous = None
                hooks.after(batch, [])
                continue
            batch = hooks.between(*previous, batch) if previous else hooks.before(batch)
            done = [self._accept(envelope) for envelope in batch]
            results.extend(done)
            previous = (batch, done)
        if previous is not None:
            hooks.after(*previous)
        return results

    def _accept(self, envelope: Envelope) -> Result:
        self.sent.append(envelope)
        return Result(envelope.delivery_id, Outcome.SENT, "250 kept in memory")


class NullBulkSender(MemoryBulkSender):
    """Accepts every message and keeps none."""

    def _accept(self, envelope: Envelope) -> Result:
        return Result(envelope.delivery_id, Outcome.SENT, "250 dropped")


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
        signer=signing.signer(settings),
    )


class SettingsBulkSender:
    """The SMTP bulk sender of the relay the settings name, as they are at each send
    (an operator's or a test's change of relay applies to the next batch), paced by one
    ``SendRate`` kept across sends (``workflow.mail.send_rate``): shared through Redis
    with every sending task of every host when the broker is Redis, else this
    process's own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._rate: tuple[tuple[str, float], SendRate | None] | None = None

    def rate(self) -> SendRate | None:
        """The send rate of the settings as they are now; the same one while the limit
        and the broker stay as they were."""
        wanted = (self.settings.broker_url, self.settings.smtp_max_per_second)
        if self._rate is None or self._rate[0] != wanted:
            self._rate = (wanted, build_send_rate(self.settings))
        return self._rate[1]

    def send(
        self,
        envelopes: Sequence[Envelope],
        *,
        connections: int = 4,
        chunk: int = 1,
        hooks: ChunkHooks | None = None,
    ) -> list[Result]:
        settings = self.settings
        relay = SmtpBulkSender(
            settings.smtp_host,
            settings.smtp_port,
            timeout=settings.smtp_timeout,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            rate=self.rate(),
        )
        return relay.send(envelopes, connections=connections, chunk=chunk, hooks=hooks)


def build_bulk_sender(settings: Settings) -> BulkSender:
    if settings.mail_backend == "memory":
        return MemoryBulkSender()
    if settings.mail_backend == "null":
        return NullBulkSender()
    return SettingsBulkSender(settings)
