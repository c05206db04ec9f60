"""Log lines as JSON objects, and the request id that ties a command's lines together.

``NEWSROOM_LOG_FORMAT=json`` makes the web (uvicorn's own loggers included), the worker
and beat write one JSON object a line: ``timestamp`` (UTC), ``level``, ``logger``,
``message``, ``request_id`` and whatever the call passed as ``extra``; ``text`` (the
default) leaves the plain lines as they are.

The request id follows a command from the web request into the Celery tasks it causes:

* the web takes it from the request's ``X-Request-ID`` when that is a sane value (a
  proxy's or a client's own), else makes one, keeps it in ``REQUEST_ID`` while the
  request runs, and echoes it in the answer's ``X-Request-ID``;
* the outbox rows a command writes keep it (``workflow.outbox``), the relay hands each
  event's to the consumer with the event, and the consumer sets it again while it
  handles that event (``tasks.events``);
* a task asked for while an id is set carries it in its message's headers and runs
  with it set (``tasks.worker_log``), and so on down the line.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final, Literal

REQUEST_ID: ContextVar[str | None] = ContextVar("newsroom_request_id", default=None)
# The header a request id comes in and goes back out with.
HEADER: Final = "x-request-id"
# What a request id from outside may be: short, and nothing a log line or a header would
# carry differently (no spaces, quotes, control characters). UUIDs, nginx's $request_id
# and AWS's trace ids pass.
_SANE = re.compile(r"[A-Za-z0-9._:;+/=-]{1,128}")
# The attributes every record has; anything else on a record came through ``extra``.
_RECORD_FIELDS: Final = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    # uvicorn's coloured copy of its message, for terminals.
    "color_message",
}

LogFormat = Literal["text", "json"]


def current_request_id() -> str | None:
    """The request id of the work in hand, if it has one."""
    return REQUEST_ID.get()


def request_id_from(header: str | None) -> str:
    """The id a request goes by: its ``X-Request-ID`` if that is sane, else a new one."""
    if header is not None and _SANE.fullmatch(header):
        return header
    return os.urandom(16).hex()  # as random as a UUID4, at a third of its cost


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """``request_id`` is the current one within the block (None: no id)."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a record, on one line (a traceback goes in ``exception``)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        line.update(self.fields(record))
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in line:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # ASCII only: a stream whose encoding is not UTF-8 still takes every line.
        return json.dumps(line, default=str)

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """Fields a kind of record adds beside the message; none by default."""
        return {}


class JsonAccessFormatter(JsonFormatter):
    """uvicorn's access lines, with what they say also as fields of their own."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        # uvicorn logs each answer as '%s - "%s %s HTTP/%s" %d' with these arguments
        # (uvicorn/protocols/http/httptools_impl.py and h11_impl.py).
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, http_version, status = record.args
            return {
                "client": client,
                "method": method,
                "path": path,
                "http_version": http_version,
                "status": status,
            }
        return {}


def json_formatter_config(access: bool = False) -> dict[str, str]:
    """A ``logging.config.dictConfig`` formatter entry for the JSON lines."""
    formatter = JsonAccessFormatter if access else JsonFormatter
    return {"()": f"{formatter.__module__}.{formatter.__qualname__}"}


def uvicorn_log_config(config: dict[str, Any], log_format: LogFormat) -> dict[str, Any]:
    """uvicorn's logging configuration ``config`` in ``log_format``: for JSON, its
    formatters write JSON and the service's own loggers (which otherwise reach only
    Python's last-resort handler, warnings and worse, unformatted) write through its
    default handler at INFO."""
    if log_format == "text":
        return config
    formatters = {name: json_formatter_config(name == "access") for name in config["formatters"]}
    return {
        **config,
        "formatters": formatters,
        "root": {"handlers": ["default"], "level": "INFO"},
    }
