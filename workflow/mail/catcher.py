"""A local SMTP server that keeps what it receives: the mail catcher of the embedded mode
(``newsroom up``) and of the tests. Messages are kept in memory and, with a folder, as
``.eml`` files one can open, numbered in the order they came (``000001.eml``, ...)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class CaughtMail:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage
    data: bytes = b""  # as received, byte for byte (a signature is checked on these)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


class CatchingHandler:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.mail: list[CaughtMail] = []
        self._lock = threading.Lock()
        self._number = 0
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            # Mail caught before a restart stays, and the numbers go on from it.
            self._number = max(
                (int(path.stem) for path in folder.glob("*.eml") if path.stem.isdigit()),
                default=0,
            )

    # The name is aiosmtpd's hook.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        caught = CaughtMail(
            str(envelope.mail_from), tuple(str(r) for r in envelope.rcpt_tos), message, data
        )
        with self._lock:
            self.mail.append(caught)
            if self.folder is not None:
                self._keep(self.folder, data)
        return "250 Message accepted for delivery"

    def _keep(self, folder: Path, data: bytes) -> None:
        """Writes the next number's file, never over an existing one: another catcher on
        the same folder may have taken the number."""
        while True:
            self._number += 1
            try:
                with (folder / f"{self._number:06d}.eml").open("xb") as file:
                    file.write(data)
            except FileExistsError:
                continue
            return

    def received(self) -> list[CaughtMail]:
        with self._lock:
            return list(self.mail)


def start_catcher(
    host: str = "127.0.0.1",
    port: int = 8025,
    *,
    handler: Any = None,
    folder: Path | None = None,
    smtputf8: bool = False,
) -> tuple[Controller, Any]:
    """Start a catcher in a background thread; returns the controller (``.stop()``) and
    the handler (``.received()``). With ``smtputf8`` it offers SMTPUTF8 (RFC 6531) and
    takes addresses that need it."""
    handler = handler or CatchingHandler(folder)
    controller = Controller(handler, hostname=host, port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    return controller, handler
