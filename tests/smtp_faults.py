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

    async def handle_RCPT(  # The name is aiosmtpd's hook.
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.faults.refuse:
            return "550 5.1.1 <%s>: recipient unknown" % address  # noqa: UP031
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
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
    handler: CatchingHandler, rows: Iterable[tuple[str, bool]], release_id: int
) -> tuple[set[str], set[str]]:
    """What the relay received of one release's messages, checked against its delivery
    rows ``(message_id, possible_duplicate)``: every row's message arrived (asserted).
    Returns the Message-IDs that arrived more than once and the rows flagged as possible
    duplicates, for the caller's bounds."""
    rows = list(rows)
    copies = Counter(
        m.message_id
        for m in handler.received()
        if m.message_id.startswith(f"<{release_id}.release.")
    )
    assert set(copies) == {message_id for message_id, _ in rows}, "nobody missed"
    twice = {message_id for message_id, n in copies.items() if n > 1}
    flagged = {message_id for message_id, possible in rows if possible}
    return twice, flagged
