"""What a worker and beat write at INFO: what happened (a release published, events
relayed and handled, an error), not the routine of the periodic sweeps.

Celery logs at INFO every task a worker receives and every one that succeeds, and beat
every task it sends; with sweeps every second or two, that is hundreds of lines a minute
saying that nothing happened. Those records are demoted to DEBUG, where
``--loglevel=DEBUG`` still shows them. A task's own lines, its retries and its failures
keep their levels.
"""

from __future__ import annotations

import logging

from celery.app import trace

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
