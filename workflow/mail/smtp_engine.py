"""The bulk SMTP sender: envelopes sent over a small pool of reused connections.

Each connection carries one message at a time and ``connections`` of them run side by
side on one event loop. Where the server offers PIPELINING, a message's MAIL, RCPT and
DATA go in one write, and its content goes with the next message's envelope: one round
trip a message instead of four. The caller learns of progress chunk by chunk through
``ChunkHooks``, so that it records "started" and results twice a chunk, not twice a
message, and a crash leaves at most ``connections × chunk`` messages whose fate is
unknown.

A Unicode domain goes as IDNA; an address whose local part is not ASCII goes with
SMTPUTF8 (RFC 6531) where the relay offers it, and where it does not, that message
alone fails for good, saying why, and the others on the connection go on.

With a ``SendRate`` (``workflow.mail.send_rate``), each message waits for its moment
under the relay's limit, shared by every connection, task and host that share the rate.
A refusal that says we are too fast (``send_rate.too_fast``) slows the rate for all of
them, and the message goes again in the same batch once the slower rate lets it, up to
``RATE_RESENDS`` times: our pace is no fault of the message, so it costs no attempt of
its delivery (``NEWSROOM_DELIVERY_MAX_ATTEMPTS``). Past that it is settled as any other
4xx.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final, TypeVar

import aiosmtplib
from aiosmtplib.status import SMTPStatus

from workflow.mail import smtp_wire
from workflow.mail.addresses import no_smtputf8, wire_address
from workflow.mail.envelopes import ChunkHooks, Envelope, Outcome, Result
from workflow.mail.send_rate import LocalSendRate, SendRate, too_fast
from workflow.mail.signing import DkimSigner

T = TypeVar("T")

# How often one message may be refused as too fast and go again in the same batch. The
# rate halves at most once a second (``send_rate.COOLDOWN_SECONDS``): a relay that still
# refuses after this many has a reason our pace does not explain.
RATE_RESENDS: Final = 8


def _reply(error: BaseException) -> str:
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or str(error)
    return f"{code} {message}".strip() if code is not None else f"{type(error).__name__}: {message}"


def _is_permanent(error: BaseException | aiosmtplib.SMTPResponse) -> bool:
    code = getattr(error, "code", None)
    return isinstance(code, int) and 500 <= code < 600


def _route(envelope: Envelope) -> tuple[str, str, bool]:
    """The envelope's sender and recipient as SMTP carries them (domains in IDNA), and
    whether they need SMTPUTF8 (``ValueError`` for an address with no such form)."""
    sender, recipient = wire_address(envelope.sender), wire_address(envelope.to)
    return sender.address, recipient.address, sender.smtputf8 or recipient.smtputf8


def _lacks_smtputf8(smtp: aiosmtplib.SMTP, utf8: bool) -> bool:
    return utf8 and not smtp.supports_extension("smtputf8")


def _without_smtputf8(envelope: Envelope) -> Result:
    """The outcome of a message the relay cannot take, nothing of it sent: it fails for
    good (no retry makes the relay take it) but says nothing against the address."""
    reply = no_smtputf8(envelope.to)
    return Result(envelope.delivery_id, Outcome.PERMANENT, reply, relay_unable=True)


def run(sending: Coroutine[Any, Any, T]) -> T:
    """Run ``sending`` to its end on an event loop of its own: uvloop's, whose turns
    cost less than asyncio's (a fan-out turns the loop twice a message; 0.19 against
    0.21 ms of the worker's CPU a message in ``bench/fanout_cpu.py``); asyncio's where
    uvloop is not installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without it (Windows)
        return asyncio.run(sending)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(sending)


@dataclass(frozen=True, slots=True)
class SmtpBulkSender:
    """The bulk sender of ``NEWSROOM_MAIL_BACKEND=smtp``: the relay's address, how long
    to wait for it, its credentials, the DKIM signer of the messages, if they are to be
    signed on their way out, and the pace: ``rate``, shared with whoever else holds it,
    or else a cap of each send's own on messages a second (``per_second``; 0: none)."""

    host: str
    port: int
    timeout: float = 30.0
    per_second: float = 0.0
    username: str = ""
    password: str = ""
    starttls: bool = False
    signer: DkimSigner | None = None
    rate: SendRate | None = None

    def send(
        self,
        envelopes: Sequence[Envelope],
        *,
        connections: int = 4,
        chunk: int = 1,
        hooks: ChunkHooks | None = None,
    ) -> list[Result]:
        """Send every envelope; never raises for a message, reports each one's result."""
        return run(send_all(envelopes, self, connections=connections, chunk=chunk, hooks=hooks))

    def client(self) -> aiosmtplib.SMTP:
        """A new connection to the relay, not yet open."""
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout,
            username=self.username or None,
            password=self.password or None,
            start_tls=self.starttls,
        )


async def send_all(
    envelopes: Iterable[Envelope],
    relay: SmtpBulkSender,
    *,
    connections: int = 4,
    chunk: int = 1,
    hooks: ChunkHooks | None = None,
) -> list[Result]:
    """``SmtpBulkSender.send`` on the running event loop: the envelopes in chunks of
    ``chunk`` over ``connections`` connections, the hooks told as ``ChunkHooks`` says."""
    rate = relay.rate
    if rate is None and relay.per_second > 0:
        rate = LocalSendRate(relay.per_second)
    pool = _Pool(relay, envelopes, chunk=chunk, hooks=hooks or ChunkHooks(), rate=rate)
    watches = [smtp_wire.ReplyWatch() for _ in range(max(1, connections))]
    watchdog = asyncio.ensure_future(smtp_wire.ReplyWatch.watch_over(watches, relay.timeout))
    try:
        await asyncio.gather(*(pool.connection(watch) for watch in watches))
    finally:
        watchdog.cancel()
        if rate is not None:
            await rate.aclose()
    return pool.results


class _Pool:
    """The chunks waiting for a connection, and what the connections share: the hooks,
    the results, and the pace set by the relay's rate limit."""

    def __init__(
        self,
        relay: SmtpBulkSender,
        envelopes: Iterable[Envelope],
        *,
        chunk: int,
        hooks: ChunkHooks,
        rate: SendRate | None,
    ) -> None:
        self.relay, self.hooks, self.rate = relay, hooks, rate
        items = list(envelopes)
        size = max(1, chunk)
        self.queue: asyncio.Queue[list[Envelope]] = asyncio.Queue()
        for start in range(0, len(items), size):
            self.queue.put_nowait(items[start : start + size])
        self.results: list[Result] = []
        # Each message as given (unsigned), to go again after a refusal for our pace,
        # and how often it was refused so.
        self.given = {envelope.delivery_id: envelope for envelope in items}
        self.too_fast: dict[int, int] = {}

    async def settle(self, result: Result, done: list[Result], again: deque[Envelope]) -> None:
        """``result`` into ``done``; or, refused as too fast (and paced), the rate slowed
        down and the message back at the head of ``again``, to go once the rate lets it."""
        rate, key = self.rate, result.delivery_id
        if rate is not None and result.outcome is Outcome.TRANSIENT and too_fast(result.reply):
            refused = self.too_fast[key] = self.too_fast.get(key, 0) + 1
            await rate.slow_down(result.reply)
            if refused <= RATE_RESENDS:
                again.appendleft(self.given[key])
                return
        done.append(result)

    async def finish(self, batch: list[Envelope], done: list[Result]) -> None:
        await asyncio.to_thread(self.hooks.after, batch, done)

    async def connection(self, watch: smtp_wire.ReplyWatch) -> None:
        """One connection's work: chunks from the queue until it is empty."""
        hooks = self.hooks
        smtp: aiosmtplib.SMTP | None = None
        # This connection's last chunk, sent and not yet reported.
        previous: tuple[list[Envelope], list[Result]] | None = None
        while not self.queue.empty():
            batch = self.queue.get_nowait()
            if not hooks.keep_going():
                if previous is not None:
                    await self.finish(*previous)
                    previous = None
                await self.finish(batch, [])
                continue
            if previous is not None:
                batch = await asyncio.to_thread(hooks.between, *previous, batch)
            else:
                batch = await asyncio.to_thread(hooks.before, batch)
            previous = None
            done: list[Result] = []
            # What is left of the chunk, in order; a message refused as too fast goes
            # back to its head.
            waiting = deque(batch)
            # A message whose DATA was answered 354 and whose content goes out with the
            # next message's envelope (``_chained``), or alone at the chunk's end.
            held: Envelope | None = None
            while waiting or held is not None:
                if not waiting or not hooks.keep_going():
                    if held is None:
                        break
                    assert smtp is not None
                    await self.settle(await _content(smtp, held), done, waiting)
                    held = None
                    continue
                envelope = waiting.popleft()
                if self.rate is not None:
                    await self.rate.acquire()
                if self.relay.signer is not None:
                    # Signed as it goes, not all before the first: the signature's CPU
                    # is spent while the other connections wait for their replies.
                    envelope = replace(envelope, data=self.relay.signer.sign(envelope.data))
                while True:  # once more only if the connection was lost before its turn
                    if smtp is None or not smtp.is_connected:
                        smtp = self.relay.client()
                        try:
                            await smtp.connect()
                        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                            smtp = None
                            failed = Result(envelope.delivery_id, Outcome.TRANSIENT, _reply(error))
                            await self.settle(failed, done, waiting)
                            break
                    if held is not None:
                        settled, outcome = await _chained(smtp, held, envelope, watch)
                        await self.settle(settled, done, waiting)
                        held = None
                    else:
                        outcome = await _send_one(smtp, envelope, watch, hold=True)
                    if outcome is _HELD:
                        held = envelope
                    elif outcome is not _LOST_BEFORE_ITS_TURN:
                        await self.settle(outcome, done, waiting)
                    if outcome is not _LOST_BEFORE_ITS_TURN:
                        break
            self.results.extend(done)
            previous = (batch, done)
        if previous is not None:
            await self.finish(*previous)
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()


class _Turn(StrEnum):
    HELD = "held"
    LOST_BEFORE_ITS_TURN = "lost before its turn"


# ``envelope``'s DATA was answered 354: its content goes out with the next envelope.
_HELD: Final = _Turn.HELD
# The connection was lost before anything of ``envelope`` was read: it goes again, on a
# new connection, as it would have gone had the loss come a message earlier.
_LOST_BEFORE_ITS_TURN: Final = _Turn.LOST_BEFORE_ITS_TURN


async def _send_one(
    smtp: aiosmtplib.SMTP, envelope: Envelope, watch: smtp_wire.ReplyWatch, *, hold: bool = False
) -> Result | _Turn:
    """One message, start to end. With ``hold``, where the server pipelines, it stops
    once DATA is answered 354 (``_HELD``): its content then goes out with the next
    message's envelope (``_chained``) or alone (``_content``)."""
    stage = "envelope"
    try:
        await smtp_wire.greet(smtp)
        sender, recipient, utf8 = _route(envelope)
        if _lacks_smtputf8(smtp, utf8):
            return _without_smtputf8(envelope)
        if smtp.supports_extension("pipelining"):
            await smtp_wire.pipelined_envelope(smtp, sender, recipient, watch, utf8=utf8)
            if hold:
                return _HELD
            stage = "data"
            response = await smtp_wire.message_content(smtp, smtp_wire.wire_data(envelope.data))
        else:
            await smtp_wire.mail_from(smtp, sender, utf8=utf8)
            await smtp_wire.rcpt_to(smtp, recipient, utf8=utf8)
            stage = "data"
            response = await smtp_wire.data(smtp, smtp_wire.wire_data(envelope.data))
    except (ValueError, aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return await _failed(smtp, envelope, error, in_data=stage == "data")
    return Result(envelope.delivery_id, Outcome.SENT, f"{response.code} {response.message}")


async def _failed(
    smtp: aiosmtplib.SMTP, envelope: Envelope, error: Exception, *, in_data: bool
) -> Result:
    """The outcome of a transaction that ``error`` ended, before its content was sent or
    (``in_data``) once it was being sent."""
    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
        outcome = Outcome.AMBIGUOUS if in_data else Outcome.TRANSIENT
        return Result(envelope.delivery_id, outcome, _reply(error))
    if isinstance(error, ValueError):  # an address no command may carry; nothing sent of it
        await smtp_wire.reset(smtp)
        return Result(envelope.delivery_id, Outcome.PERMANENT, f"not sent: {error}")
    if isinstance(error, aiosmtplib.SMTPResponseException):  # a refusal
        await smtp_wire.reset(smtp)
        outcome = Outcome.PERMANENT if _is_permanent(error) else Outcome.TRANSIENT
        return Result(envelope.delivery_id, outcome, _reply(error))
    smtp.close()  # a timeout, a reply it cannot parse, a socket error: out of step
    outcome = Outcome.AMBIGUOUS if in_data else Outcome.TRANSIENT
    return Result(envelope.delivery_id, outcome, _reply(error))


async def _content(smtp: aiosmtplib.SMTP, held: Envelope) -> Result:
    """The content of a message whose DATA was answered 354, alone, and its outcome (as
    ``_send_one`` has it once the envelope is accepted)."""
    try:
        response = await smtp_wire.message_content(smtp, smtp_wire.wire_data(held.data))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return await _failed(smtp, held, error, in_data=True)
    return Result(held.delivery_id, Outcome.SENT, f"{response.code} {response.message}")


async def _chained(
    smtp: aiosmtplib.SMTP, held: Envelope, envelope: Envelope, watch: smtp_wire.ReplyWatch
) -> tuple[Result, Result | _Turn]:
    """``held``'s content and ``envelope``'s MAIL, RCPT and DATA in one write (RFC 2920
    section 3.1: a message's content may open a group of commands), then their four
    replies in order: one round trip a message instead of two. Each gets the outcome
    ``_send_one`` would give it:

    * ``held``'s from the first reply; if none came (the connection lost, or silent),
      it may have been delivered, and nothing of ``envelope`` was read: that one goes
      again, on a new connection (``_LOST_BEFORE_ITS_TURN``), as after a message sent
      alone;
    * ``envelope``'s from the next three, as ``smtp_wire.pipelined_envelope`` reads them. A
      refused content needs no RSET here: the server ended that transaction itself.
    """
    try:
        sender, recipient, utf8 = _route(envelope)
        commands = smtp_wire.envelope_commands(sender, recipient, utf8=utf8)
    except ValueError as error:  # nothing of it may be sent; the held one goes alone
        refused = Result(envelope.delivery_id, Outcome.PERMANENT, f"not sent: {error}")
        return await _content(smtp, held), refused
    if _lacks_smtputf8(smtp, utf8):
        return await _content(smtp, held), _without_smtputf8(envelope)
    protocol = smtp.protocol
    if protocol is None:
        lost = Result(held.delivery_id, Outcome.AMBIGUOUS, "SMTPServerDisconnected")
        return lost, _LOST_BEFORE_ITS_TURN
    protocol.write(smtp_wire.wire_data(held.data) + commands)
    replies: list[aiosmtplib.SMTPResponse] = []
    failure = await smtp_wire.read_replies(smtp, protocol, replies, 4, watch)
    if not replies:
        assert failure is not None
        smtp.close()
        return Result(held.delivery_id, Outcome.AMBIGUOUS, _reply(failure)), _LOST_BEFORE_ITS_TURN
    first = replies.pop(0)
    reply = f"{first.code} {first.message}"
    if first.code == SMTPStatus.completed:
        outcome = Outcome.SENT
    else:
        outcome = Outcome.PERMANENT if _is_permanent(first) else Outcome.TRANSIENT
    settled = Result(held.delivery_id, outcome, reply)
    if first.code == SMTPStatus.domain_unavailable:
        smtp.close()  # 421: the server is closing; it did not read the next envelope
        return settled, _LOST_BEFORE_ITS_TURN
    try:
        await smtp_wire.settle_envelope(
            smtp, protocol, replies, failure, envelope.sender, envelope.to
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return settled, await _failed(smtp, envelope, error, in_data=False)
    return settled, _HELD
