"""The bulk SMTP sender writes each SMTP transaction itself (``workflow.mail.smtp_wire``
and ``smtp_engine``): the bytes it puts on the wire must be aiosmtplib's own, whatever
the message, and each fault of the relay must end as it would without pipelining."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import aiosmtplib
import pytest
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import example, given
from hypothesis import strategies as st

from workflow.mail import smtp_wire
from workflow.mail.envelopes import Envelope, Outcome, Result
from workflow.mail.smtp_engine import SmtpBulkSender, send_all


def aiosmtplib_data(message: bytes) -> bytes:
    """What aiosmtplib's ``SMTPProtocol.execute_data_command`` writes after DATA."""
    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n"


@given(st.binary() | st.lists(st.sampled_from([b"\r", b"\n", b".", b"a", b"\r\n"])).map(b"".join))
@example(b"")
@example(b".")
@example(b"\r\n.\r\n")
@example(b"a\r\r\n.b\n.c\r")
@example(b"Subject: x\r\n\r\n.hidden\r\n..two\r\nend")
def test_wire_data_is_what_aiosmtplib_sends(message: bytes) -> None:
    assert smtp_wire.wire_data(message) == aiosmtplib_data(message)


_ATOM_CHARS = "abcXYZ019!#$%&'*+/=?^_`{|}~-"


@given(
    st.from_regex(smtp_wire._PLAIN_ADDRESS, fullmatch=True)
    | st.text(alphabet=st.sampled_from(list(_ATOM_CHARS) + list('@. <>"()\\,:;[]\té')))
)
@example("j1@press.example")
@example('"a b"@x.example')
@example("Name <a@x.example>")
@example("a@x.example (comment)")
@example("")
def test_smtp_path_is_what_aiosmtplib_puts_on_the_command_line(address: str) -> None:
    try:
        expected: bytes | type[Exception] = quote_address(address).encode("ascii")
    except ValueError as error:  # UnicodeEncodeError included
        expected = type(error)
    if isinstance(expected, bytes):
        assert smtp_wire.smtp_path(address) == expected
    else:
        with pytest.raises(expected):
            smtp_wire.smtp_path(address)


# What a ``Transcript`` answers in place of its usual reply: a reply line, or one of these.
DROP = b"<drop>"  # send what is held back, then close the connection
MUTE = b"<mute>"  # never answer
Answer = Callable[[bytes, bytes], bytes | None]


class Transcript(asyncio.Protocol):
    """A minimal SMTP server that keeps every byte a client writes and accepts all, but
    what ``answer`` (given each command line, or ``b"."`` for a message's end, and the
    transaction's last RCPT line) answers otherwise. DATA with no recipient accepted is
    answered 554, as Postfix does.

    With ``pipelining`` it says so in its EHLO answer and, as RFC 2920 section 3.2 lets a
    server do, holds its replies to MAIL and RCPT back until a command that ends a group
    (DATA here) comes: a client that waits for each reply before the next command waits
    for ever. The held replies then go out in one write.

    ``ahead`` gets every command line that came in the same read as an earlier one: sent
    before the earlier one's reply, which a client that waits for each could not do;
    ``chained`` every one that came in the same read as a message's content, after it."""

    def __init__(
        self,
        kept: bytearray,
        *,
        pipelining: bool = False,
        answer: Answer | None = None,
        ahead: list[bytes] | None = None,
        chained: list[bytes] | None = None,
    ) -> None:
        self.kept = kept
        self.ahead = ahead if ahead is not None else []
        self.chained = chained if chained is not None else []
        self.pipelining = pipelining
        self.answer = answer or (lambda line, rcpt: None)
        self.buffer = b""
        self.in_data = False
        self.held: list[bytes] = []
        self.mail = False
        self.rcpt = b""
        self.accepted = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 transcript\r\n")

    def reply(self, line: bytes, usual: bytes, *, hold: bool = False) -> bytes | None:
        """Answer ``line``: the reply, or None once the connection is closed or muted."""
        answer = self.answer(line, self.rcpt)
        if answer == MUTE:
            self.transport.pause_reading()
            return None
        if answer == DROP:
            self.transport.write(b"".join(self.held))
            self.transport.close()
            return None
        reply = answer or usual
        self.held.append(reply + b"\r\n")
        if not (hold and self.pipelining):
            self.transport.write(b"".join(self.held))
            self.held.clear()
        return reply

    def data_received(self, data: bytes) -> None:
        self.kept.extend(data)
        self.buffer += data
        commands = 0
        after_content = False
        while not self.transport.is_closing():
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0 and not self.buffer.startswith(b".\r\n"):
                    return
                cut = 3 if end < 0 else end + 5
                self.buffer, self.in_data = self.buffer[cut:], False
                reply = self.reply(b".", b"250 kept")
                after_content = True
                self.mail, self.rcpt, self.accepted = False, b"", 0
                if reply is None:
                    return
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                return
            self.buffer = rest
            if commands:
                self.ahead.append(line)
            if after_content:
                self.chained.append(line)
            commands += 1
            verb = line[:4].upper()
            if verb == b"EHLO":
                offered = b"250-PIPELINING\r\n" if self.pipelining else b""
                reply = self.reply(line, b"250-transcript\r\n" + offered + b"250 8BITMIME")
            elif verb == b"MAIL":
                reply = self.reply(line, b"250 ok", hold=True)
                self.mail = reply is not None and reply.startswith(b"2")
            elif verb == b"RCPT":
                self.rcpt = line
                reply = self.reply(line, b"250 ok" if self.mail else b"503 need MAIL", hold=True)
                self.accepted += reply is not None and reply.startswith(b"2")
            elif verb == b"DATA":
                usual = b"354 go on" if self.accepted else b"554 no valid recipients"
                reply = self.reply(line, usual)
                self.in_data = reply is not None and reply.startswith(b"354")
                if not self.in_data:
                    self.mail, self.rcpt, self.accepted = False, b"", 0
            elif verb == b"RSET":
                self.mail, self.rcpt, self.accepted = False, b"", 0
                reply = self.reply(line, b"250 ok")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                reply = self.reply(line, b"250 ok")
            if reply is None:
                return


async def _transcript(
    send: Callable[[int], Awaitable[None]],
    *,
    pipelining: bool = False,
    answer: Answer | None = None,
    ahead: list[bytes] | None = None,
    chained: list[bytes] | None = None,
) -> bytes:
    kept = bytearray()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Transcript(
            kept, pipelining=pipelining, answer=answer, ahead=ahead, chained=chained
        ),
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    async with server:
        await send(port)
    return bytes(kept)


MESSAGES = [
    b"Subject: plain\r\n\r\nHello\r\n",
    b"Subject: dots\r\n\r\n.starts with a dot\r\n..two\r\n.\r\nend without a line end",
    b"Subject: bare line ends\n\nlf only\nand a lone \r here\r\n.dot after lf\n",
]


def envelopes_of(sender: str) -> list[Envelope]:
    """``MESSAGES``, each to a journalist of its own."""
    return [
        Envelope(i, sender, f"j{i}@press.example", message) for i, message in enumerate(MESSAGES)
    ]


def test_a_batch_goes_on_the_wire_as_aiosmtplib_would_send_it() -> None:
    envelopes = envelopes_of("Newsroom <newsroom@x.example>")
    results, ours = _engine(envelopes, pipelining=False)
    assert [r.outcome for r in results] == [Outcome.SENT] * len(envelopes)
    assert b"\r\n..starts with a dot" in ours  # the messages' own lines are there
    assert ours == _plain_transcript(envelopes)


def _plain_transcript(envelopes: list[Envelope]) -> bytes:
    """What plain aiosmtplib writes for ``envelopes``, one transaction after another."""

    async def plain(port: int) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            for envelope in envelopes:
                await smtp.mail(envelope.sender)
                await smtp.rcpt(envelope.to)
                await smtp.data(envelope.data)

    return asyncio.run(_transcript(plain))


def _engine(
    envelopes: list[Envelope],
    *,
    pipelining: bool,
    answer: Answer | None = None,
    ahead: list[bytes] | None = None,
    chained: list[bytes] | None = None,
    timeout: float = 2.0,
    chunk: int = 1,
) -> tuple[list[Result], bytes]:
    """The engine's results for ``envelopes`` over one connection at a time, in chunks
    of ``chunk``, and what it wrote."""
    results: list[Result] = []

    async def engine(port: int) -> None:
        results.extend(
            await send_all(
                envelopes,
                SmtpBulkSender("127.0.0.1", port, timeout=timeout),
                connections=1,
                chunk=chunk,
            )
        )

    kept = asyncio.run(
        _transcript(engine, pipelining=pipelining, answer=answer, ahead=ahead, chained=chained)
    )
    return results, kept


def test_with_pipelining_offered_the_envelope_goes_in_one_write_and_the_bytes_are_the_same() -> (
    None
):
    envelopes = envelopes_of("Newsroom <newsroom@x.example>")
    ahead: list[bytes] = []
    # The server holds MAIL's and RCPT's replies until DATA: without pipelining, the
    # engine would wait for them until its timeout.
    results, ours = _engine(envelopes, pipelining=True, ahead=ahead)
    assert [r.outcome for r in results] == [Outcome.SENT] * len(envelopes)
    assert ahead == [
        line for i in range(3) for line in (f"RCPT TO:<j{i}@press.example>".encode(), b"DATA")
    ], "RCPT and DATA came in the same write as MAIL"
    # Byte for byte what aiosmtplib sends without pipelining, bodies included.
    assert ours == _plain_transcript(envelopes)


def test_within_a_chunk_a_message_goes_with_the_next_envelope_and_the_bytes_are_the_same() -> None:
    envelopes = envelopes_of("Newsroom <newsroom@x.example>")
    chained: list[bytes] = []
    results, ours = _engine(envelopes, pipelining=True, chained=chained, chunk=len(envelopes))
    assert [r.outcome for r in results] == [Outcome.SENT] * len(envelopes)
    # Each message's content came in one write with the next one's MAIL, RCPT and DATA;
    # the last, alone, ends the chunk.
    assert chained == [
        line
        for i in (1, 2)
        for line in (
            b"MAIL FROM:<newsroom@x.example>",
            f"RCPT TO:<j{i}@press.example>".encode(),
            b"DATA",
        )
    ]
    assert ours == _plain_transcript(envelopes)


def test_without_pipelining_offered_each_command_waits_for_its_reply() -> None:
    envelopes = envelopes_of("newsroom@x.example")
    ahead: list[bytes] = []
    results, ours = _engine(envelopes, pipelining=False, ahead=ahead)
    assert [r.outcome for r in results] == [Outcome.SENT] * len(envelopes)
    assert ahead == []
    assert ours == _plain_transcript(envelopes)


def _body(address: str) -> bytes:
    return f"Subject: for {address}\r\n\r\nonly {address} reads this\r\n".encode()


# Recipient: (what the server answers to which command, instead of its usual reply),
# the outcome expected without and with pipelining, the start of the reply kept, and
# whether the message's body went on the wire.
_S, _T, _P, _A = (
    Outcome.SENT,
    Outcome.TRANSIENT,
    Outcome.PERMANENT,
    Outcome.AMBIGUOUS,
)
FAULTS: dict[str, tuple[dict[bytes, bytes], Outcome, Outcome, str, bool]] = {
    "first@x.example": ({}, _S, _S, "250 kept", True),
    "gone@x.example": ({b"RCPT": b"550 5.1.1 unknown"}, _P, _P, "550 5.1.1", False),
    "busy@x.example": ({b"RCPT": b"451 4.3.0 later"}, _T, _T, "451 4.3.0", False),
    # RFC 2920 section 3.1: DATA answered 354 after the only RCPT was refused.
    "lenient@x.example": (
        {b"RCPT": b"550 5.1.1 unknown", b"DATA": b"354 go on"},
        _P,
        _P,
        "550 5.1.1",
        False,
    ),
    # The refusal counts, not the connection lost after it.
    "refused-then-lost@x.example": (
        {b"RCPT": b"550 5.1.1 unknown", b"DATA": DROP},
        _P,
        _P,
        "550 5.1.1",
        False,
    ),
    # A reply aiosmtplib cannot parse: out of step, so the connection is replaced.
    "garbled@x.example": ({b"RCPT": b"hello?"}, _T, _T, "-1 Malformed SMTP response", False),
    "sender-refused@x.example": ({b"MAIL": b"550 5.7.1 not you"}, _P, _P, "550 5.7.1", False),
    "closing@x.example": ({b"MAIL": b"421 4.3.2 closing"}, _T, _T, "421 4.3.2", False),
    "data-refused@x.example": ({b"DATA": b"452 4.3.1 full"}, _T, _T, "452 4.3.1", False),
    "after-dot-refused@x.example": ({b".": b"554 5.6.0 spam"}, _P, _P, "554 5.6.0", True),
    # Lost before DATA's reply: without pipelining the engine counts it as lost with
    # the message (as before); with it, DATA's reply is one of the envelope's.
    "lost-at-data@x.example": ({b"DATA": DROP}, _A, _T, "SMTPServerDisconnected", False),
    "lost-at-mail@x.example": ({b"MAIL": DROP}, _T, _T, "SMTPServerDisconnected", False),
    "lost-after-dot@x.example": ({b".": DROP}, _A, _A, "SMTPServerDisconnected", True),
    "silent-at-data@x.example": ({b"DATA": MUTE}, _A, _T, "SMTPReadTimeoutError", False),
    "last@x.example": ({}, _S, _S, "250 kept", True),
}


def _fault_answer(line: bytes, rcpt: bytes) -> bytes | None:
    if line.startswith(b"MAIL"):  # the sender is the recipient's own, below
        address = line.removeprefix(b"MAIL FROM:<sender-of-").rstrip(b">").decode()
    else:
        address = rcpt.removeprefix(b"RCPT TO:<").rstrip(b">").decode()
    answers = FAULTS[address][0] if address in FAULTS else {}
    return answers.get(line[:4]) or answers.get(line)


@pytest.mark.parametrize(
    ("pipelining", "chunk"),
    [(False, 1), (True, 1), (True, len(FAULTS))],
    ids=["plain", "pipelining", "chained"],
)
def test_each_fault_has_the_same_outcome_with_and_without_pipelining(
    pipelining: bool, chunk: int
) -> None:
    """Chained (all in one chunk), each message's content goes with the next one's
    envelope: a loss before its reply leaves it possibly delivered, and the next goes
    again on a new connection, as if it had been sent alone."""
    envelopes = [
        Envelope(i, f"sender-of-{address}", address, _body(address))
        for i, address in enumerate(FAULTS)
    ]
    results, wire = _engine(
        envelopes, pipelining=pipelining, answer=_fault_answer, timeout=0.5, chunk=chunk
    )
    got = {envelopes[r.delivery_id].to: (r.outcome, r.reply) for r in results}
    for address, (_, plain, piped, reply, body_sent) in FAULTS.items():
        outcome, kept = got[address]
        assert (outcome, kept[: len(reply)]) == (piped if pipelining else plain, reply), address
        assert (_body(address) in wire) is body_sent, address
    # A new connection after each one lost, closed by a 421 or out of step, and after
    # the refusal followed by a lost connection, which only pipelining gets as far as.
    assert wire.count(b"EHLO ") == (8 if pipelining else 7)
    if pipelining:
        # Where DATA was answered 354 for nothing, the DATA phase ended with a lone dot.
        assert b"RCPT TO:<lenient@x.example>\r\nDATA\r\n.\r\nRSET\r\n" in wire


class OneReplyATurn:
    """A pipelining SMTP server on the test's own event loop that answers a group of
    commands one reply at a time: the first at once, each next one in the very turn of
    the loop in which the client reads the previous one, so that it is there to read at
    the next turn, while the previous one is still being handed over (a turn when
    awaited directly, two through ``asyncio.wait_for`` with a timeout on Python 3.11).

    How: each reply but the last goes with a byte on a socket pair of its own, whose
    reader sends the next reply. The loop finds both sockets ready at its next poll,
    the client's first (epoll reports them in the order they became ready), and runs
    the client's reading, then that reader, in the same turn."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.wake, self.waker = socket.socketpair()
        self.wake.setblocking(False)
        self.connection: socket.socket | None = None
        self.buffer, self.in_data = b"", False
        self.next: list[bytes] = []
        self.loop.add_reader(self.listener, self.accept)
        self.loop.add_reader(self.wake, self.send_next)

    def close(self) -> None:
        for sock in (self.listener, self.wake, self.connection):
            if sock is not None:
                self.loop.remove_reader(sock)
                sock.close()
        self.waker.close()

    def accept(self) -> None:
        self.connection, _ = self.listener.accept()
        self.connection.setblocking(False)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.send(b"220 one reply a turn\r\n")
        self.loop.add_reader(self.connection, self.read)

    def send_next(self) -> None:
        self.wake.recv(1)
        assert self.connection is not None
        self.connection.send(self.next.pop(0))
        if self.next:
            self.waker.send(b"!")

    def read(self) -> None:
        assert self.connection is not None
        data = self.connection.recv(65536)
        self.buffer += data
        replies = []
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    break
                self.buffer, self.in_data = self.buffer[end + 5 :], False
                replies.append(b"250 kept\r\n")
                continue
            line, found, self.buffer = self.buffer.partition(b"\r\n")
            if not found:
                self.buffer = line
                break
            verb = line[:4].upper()
            self.in_data = verb == b"DATA"
            if verb == b"EHLO":
                replies.append(b"250-turns\r\n250 PIPELINING\r\n")
            elif verb == b"QUIT":
                replies.append(b"221 bye\r\n")
            else:
                replies.append(b"354 go on\r\n" if self.in_data else b"250 ok\r\n")
        if not data:
            self.loop.remove_reader(self.connection)
        elif replies:
            self.connection.send(replies[0])
            self.next = replies[1:]
            if self.next:
                self.waker.send(b"!")


def test_a_reply_that_arrives_while_the_previous_is_handed_over_is_read() -> None:
    envelopes = [
        Envelope(i, "newsroom@x.example", f"j{i}@press.example", b"Subject: x\r\n\r\nx")
        for i in range(20)
    ]
    results: list[Result] = []

    async def send() -> None:
        server = OneReplyATurn()
        try:
            results.extend(
                await send_all(
                    envelopes, SmtpBulkSender("127.0.0.1", server.port, timeout=0.5), connections=1
                )
            )
        finally:
            server.close()

    asyncio.run(send())
    assert [r.outcome for r in results] == [Outcome.SENT] * len(envelopes)


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_an_address_no_command_may_carry_fails_alone(pipelining: bool) -> None:
    """A non-ASCII address cannot go in a command without SMTPUTF8 (``send_batch`` keeps
    them out; this is the engine's own guard): that delivery fails for good, nothing of
    it is sent, and the next goes out on the same connection."""
    good, bad = MESSAGES[0], MESSAGES[1]
    envelopes = [
        Envelope(1, "newsroom@x.example", "기자@press.example", bad),
        Envelope(2, "newsroom@x.example", "j2@press.example", good),
    ]
    results, ours = _engine(envelopes, pipelining=pipelining)
    assert [(r.delivery_id, r.outcome) for r in results] == [
        (1, Outcome.PERMANENT),
        (2, Outcome.SENT),
    ]
    assert results[0].reply.startswith("not sent:")
    assert b".starts with a dot" not in ours, "nothing of the refused message was sent"
    assert b"RCPT TO:<j2@press.example>" in ours
