"""Where the work in hand came from: the client's address of a web request, or the
command line and who ran it. The audit of administrative acts records it with each act.

It is set once per entry point, as the request id is (``workflow.logs``): the web's
outermost middleware sets the client's address for the request
(``workflow.api.request_observer``), and the ``newsroom`` command sets
``cli:<OS user>@<host>`` for its run. Whatever runs outside both, a task or a test calling
a service, has none.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

ORIGIN: ContextVar[str | None] = ContextVar("newsroom_origin", default=None)
MAX_LENGTH: Final = 200


def current_origin() -> str | None:
    """Where the work in hand came from, if known."""
    return ORIGIN.get()


@contextmanager
def acting_from(origin: str | None) -> Iterator[None]:
    """``origin`` is where the work comes from within the block."""
    token = ORIGIN.set(origin[:MAX_LENGTH] if origin else None)
    try:
        yield
    finally:
        ORIGIN.reset(token)


def command_line_origin() -> str:
    """``cli:`` and the OS user running the command, at this host: the console acts as
    an admin for whoever holds the server, so the record says which of them it was."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container's bare uid)
        user = f"uid {os.getuid()}"
    return f"cli:{user}@{socket.gethostname()}"
