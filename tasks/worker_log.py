"""What a worker and beat write at INFO: what happened (a release published, events
relayed and handled, an error), not the routine of the periodic sweeps.

Celery logs at INFO every task a worker receives and every one that succeeds, and beat
every task it sends; with sweeps every second or two, that is hundreds of lines a minute
saying that nothing happened. Those records are demoted to DEBUG, where
``--loglevel=DEBUG`` still shows them. A task's own lines, its retries and its failures
keep their levels.

With ``NEWSROOM_LOG_FORMAT=json`` the worker and beat write one JSON object a line
(``workflow.logs``), with the task's id and name beside the request id. A task sent while
a request id is current carries it in its message's headers, and runs with it current
(``carry_request_id``, ``take_request_id``): the tasks a command's events call for log
the id of the web request that committed it.
"""

from __future__ import annotations

import logging
from contextvars import Token
from typing import Any

from celery import Task
from celery._state import get_current_task
from celery.app import trace
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    before_task_publish,
    celeryd_init,
    task_postrun,
    task_prerun,
)
from celery.utils.log import get_multiprocessing_logger

from config.settings import get_settings
from workflow.logs import REQUEST_ID, JsonFormatter

# Celery's formats of the routine records, by the logger that writes them.
ROUTINE: dict[str, tuple[str, ...]] = {
    "celery.worker.strategy": (trace.LOG_RECEIVED,),
    "celery.app.trace": (trace.LOG_SUCCESS,),
    "celery.beat": ("Scheduler: Sending due task %s (%s)",),
}


class DemoteRoutine(logging.Filter):
    """Turns ``logger``'s INFO records written with one of ``formats`` into DEBUG ones,
    passed on only if the logger shows DEBUG."""

    def __init__(self, logger: logging.Logger, formats: tuple[str, ...]) -> None:
        super().__init__()
        self.logger = logger
        self.formats = formats

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.msg not in self.formats:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self.logger.isEnabledFor(logging.DEBUG)


def demote_routine_records() -> None:
    """Install the filters (once); forked pool processes inherit them."""
    for name, formats in ROUTINE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, DemoteRoutine) for f in logger.filters):
            logger.addFilter(DemoteRoutine(logger, formats))


class TaskJsonFormatter(JsonFormatter):
    """JSON lines with the running task's id and name, as Celery's task lines have."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        task = get_current_task()
        if task is None or task.request is None or task.request.id is None:
            return {}
        return {"task_id": task.request.id, "task_name": task.name}


@celeryd_init.connect
def json_from_the_start(instance: Any, **_: Any) -> None:
    """With JSON lines, a worker prints no start-up banner (a picture of its settings,
    not a line), and a warning before Celery sets up its logging (running as root, say)
    is a JSON line too."""
    if get_settings().log_format != "json":
        return
    instance.quiet = True
    warnings = logging.getLogger("py.warnings")
    if not warnings.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(TaskJsonFormatter())
        warnings.addHandler(handler)
        warnings.propagate = False
    logging.captureWarnings(True)


@after_setup_logger.connect
@after_setup_task_logger.connect
def write_json(logger: logging.Logger, **_: Any) -> None:
    """With ``NEWSROOM_LOG_FORMAT=json``, the handlers Celery gave ``logger`` (the root
    logger and billiard's, then the task logger) write JSON lines."""
    if get_settings().log_format != "json":
        return
    loggers = [logger]
    if logger is logging.getLogger():
        loggers.append(get_multiprocessing_logger())
    for each in loggers:
        for handler in each.handlers if each is not None else ():
            handler.setFormatter(TaskJsonFormatter())


# The message header a task's request id travels in.
REQUEST_ID_HEADER = "newsroom_request_id"


@before_task_publish.connect
def carry_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """A task sent while a request id is current carries it."""
    request_id = REQUEST_ID.get()
    if request_id is not None and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


_running: dict[str, Token[str | None]] = {}


@task_prerun.connect
def take_request_id(task_id: str, task: Task, **_: Any) -> None:
    """A task runs with the request id its message carried current (or none)."""
    request_id = getattr(task.request, REQUEST_ID_HEADER, None)
    _running[task_id] = REQUEST_ID.set(request_id if isinstance(request_id, str) else None)


@task_postrun.connect
def drop_request_id(task_id: str, **_: Any) -> None:
    """The task is done: the id it ran with is no longer current."""
    token = _running.pop(task_id, None)
    if token is not None:
        REQUEST_ID.reset(token)
