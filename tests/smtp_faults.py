"""An SMTP server on loopback that misbehaves on purpose, deterministically."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, Envelope, Session

from workflow.mail.catcher import CatchingHandler


@dataclass
class Faults:
    temporary_share: float = 0.0  # answer 451 to this share of messages
    drop_share: float = 0.0  # keep the message, then drop the connection before replying
    refuse: set[str] = field(default_factory=set)  # answer 550 to these recipients
    busy: set[str] = field(default_factory=set)  # answer 451 to these recipients
    # Answer DATA with 354 even when every recipient was refused, as RFC 2920 section 3.1
    # warns a pipelining client a server may; the message that follows is refused.
    data_after_refusal: bool = False
    # Say PIPELINING in the EHLO answer. aiosmtpd takes commands in turn from what it has
    # read, so it serves pipelined ones, but it does not offer the extension.
    pipelining: bool = False
    seed: int = 7


class FaultyHandler(CatchingHandler):
    def __init__(self, faults: Faults) -> None:
        super().__init__()
        self.faults = faults
        self.random = random.Random(faults.seed)  # noqa: S311  # reproducible faults
        self.temporary = 0
        self.dropped = 0
        self.dropped_messages: list[str] = []  # Message-IDs kept, then the reply dropped
        # Called once, while the first accepted message's reply is still unsent.
        self.on_first_message: Callable[[], None] | None = None
        self.pipelined = 0  # MAIL commands that came with the RCPT after them
        self.data_for_nobody: list[bytes] = []  # what came after a 354 for no recipient

    # The names are aiosmtpd's hooks. A handler that answers EHLO or MAIL does the part
    # of aiosmtpd's own answer it replaces: naming the client, recording the sender.
    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.faults.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # Pipelined: the RCPT is already read, behind MAIL (StreamReader has no public
        # way to look at what it holds).
        if b"RCPT" in server._reader._buffer:
            self.pipelined += 1
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.faults.busy:
            return "451 4.2.1 <%s>: mailbox busy, try again later" % address  # noqa: UP031
        if address in self.faults.refuse:
            if self.faults.data_after_refusal:  # so that aiosmtpd answers DATA with 354
                envelope.rcpt_tos.append(address)
            return "550 5.1.1 <%s>: recipient unknown" % address  # noqa: UP031
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if all(address in self.faults.refuse for address in envelope.rcpt_tos):
            self.data_for_nobody.append(envelope.original_content or b"")
            return "554 5.5.1 Error: no valid recipients"
        roll = self.random.random()
        if roll < self.faults.temporary_share:
            self.temporary += 1
            return "451 4.3.0 please try again later"
        reply = await super().handle_DATA(server, session, envelope)
        if self.on_first_message is not None:
            hook, self.on_first_message = self.on_first_message, None
            hook()
        if roll < self.faults.temporary_share + self.faults.drop_share:
            self.dropped += 1
            self.dropped_messages.append(self.received()[-1].message_id)
            assert server.transport is not None
            server.transport.close()  # accepted, but the client never hears so
        return reply


def copies_against_rows(
    handler: CatchingHandler, rows: Iterable[tuple[str, bool]]
) -> tuple[set[str], set[str]]:
    """What the relay received of one release's messages, checked against its delivery
    rows ``(message_id, possible_duplicate)``: every row's message arrived (asserted).
    Returns the Message-IDs that arrived more than once and the rows flagged as possible
    duplicates, for the caller's bounds."""
    rows = list(rows)
    # Message-IDs are random: the release's messages are those its rows name.
    ours = {message_id for message_id, _ in rows}
    copies = Counter(m.message_id for m in handler.received() if m.message_id in ours)
    assert set(copies) == ours, "nobody missed"
    twice = {message_id for message_id, n in copies.items() if n > 1}
    flagged = {message_id for message_id, possible in rows if possible}
    return twice, flagged
