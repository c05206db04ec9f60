"""The web's access log, at a cost that fits a line for every request.

A line through ``logging`` as configured by default costs a busy server more than the
line's worth: the record looks up its caller's frame, thread and process id, which no
line here shows, and the handler writes and flushes the stream for every line, a system
call each (two for a pipe, whose reader wakes: docker's log driver).

* ``lighter_log_records`` turns off what the records gather and nothing reads (the
  logging HOWTO's "Optimization"); in the web's processes only.
* ``BufferedStreamHandler`` keeps the lines and writes them together, once
  ``buffer_bytes`` are waiting or ``flush_seconds`` after the first of them, as nginx's
  ``access_log ... buffer=64k flush=1s`` does. Lines of a process that is killed
  (SIGKILL) in that second are lost with it; a process that exits writes them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final, TextIO

FLUSH_SECONDS: Final = 1.0
BUFFER_BYTES: Final = 64 * 1024


def lighter_log_records() -> None:
    """Records without their caller's frame, thread or process: the web's formats show
    none of them (uvicorn's: level and message)."""
    logging._srcfile = None  # the documented switch for the caller's frame
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes its lines in batches (see the module's docstring)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        flush_seconds: float = FLUSH_SECONDS,
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        super().__init__(stream)
        self.flush_seconds = flush_seconds
        self.buffer_bytes = buffer_bytes
        self._lines: list[str] = []
        self._size = 0
        self._due = threading.Event()
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # Called with the handler's lock held (``Handler.handle``).
        try:
            line = self.format(record) + self.terminator
        except Exception:  # as StreamHandler does: report it, never raise
            self.handleError(record)
            return
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self.buffer_bytes:
            try:
                self._write()
            except Exception:  # a broken stream is reported, never raised into a request
                self.handleError(record)
        elif len(self._lines) == 1:
            self._wake_flusher()

    def flush(self) -> None:
        """Write what is waiting (the flusher's tick, and ``logging.shutdown`` at exit)."""
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def _write(self) -> None:
        if self._lines:
            lines, self._lines, self._size = self._lines, [], 0
            self.stream.write("".join(lines))
        if self.stream and hasattr(self.stream, "flush"):
            self.stream.flush()

    def _wake_flusher(self) -> None:
        self._due.set()
        if self._flusher is None:  # started on first use: in the process that logs
            self._flusher = threading.Thread(
                target=self._flush_when_due, name="access-log-flusher", daemon=True
            )
            self._flusher.start()

    def _flush_when_due(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            time.sleep(self.flush_seconds)
            try:
                self.flush()
            except Exception:  # reported as emit would, and the flusher goes on
                self.handleError(logging.makeLogRecord({"msg": "access log lines not written"}))
