"""SMTP commands and replies as aiosmtplib exchanges them, without the work it does
again for every message, and with PIPELINING (RFC 2920), which aiosmtplib lacks.

The bytes on the wire are aiosmtplib's own: ``smtp_path`` and ``wire_data`` are held to
its functions by ``tests/integration/test_smtp_wire.py``. The one reliance on its
internals, reading a reply already in its protocol's buffer, is ``next_reply``; the
aiosmtplib version is bounded in ``pyproject.toml`` for it.
"""

from __future__ import annotations

import asyncio
import re

import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import (
    COMMAND_INJECTION_REGEX,
    SMTPProtocol,
    normalize_message_line_endings,
)
from aiosmtplib.status import SMTPStatus

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


def smtp_path(address: str, *, utf8: bool = False) -> bytes:
    """``<address>`` as aiosmtplib's ``mail()`` and ``rcpt()`` put it on the command line
    (and refuse it: ``ValueError``); with ``utf8``, as they do with the SMTPUTF8 option
    (RFC 6531), in UTF-8."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>".encode("ascii")
    return quote_address(address).encode("utf-8" if utf8 else "ascii")


# The MAIL parameter of a transaction whose addresses need SMTPUTF8 (RFC 6531 section 3.4).
_SMTPUTF8 = (b"SMTPUTF8",)


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


async def greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO (HELO if refused) once per connection, as ``mail()`` does when it is needed."""
    if smtp.is_ehlo_or_helo_needed:
        try:
            await smtp.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not smtp.is_connected:
                raise
            await smtp.helo()


async def mail_from(smtp: aiosmtplib.SMTP, sender: str, *, utf8: bool = False) -> None:
    """MAIL FROM, with the SMTPUTF8 parameter if ``utf8``."""
    options = _SMTPUTF8 if utf8 else ()
    response = await smtp.execute_command(
        b"MAIL", b"FROM:" + smtp_path(sender, utf8=utf8), *options
    )
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)


async def rcpt_to(smtp: aiosmtplib.SMTP, recipient: str, *, utf8: bool = False) -> None:
    response = await smtp.execute_command(b"RCPT", b"TO:" + smtp_path(recipient, utf8=utf8))
    if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
        raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, recipient)


async def data(smtp: aiosmtplib.SMTP, wire: bytes) -> aiosmtplib.SMTPResponse:
    """DATA, then ``wire`` (from ``wire_data``) as it is, then its reply."""
    response = await smtp.execute_command(b"DATA")
    if response.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return await message_content(smtp, wire)


async def message_content(smtp: aiosmtplib.SMTP, wire: bytes) -> aiosmtplib.SMTPResponse:
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


async def reset(smtp: aiosmtplib.SMTP) -> None:
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
    """The error ``mail_from``, ``rcpt_to`` or ``data`` would have raised for the first of
    ``replies`` (to MAIL, RCPT, DATA, in order) that refused, or None."""
    if replies and replies[0].code != SMTPStatus.completed:
        return aiosmtplib.SMTPSenderRefused(replies[0].code, replies[0].message, sender)
    accepted = (SMTPStatus.completed, SMTPStatus.will_forward)
    if len(replies) > 1 and replies[1].code not in accepted:
        return aiosmtplib.SMTPRecipientRefused(replies[1].code, replies[1].message, recipient)
    if len(replies) > 2 and replies[2].code != SMTPStatus.start_input:
        return aiosmtplib.SMTPDataError(replies[2].code, replies[2].message)
    return None


async def next_reply(protocol: SMTPProtocol) -> aiosmtplib.SMTPResponse:
    """The next reply: already in the protocol's buffer, or the next to arrive (see
    above; the caller bounds the wait)."""
    buffered = protocol._read_response_from_buffer()
    if buffered is not None:
        return buffered
    return await protocol.read_response(timeout=None)


def envelope_commands(sender: str, recipient: str, *, utf8: bool = False) -> bytes:
    """MAIL FROM, RCPT TO and DATA, as one write (``ValueError`` for an address no
    command may carry); with ``utf8``, MAIL has the SMTPUTF8 parameter and the
    addresses are UTF-8."""
    mail = b"MAIL FROM:" + smtp_path(sender, utf8=utf8) + (b" SMTPUTF8" if utf8 else b"")
    commands = (mail, b"RCPT TO:" + smtp_path(recipient, utf8=utf8))
    if any(COMMAND_INJECTION_REGEX.search(command) for command in commands):
        raise ValueError("Command arg contains a prohibited control character")
    return b"%s\r\n%s\r\nDATA\r\n" % commands


async def pipelined_envelope(
    smtp: aiosmtplib.SMTP, sender: str, recipient: str, watch: ReplyWatch, *, utf8: bool = False
) -> None:
    """MAIL FROM, RCPT TO and DATA in one write, then their replies, with the errors
    ``mail_from``, ``rcpt_to`` and ``data`` raise, for the first command refused: the outcome
    of a message is the same as without pipelining. Returns once DATA is answered 354.

    A refusal after which the server still answered DATA with 354 (a server may, even
    with no recipient accepted) is followed by a lone dot, as RFC 2920 section 3.1
    requires, so that nothing of the message is sent and the server leaves the DATA
    phase; a DATA refused needs nothing more (the caller resets the transaction, as
    without pipelining)."""
    commands = envelope_commands(sender, recipient, utf8=utf8)
    protocol = smtp.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Server not connected")
    protocol.write(commands)
    replies: list[aiosmtplib.SMTPResponse] = []
    failure = await read_replies(smtp, protocol, replies, 3, watch)
    await settle_envelope(smtp, protocol, replies, failure, sender, recipient)


async def read_replies(
    smtp: aiosmtplib.SMTP,
    protocol: SMTPProtocol,
    replies: list[aiosmtplib.SMTPResponse],
    count: int,
    watch: ReplyWatch,
) -> aiosmtplib.SMTPException | None:
    """Up to ``count`` replies into ``replies``, stopping after a 421 (the server is
    closing: no more will come); what ended the wait early, if anything. A server
    silent for ``smtp.timeout`` is a read timeout (``ReplyWatch``)."""
    watch.waiting(smtp)
    try:
        while len(replies) < count:
            replies.append(await next_reply(protocol))
            if replies[-1].code == SMTPStatus.domain_unavailable:
                break
    except aiosmtplib.SMTPException as error:  # lost, or a reply aiosmtplib cannot parse
        if watch.ended:
            return aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
        return error
    finally:
        watch.since = None
    return None


class ReplyWatch:
    """The timeout of one connection's waits for replies, without a timer per wait.

    ``asyncio.timeout`` or a timer of the loop per wait costs a fan-out about 7 µs of
    CPU a message, a twentieth of its worker's share (``bench/fanout_cpu.py``). Instead
    a wait notes when it began, and ``watch_over`` looks at every connection a few times
    a timeout, closing any whose server has been silent for longer (the wait then ends
    with the connection lost, which ``read_replies`` reports as the timeout it is)."""

    __slots__ = ("ended", "since", "smtp")

    def __init__(self) -> None:
        self.since: float | None = None
        self.smtp: aiosmtplib.SMTP | None = None
        self.ended = False

    def waiting(self, smtp: aiosmtplib.SMTP) -> None:
        self.smtp, self.ended = smtp, False
        self.since = asyncio.get_running_loop().time()

    @staticmethod
    async def watch_over(watches: list[ReplyWatch], timeout: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = loop.time()
            for watch in watches:
                if watch.since is not None and now - watch.since >= timeout and watch.smtp:
                    watch.ended = True
                    watch.smtp.close()


async def settle_envelope(
    smtp: aiosmtplib.SMTP,
    protocol: SMTPProtocol,
    replies: list[aiosmtplib.SMTPResponse],
    failure: aiosmtplib.SMTPException | None,
    sender: str,
    recipient: str,
) -> None:
    """Returns if MAIL, RCPT and DATA were answered (250, 250, 354); else raises what
    ``mail_from``, ``rcpt_to`` and ``data`` would have, for the first refused, or the failure
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
