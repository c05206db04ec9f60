"""The delivery engine writes each SMTP transaction itself (``workflow.mail.bulk``):
the bytes it puts on the wire must be aiosmtplib's own, whatever the message."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import example, given
from hypothesis import strategies as st

from workflow.mail import bulk


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
    assert bulk.wire_data(message) == aiosmtplib_data(message)


_ATOM_CHARS = "abcXYZ019!#$%&'*+/=?^_`{|}~-"


@given(
    st.from_regex(bulk._PLAIN_ADDRESS, fullmatch=True)
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
        assert bulk.smtp_path(address) == expected
    else:
        with pytest.raises(expected):
            bulk.smtp_path(address)


class Transcript(asyncio.Protocol):
    """A minimal SMTP server that keeps every byte a client writes and accepts all."""

    def __init__(self, kept: bytearray) -> None:
        self.kept = kept
        self.buffer = b""
        self.in_data = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 transcript\r\n")

    def data_received(self, data: bytes) -> None:
        self.kept.extend(data)
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0 and not self.buffer.startswith(b".\r\n"):
                    return
                cut = 3 if end < 0 else end + 5
                self.buffer, self.in_data = self.buffer[cut:], False
                self.transport.write(b"250 kept\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                return
            self.buffer = rest
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(b"250-transcript\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.transport.write(b"354 go on\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 ok\r\n")


async def _transcript(send: object) -> bytes:
    kept = bytearray()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Transcript(kept), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await send(port)  # type: ignore[operator]
    return bytes(kept)


MESSAGES = [
    b"Subject: plain\r\n\r\nHello\r\n",
    b"Subject: dots\r\n\r\n.starts with a dot\r\n..two\r\n.\r\nend without a line end",
    b"Subject: bare line ends\n\nlf only\nand a lone \r here\r\n.dot after lf\n",
]


def test_a_batch_goes_on_the_wire_as_aiosmtplib_would_send_it() -> None:
    envelopes = [
        bulk.Envelope(i, "Newsroom <newsroom@x.example>", f"j{i}@press.example", message)
        for i, message in enumerate(MESSAGES)
    ]

    async def engine(port: int) -> None:
        results = await bulk.send_all(envelopes, host="127.0.0.1", port=port, connections=1)
        assert [r.outcome for r in results] == [bulk.Outcome.SENT] * len(envelopes)

    async def plain(port: int) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            for envelope in envelopes:
                await smtp.mail(envelope.sender)
                await smtp.rcpt(envelope.to)
                await smtp.data(envelope.data)

    ours, theirs = asyncio.run(_transcript(engine)), asyncio.run(_transcript(plain))
    assert b"\r\n..starts with a dot" in ours  # the messages' own lines are there
    assert ours == theirs
