"""The web server's access log: one plain line a request (see ``web_log_config``),
written in batches (``workflow.web.access_log``)."""

from __future__ import annotations

import io
import logging
import logging.config
import time
from collections.abc import Iterator

import pytest

from workflow.cli import web_log_config
from workflow.web.access_log import BufferedStreamHandler, lighter_log_records


def test_an_access_line_says_who_asked_what_and_the_status() -> None:
    config = web_log_config()
    formatter = logging.Formatter(config["formatters"]["access"]["format"])
    # What uvicorn logs for each response (uvicorn/protocols/http/httptools_impl.py).
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:40312", "GET", "/?lang=ko", "1.1", 200),
        None,
    )
    assert formatter.format(record) == 'INFO:     127.0.0.1:40312 - "GET /?lang=ko HTTP/1.1" 200'


def test_the_rest_of_uvicorns_logging_is_as_it_was() -> None:
    from uvicorn.config import LOGGING_CONFIG

    config = web_log_config()
    assert config["formatters"]["default"] == LOGGING_CONFIG["formatters"]["default"]
    assert config["loggers"] == LOGGING_CONFIG["loggers"]
    assert config["handlers"]["default"] == LOGGING_CONFIG["handlers"]["default"]
    access = dict(config["handlers"]["access"])
    assert access.pop("class") == "workflow.web.access_log.BufferedStreamHandler"
    assert access == {k: v for k, v in LOGGING_CONFIG["handlers"]["access"].items() if k != "class"}
    assert "()" in LOGGING_CONFIG["formatters"]["access"], "uvicorn's own is left untouched"


@pytest.fixture
def access_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("test.access")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def attach(logger: logging.Logger, **options: float) -> tuple[io.StringIO, BufferedStreamHandler]:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, **options)  # type: ignore[arg-type]
    logger.addHandler(handler)
    return stream, handler


def test_lines_wait_for_the_flush_interval_then_go_together_in_order(
    access_logger: logging.Logger,
) -> None:
    stream, _ = attach(access_logger, flush_seconds=0.2)
    for n in range(3):
        access_logger.info("request %d", n)
    assert stream.getvalue() == "", "nothing written line by line"
    deadline = time.monotonic() + 5
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "request 0\nrequest 1\nrequest 2\n"
    access_logger.info("request 3")  # a quiet spell, then a line: it goes out too
    time.sleep(0.5)
    assert stream.getvalue().endswith("request 2\nrequest 3\n")


def test_a_full_buffer_is_written_at_once_and_a_flush_writes_the_rest(
    access_logger: logging.Logger,
) -> None:
    stream, handler = attach(access_logger, flush_seconds=3600, buffer_bytes=30)
    access_logger.info("0123456789")
    access_logger.info("0123456789")
    assert stream.getvalue() == ""
    access_logger.info("0123456789")  # 33 bytes waiting
    assert stream.getvalue() == "0123456789\n" * 3
    access_logger.info("the last")
    handler.flush()  # what logging.shutdown does at exit
    assert stream.getvalue().endswith("0123456789\nthe last\n")


def test_lighter_records_leave_out_what_no_web_line_shows(
    monkeypatch: pytest.MonkeyPatch, access_logger: logging.Logger
) -> None:
    for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, name, getattr(logging, name))  # restored after
    records: list[logging.LogRecord] = []
    access_logger.addHandler(logging.Handler())
    access_logger.handlers[-1].emit = records.append  # type: ignore[method-assign]
    lighter_log_records()
    access_logger.info("GET /")
    (record,) = records
    assert (record.funcName, record.thread, record.process) == ("(unknown function)", None, None)


class BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("the pipe's reader is gone")


def test_a_broken_stream_is_reported_and_never_raised_into_the_request(
    access_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = BufferedStreamHandler(BrokenStream(), flush_seconds=3600, buffer_bytes=1)
    access_logger.addHandler(handler)
    access_logger.info("GET /")  # the buffer is full at once: written, and the write fails
    assert "the pipe's reader is gone" in capsys.readouterr().err
