"""The web server's access log: one plain line a request (see ``web_log_config``)."""

from __future__ import annotations

import logging
import logging.config

from workflow.cli import web_log_config


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
    assert config["handlers"] == LOGGING_CONFIG["handlers"]
    assert "()" in LOGGING_CONFIG["formatters"]["access"], "uvicorn's own is left untouched"
