"""Bulk mail: one rendered variant per (release, kind, language), filled in per recipient,
sent over a small pool of reused SMTP connections.

Building a Python ``EmailMessage`` per recipient costs more than sending it, so a variant
is rendered once with placeholders for the per-recipient parts (name, links, Message-ID)
and each message is assembled by string replacement into a MIME document written here:
multipart/alternative, base64 bodies, RFC 2047 subject. Each SMTP connection carries one
message at a time; ``send_all`` runs ``connections`` of them side by side. Where the
server offers PIPELINING (RFC 2920), a message's MAIL, RCPT and DATA go in one write:
two round trips a message instead of four.
"""

from __future__ import annotations

import asyncio
import base64
import html
import re
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from enum import StrEnum
from typing import Any, Final, TypeVar

import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import (
    COMMAND_INJECTION_REGEX,
    SMTPProtocol,
    normalize_message_line_endings,
)
from aiosmtplib.status import SMTPStatus

from workflow.mail.message import header_value

NAME, UNSUBSCRIBE, PREFERENCES = "\x01name\x01", "\x01unsubscribe\x01", "\x01preferences\x01"
BOUNDARY = "=_newsroom_alternative_7f3c"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Variant:
    """The rendered subject and bodies, with placeholders for per-recipient parts."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Envelope:
    delivery_id: int
    sender: str
    to: str
    data: bytes


def _base64_lines(text: str) -> str:
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _mailbox(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((str(Header(name, "utf-8")) if name else "", address))


@dataclass(frozen=True, slots=True)
class Prepared:
    """A variant with everything that is the same for all its recipients done once:
    the headers that do not vary, already checked and encoded."""

    variant: Variant
    head: str


def prepare(variant: Variant, *, sender: str, reply_to: str, list_id: str) -> Prepared:
    """Encode and check the headers every recipient of ``variant`` shares."""
    headers = [
        ("From", _mailbox(sender)),
        ("Subject", Header(header_value("Subject", variant.subject), "utf-8").encode()),
        ("List-Id", header_value("List-Id", list_id)),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Precedence", "bulk"),
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{BOUNDARY}"'),
    ]
    if reply_to:
        headers.insert(1, ("Reply-To", _mailbox(header_value("Reply-To", reply_to))))
    return Prepared(variant, "".join(f"{key}: {value}\r\n" for key, value in headers))


def message_date(moment: datetime) -> str:
    return format_datetime(moment)


def assemble(
    prepared: Prepared,
    *,
    to: str,
    name: str,
    unsubscribe_url: str,
    preferences_url: str,
    unsubscribe_mailto: str,
    message_id: str,
    date: str,
) -> bytes:
    """One recipient's message: the shared head, then what is theirs. Every header value
    that varies is checked for line breaks here."""
    variant = prepared.variant
    text = (
        variant.text.replace(NAME, name)
        .replace(UNSUBSCRIBE, unsubscribe_url)
        .replace(PREFERENCES, preferences_url)
    )
    escaped = html.escape(name)
    body_html = (
        variant.html.replace(NAME, escaped)
        .replace(UNSUBSCRIBE, html.escape(unsubscribe_url))
        .replace(PREFERENCES, html.escape(preferences_url))
    )
    own = (
        f"To: {header_value('To', to)}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: {header_value('Message-ID', message_id)}\r\n"
        "List-Unsubscribe: "
        f"{header_value('List-Unsubscribe', f'<{unsubscribe_url}>, <{unsubscribe_mailto}>')}\r\n"
    )
    parts = "".join(
        f'--{BOUNDARY}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{_base64_lines(body)}\r\n"
        for subtype, body in (("plain", text), ("html", body_html))
    )
    return f"{prepared.head}{own}\r\n{parts}--{BOUNDARY}--\r\n".encode("ascii")


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


def _reply(error: BaseException) -> str:
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or str(error)
    return f"{code} {message}".strip() if code is not None else f"{type(error).__name__}: {message}"


def _is_permanent(error: BaseException | aiosmtplib.SMTPResponse) -> bool:
    code = getattr(error, "code", None)
    return isinstance(code, int) and 500 <= code < 600


def run(sending: Coroutine[Any, Any, T]) -> T:
    """Run ``sending`` to its end on an event loop of its own: uvloop's (the loop
    uvicorn runs the web on), whose turns cost less than asyncio's own, and a fan-out
    turns the loop twice a message (``bench/fanout_cpu.py``: 0.21 → 0.19 ms of the
    worker's CPU a message); asyncio's where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without it (Windows)
        return asyncio.run(sending)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(sending)


async def send_all(
    envelopes: Iterable[Envelope],
    *,
    host: str,
    port: int,
    connections: int = 4,
    timeout: float = 30.0,
    per_second: float = 0.0,
    chunk: int = 1,
    before_chunk: Callable[[list[Envelope]], list[Envelope]] | None = None,
    after_chunk: Callable[[list[Envelope], list[Result]], None] | None = None,
    between_chunks: Callable[[list[Envelope], list[Result], list[Envelope]], list[Envelope]]
    | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> list[Result]:
    """Send every envelope; never raises for a message, reports each one's ``Result``.

    The envelopes go out in chunks of ``chunk``, each on one connection: ``before_chunk``
    is told before the chunk's first SMTP transaction begins and answers which of them to
    send (the others are no longer the caller's: no result is reported for them), and
    ``after_chunk`` gets the chunk and the results of those sent once the last reply is
    in. Both are blocking calls (database writes) and run in a thread, so the other
    connections keep sending meanwhile. A caller that records "started" and results this
    way writes twice per chunk instead of twice per message, and a crash leaves at most
    ``connections × chunk`` messages whose fate is unknown.

    ``between_chunks``, when given, replaces the two calls where a connection goes
    straight from one chunk to the next: it gets the finished chunk, its results and the
    next chunk, and answers which of the next to send, as ``before_chunk`` would. Its
    caller can then record one chunk and mark the next in a single transaction: one
    wait per chunk instead of two, with the same order (results after the last reply,
    the mark before the next chunk's first message).

    ``keep_going`` is asked before each message; once it answers False nothing more is
    sent (a caller whose hold on the work is about to end stops in time). ``per_second``
    caps the rate across all connections (0: no cap).
    """
    items = list(envelopes)
    size = max(1, chunk)
    queue: asyncio.Queue[list[Envelope]] = asyncio.Queue()
    for start in range(0, len(items), size):
        queue.put_nowait(items[start : start + size])
    results: list[Result] = []
    interval = 1.0 / per_second if per_second > 0 else 0.0
    next_slot = [time.monotonic()]

    async def pace() -> None:
        if interval:
            now = time.monotonic()
            slot = max(now, next_slot[0])
            next_slot[0] = slot + interval
            if slot > now:
                await asyncio.sleep(slot - now)

    async def finish(batch: list[Envelope], done: list[Result]) -> None:
        if after_chunk is not None:
            await asyncio.to_thread(after_chunk, batch, done)

    async def connection(watch: _Watch) -> None:
        smtp: aiosmtplib.SMTP | None = None
        # This connection's last chunk, sent and not yet reported.
        previous: tuple[list[Envelope], list[Result]] | None = None
        while not queue.empty():
            batch = queue.get_nowait()
            if keep_going is not None and not keep_going():
                if previous is not None:
                    await finish(*previous)
                    previous = None
                await finish(batch, [])
                continue
            if previous is not None and between_chunks is not None:
                batch = await asyncio.to_thread(between_chunks, *previous, batch)
            else:
                if previous is not None:
                    await finish(*previous)
                if before_chunk is not None:
                    batch = await asyncio.to_thread(before_chunk, batch)
            previous = None
            done: list[Result] = []
            # A message whose DATA was answered 354 and whose content goes out with the
            # next message's envelope (``_chained``), or alone at the chunk's end.
            held: Envelope | None = None
            for envelope in batch:
                if keep_going is not None and not keep_going():
                    break
                await pace()
                while True:  # once more only if the connection was lost before its turn
                    if smtp is None or not smtp.is_connected:
                        smtp = aiosmtplib.SMTP(hostname=host, port=port, timeout=timeout)
                        try:
                            await smtp.connect()
                        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                            smtp = None
                            failed = Result(envelope.delivery_id, Outcome.TRANSIENT, _reply(error))
                            done.append(failed)
                            break
                    if held is not None:
                        settled, outcome = await _chained(smtp, held, envelope, watch)
                        done.append(settled)
                        held = None
                    else:
                        outcome = await _send_one(smtp, envelope, watch, hold=True)
                    if outcome is _HELD:
                        held = envelope
                    elif outcome is not _LOST_BEFORE_ITS_TURN:
                        done.append(outcome)
                    if outcome is not _LOST_BEFORE_ITS_TURN:
                        break
            if held is not None:
                assert smtp is not None
                done.append(await _content(smtp, held))
            results.extend(done)
            previous = (batch, done)
        if previous is not None:
            await finish(*previous)
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()

    watches = [_Watch() for _ in range(max(1, connections))]
    watchdog = asyncio.ensure_future(_Watch.watch_over(watches, timeout))
    try:
        await asyncio.gather(*(connection(watch) for watch in watches))
    finally:
        watchdog.cancel()
    return results


class _Turn(StrEnum):
    HELD = "held"
    LOST_BEFORE_ITS_TURN = "lost before its turn"


# ``envelope``'s DATA was answered 354: its content goes out with the next envelope.
_HELD: Final = _Turn.HELD
# The connection was lost before anything of ``envelope`` was read: it goes again, on a
# new connection, as it would have gone had the loss come a message earlier.
_LOST_BEFORE_ITS_TURN: Final = _Turn.LOST_BEFORE_ITS_TURN


async def _send_one(
    smtp: aiosmtplib.SMTP, envelope: Envelope, watch: _Watch, *, hold: bool = False
) -> Result | _Turn:
    """One message, start to end. With ``hold``, where the server pipelines, it stops
    once DATA is answered 354 (``_HELD``): its content then goes out with the next
    message's envelope (``_chained``) or alone (``_content``)."""
    stage = "envelope"
    try:
        await _greet(smtp)
        if smtp.supports_extension("pipelining"):
            await _pipelined_envelope(smtp, envelope.sender, envelope.to, watch)
            if hold:
                return _HELD
            stage = "data"
            response = await _message(smtp, wire_data(envelope.data))
        else:
            await _mail(smtp, envelope.sender)
            await _rcpt(smtp, envelope.to)
            stage = "data"
            response = await _data(smtp, wire_data(envelope.data))
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
        await _reset(smtp)
        return Result(envelope.delivery_id, Outcome.PERMANENT, f"not sent: {error}")
    if isinstance(error, aiosmtplib.SMTPResponseException):  # a refusal
        await _reset(smtp)
        outcome = Outcome.PERMANENT if _is_permanent(error) else Outcome.TRANSIENT
        return Result(envelope.delivery_id, outcome, _reply(error))
    smtp.close()  # a timeout, a reply it cannot parse, a socket error: out of step
    outcome = Outcome.AMBIGUOUS if in_data else Outcome.TRANSIENT
    return Result(envelope.delivery_id, outcome, _reply(error))


async def _content(smtp: aiosmtplib.SMTP, held: Envelope) -> Result:
    """The content of a message whose DATA was answered 354, alone, and its outcome (as
    ``_send_one`` has it once the envelope is accepted)."""
    try:
        response = await _message(smtp, wire_data(held.data))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return await _failed(smtp, held, error, in_data=True)
    return Result(held.delivery_id, Outcome.SENT, f"{response.code} {response.message}")


async def _chained(
    smtp: aiosmtplib.SMTP, held: Envelope, envelope: Envelope, watch: _Watch
) -> tuple[Result, Result | _Turn]:
    """``held``'s content and ``envelope``'s MAIL, RCPT and DATA in one write (RFC 2920
    section 3.1: a message's content may open a group of commands), then their four
    replies in order: one round trip a message instead of two. Each gets the outcome
    ``_send_one`` would give it:

    * ``held``'s from the first reply; if none came (the connection lost, or silent),
      it may have been delivered, and nothing of ``envelope`` was read: that one goes
      again, on a new connection (``_LOST_BEFORE_ITS_TURN``), as after a message sent
      alone;
    * ``envelope``'s from the next three, as ``_pipelined_envelope`` reads them. A
      refused content needs no RSET here: the server ended that transaction itself.
    """
    try:
        commands = _envelope_commands(envelope.sender, envelope.to)
    except ValueError as error:  # nothing of it may be sent; the held one goes alone
        refused = Result(envelope.delivery_id, Outcome.PERMANENT, f"not sent: {error}")
        return await _content(smtp, held), refused
    protocol = smtp.protocol
    if protocol is None:
        lost = Result(held.delivery_id, Outcome.AMBIGUOUS, "SMTPServerDisconnected")
        return lost, _LOST_BEFORE_ITS_TURN
    protocol.write(wire_data(held.data) + commands)
    replies: list[aiosmtplib.SMTPResponse] = []
    failure = await _read_replies(smtp, protocol, replies, 4, watch)
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
        await _settle_envelope(smtp, protocol, replies, failure, envelope.sender, envelope.to)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return settled, await _failed(smtp, envelope, error, in_data=False)
    return settled, _HELD


# One SMTP transaction, as aiosmtplib's ``mail()``, ``rcpt()`` and ``data()`` make it and
# with the same errors, through its ``execute_command`` and its protocol's ``write`` and
# ``read_response``, but without the work those do again for every message: parsing both
# addresses with ``email.utils.parseaddr`` and rewriting the whole message with two
# regular expressions that step through it byte by byte (about a third of a millisecond
# for a 8 kB message, as much as the rest of the transaction). The same bytes go on the
# wire: ``smtp_path`` and ``wire_data`` are held to aiosmtplib's own functions by tests.

# An address of only these characters is its own ``parseaddr`` result: no quotes,
# comments, brackets, spaces or routes to take apart.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def smtp_path(address: str) -> bytes:
    """``<address>`` as aiosmtplib's ``mail()`` and ``rcpt()`` put it on the command line
    (and refuse it: ``ValueError``)."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>".encode("ascii")
    return quote_address(address).encode("ascii")


def wire_data(message: bytes) -> bytes:
    """``message`` as aiosmtplib's ``data()`` sends it after the DATA command: line ends
    made CRLF, a CRLF at the end, every line that starts with a dot given a second one,
    and the final dot. A message already all in CRLF (as ``assemble`` makes them) takes
    three counts and a replacement; any other goes through aiosmtplib's own function."""
    returns = message.count(b"\r")
    if returns != message.count(b"\n") or returns != message.count(b"\r\n"):
        message = normalize_message_line_endings(message)
    elif not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\n.", b"\n..") + b".\r\n"


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO (HELO if refused) once per connection, as ``mail()`` does when it is needed."""
    if smtp.is_ehlo_or_helo_needed:
        try:
            await smtp.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not smtp.is_connected:
                raise
            await smtp.helo()


async def _mail(smtp: aiosmtplib.SMTP, sender: str) -> None:
    response = await smtp.execute_command(b"MAIL", b"FROM:" + smtp_path(sender))
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)


async def _rcpt(smtp: aiosmtplib.SMTP, recipient: str) -> None:
    response = await smtp.execute_command(b"RCPT", b"TO:" + smtp_path(recipient))
    if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
        raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, recipient)


async def _data(smtp: aiosmtplib.SMTP, wire: bytes) -> aiosmtplib.SMTPResponse:
    """DATA, then ``wire`` (from ``wire_data``) as it is, then its reply."""
    response = await smtp.execute_command(b"DATA")
    if response.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return await _message(smtp, wire)


async def _message(smtp: aiosmtplib.SMTP, wire: bytes) -> aiosmtplib.SMTPResponse:
    """``wire`` (from ``wire_data``), once DATA was answered 354, then its reply."""
    protocol = smtp.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        protocol.write(wire)
        response = await protocol.read_response(timeout=smtp.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        smtp.close()  # as data() does: the connection is out of step
        raise
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


async def _reset(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        smtp.close()


# PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write, then their three replies in
# order. aiosmtplib has no pipelining of its own, and its protocol is written for one
# reply per command awaited in turn: each arrival of data is parsed for one reply and the
# rest stays in its buffer (where ``read_response`` does not look), and data that arrives
# while a parsed reply is not yet picked up is dropped. So each reply is first looked for
# in the buffer, with aiosmtplib's own parser, and only then awaited; and it is awaited
# without ``read_response``'s timeout, under one ``asyncio.timeout`` for the three: on
# Python 3.11, ``wait_for`` with a timeout takes two turns of the event loop to hand a
# reply over, during which the next reply's data can arrive and be dropped; awaited
# directly it takes one, and the caller asks for the next reply before the loop reads
# the socket again.


def _envelope_refusal(
    replies: list[aiosmtplib.SMTPResponse], sender: str, recipient: str
) -> aiosmtplib.SMTPResponseException | None:
    """The error ``_mail``, ``_rcpt`` or ``_data`` would have raised for the first of
    ``replies`` (to MAIL, RCPT, DATA, in order) that refused, or None."""
    if replies and replies[0].code != SMTPStatus.completed:
        return aiosmtplib.SMTPSenderRefused(replies[0].code, replies[0].message, sender)
    accepted = (SMTPStatus.completed, SMTPStatus.will_forward)
    if len(replies) > 1 and replies[1].code not in accepted:
        return aiosmtplib.SMTPRecipientRefused(replies[1].code, replies[1].message, recipient)
    if len(replies) > 2 and replies[2].code != SMTPStatus.start_input:
        return aiosmtplib.SMTPDataError(replies[2].code, replies[2].message)
    return None


async def _next_reply(protocol: SMTPProtocol) -> aiosmtplib.SMTPResponse:
    """The next reply: already in the protocol's buffer, or the next to arrive (see
    above; the caller bounds the wait)."""
    buffered = protocol._read_response_from_buffer()
    if buffered is not None:
        return buffered
    return await protocol.read_response(timeout=None)


def _envelope_commands(sender: str, recipient: str) -> bytes:
    """MAIL FROM, RCPT TO and DATA, as one write (``ValueError`` for an address no
    command may carry)."""
    commands = (b"MAIL FROM:" + smtp_path(sender), b"RCPT TO:" + smtp_path(recipient))
    if any(COMMAND_INJECTION_REGEX.search(command) for command in commands):
        raise ValueError("Command arg contains a prohibited control character")
    return b"%s\r\n%s\r\nDATA\r\n" % commands


async def _pipelined_envelope(
    smtp: aiosmtplib.SMTP, sender: str, recipient: str, watch: _Watch
) -> None:
    """MAIL FROM, RCPT TO and DATA in one write, then their replies, with the errors
    ``_mail``, ``_rcpt`` and ``_data`` raise, for the first command refused: the outcome
    of a message is the same as without pipelining. Returns once DATA is answered 354.

    A refusal after which the server still answered DATA with 354 (a server may, even
    with no recipient accepted) is followed by a lone dot, as RFC 2920 section 3.1
    requires, so that nothing of the message is sent and the server leaves the DATA
    phase; a DATA refused needs nothing more (the caller resets the transaction, as
    without pipelining)."""
    commands = _envelope_commands(sender, recipient)
    protocol = smtp.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Server not connected")
    protocol.write(commands)
    replies: list[aiosmtplib.SMTPResponse] = []
    failure = await _read_replies(smtp, protocol, replies, 3, watch)
    await _settle_envelope(smtp, protocol, replies, failure, sender, recipient)


async def _read_replies(
    smtp: aiosmtplib.SMTP,
    protocol: SMTPProtocol,
    replies: list[aiosmtplib.SMTPResponse],
    count: int,
    watch: _Watch,
) -> aiosmtplib.SMTPException | None:
    """Up to ``count`` replies into ``replies``, stopping after a 421 (the server is
    closing: no more will come); what ended the wait early, if anything. A server
    silent for ``smtp.timeout`` is a read timeout (``_Watch``)."""
    watch.waiting(smtp)
    try:
        while len(replies) < count:
            replies.append(await _next_reply(protocol))
            if replies[-1].code == SMTPStatus.domain_unavailable:
                break
    except aiosmtplib.SMTPException as error:  # lost, or a reply aiosmtplib cannot parse
        if watch.ended:
            return aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
        return error
    finally:
        watch.since = None
    return None


class _Watch:
    """The timeout of one connection's waits for replies, without a timer per wait.

    ``asyncio.timeout`` or a timer of the loop per wait costs a fan-out about 7 µs of
    CPU a message, a twentieth of its worker's share (``bench/fanout_cpu.py``). Instead
    a wait notes when it began, and ``watch_over`` looks at every connection a few times
    a timeout, closing any whose server has been silent for longer (the wait then ends
    with the connection lost, which ``_read_replies`` reports as the timeout it is)."""

    __slots__ = ("ended", "since", "smtp")

    def __init__(self) -> None:
        self.since: float | None = None
        self.smtp: aiosmtplib.SMTP | None = None
        self.ended = False

    def waiting(self, smtp: aiosmtplib.SMTP) -> None:
        self.smtp, self.ended = smtp, False
        self.since = asyncio.get_running_loop().time()

    @staticmethod
    async def watch_over(watches: list[_Watch], timeout: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = loop.time()
            for watch in watches:
                if watch.since is not None and now - watch.since >= timeout and watch.smtp:
                    watch.ended = True
                    watch.smtp.close()


async def _settle_envelope(
    smtp: aiosmtplib.SMTP,
    protocol: SMTPProtocol,
    replies: list[aiosmtplib.SMTPResponse],
    failure: aiosmtplib.SMTPException | None,
    sender: str,
    recipient: str,
) -> None:
    """Returns if MAIL, RCPT and DATA were answered (250, 250, 354); else raises what
    ``_mail``, ``_rcpt`` and ``_data`` would have, for the first refused, or the failure
    that cut the replies short."""
    if failure is not None or replies[-1].code == SMTPStatus.domain_unavailable:
        smtp.close()  # out of step with the server, or told it is closing (as aiosmtplib)
    refusal = _envelope_refusal(replies, sender, recipient)
    if refusal is None:
        if failure is not None:
            raise failure
        return
    if failure is None and len(replies) == 3 and replies[2].code == SMTPStatus.start_input:
        await _end_empty_data(smtp, protocol)
    raise refusal


async def _end_empty_data(smtp: aiosmtplib.SMTP, protocol: SMTPProtocol) -> None:
    """The lone dot that ends a DATA phase begun for nothing, and its reply, which says
    nothing about the message (none was sent)."""
    try:
        protocol.write(b".\r\n")
        await protocol.read_response(timeout=smtp.timeout)
    except aiosmtplib.SMTPException:
        smtp.close()
