"""What a bulk sender takes and reports: one envelope per message, one result each, and
the hooks through which its caller records progress chunk by chunk."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Envelope:
    delivery_id: int
    sender: str
    to: str
    data: bytes


class Outcome(StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"  # 4xx, a refused connection, a timeout: try again later
    PERMANENT = "permanent"  # 5xx, a refused recipient: do not try again
    # The connection dropped after the message's final dot and before the reply: the
    # relay may have accepted it. Retried, so it may arrive twice: SMTP's own window.
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class Result:
    delivery_id: int
    outcome: Outcome
    reply: str
    # A permanent failure that says nothing against the address: the relay cannot take
    # what the message needs (an address that needs SMTPUTF8 at a relay without it).
    # No retry changes that, but it is no bounce either.
    relay_unable: bool = False


class ChunkHooks:
    """What a bulk sender tells its caller as it goes; by default it sends everything
    and tells nothing. A sender sends the envelopes in chunks, each on one connection:

    - ``before`` is told before a chunk's first message goes on the wire and answers
      which of them to send (the others are no longer the caller's: no result is
      reported for them);
    - ``after`` gets the chunk and the results of those sent once the last reply is in;
    - ``between`` replaces the two where a connection goes straight from one chunk to
      the next (a caller can then record one chunk and mark the next in one write);
    - ``keep_going`` is asked before each message: once it answers False nothing more
      is sent, and the chunks not begun are handed to ``after`` with no results.

    The hooks are blocking calls (database writes); a sender with several connections
    runs them off its event loop, so the other connections keep sending meanwhile.
    """

    def before(self, chunk: list[Envelope]) -> list[Envelope]:
        return chunk

    def after(self, chunk: list[Envelope], results: list[Result]) -> None:
        return None

    def between(
        self, chunk: list[Envelope], results: list[Result], following: list[Envelope]
    ) -> list[Envelope]:
        self.after(chunk, results)
        return self.before(following)

    def keep_going(self) -> bool:
        return True
