"""JSON log lines and the request id (``workflow.logs``): what one record becomes."""

from __future__ import annotations

import json
import logging
import sys

from workflow.logs import (
    REQUEST_ID,
    JsonAccessFormatter,
    JsonFormatter,
    request_context,
    request_id_from,
    uvicorn_log_config,
)


def record(
    msg: str, *args: object, name: str = "workflow.test", **extra: object
) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)
    made.__dict__.update(extra)
    return made


def test_a_line_is_one_json_object_with_the_fields_and_the_extras() -> None:
    line = JsonFormatter().format(record("relayed %d events", 3, events=3, lag_ms=12.5))
    assert "\n" not in line
    fields = json.loads(line)
    assert fields.pop("timestamp").endswith("+00:00")
    assert fields == {
        "level": "INFO",
        "logger": "workflow.test",
        "message": "relayed 3 events",
        "request_id": None,
        "events": 3,
        "lag_ms": 12.5,
    }


def test_the_current_request_id_is_on_every_line_made_while_it_is_set() -> None:
    formatter = JsonFormatter()
    with request_context("abc-123"):
        assert json.loads(formatter.format(record("inside")))["request_id"] == "abc-123"
        with request_context(None):
            assert json.loads(formatter.format(record("no id")))["request_id"] is None
        assert REQUEST_ID.get() == "abc-123"
    assert json.loads(formatter.format(record("after")))["request_id"] is None


def test_a_traceback_stays_on_the_line_and_korean_text_survives_any_stream() -> None:
    try:
        raise ValueError("발행 실패")
    except ValueError:
        failed = record("보도자료 %s", "외교부", name="tasks.events")
        failed.exc_info = sys.exc_info()
    line = JsonFormatter().format(failed)
    assert line.isascii() and "\n" not in line
    fields = json.loads(line)
    assert fields["message"] == "보도자료 외교부"
    assert fields["exception"].startswith("Traceback") and "발행 실패" in fields["exception"]


def test_uvicorns_access_line_also_gives_its_parts_as_fields() -> None:
    access = record(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:40312",
        "GET",
        "/?lang=ko",
        "1.1",
        200,
        name="uvicorn.access",
    )
    fields = json.loads(JsonAccessFormatter().format(access))
    assert fields["message"] == '127.0.0.1:40312 - "GET /?lang=ko HTTP/1.1" 200'
    assert (fields["client"], fields["method"], fields["path"], fields["status"]) == (
        "127.0.0.1:40312",
        "GET",
        "/?lang=ko",
        200,
    )


def test_uvicorns_coloured_copy_of_a_message_is_left_out() -> None:
    line = JsonFormatter().format(record("Started", color_message="\x1b[32mStarted\x1b[0m"))
    assert "color_message" not in json.loads(line)


def test_a_sane_request_id_is_kept_and_anything_else_replaced() -> None:
    for given in ("abc-123", "0f3c2a9e-5b7d-4c1e-9a8b-2d6f4e1c3b5a", "Root=1-67891233-abcdef"):
        assert request_id_from(given) == given
    for given in (None, "", "two words", "line\nbreak", "x" * 129, '"quoted"', "한국"):
        made = request_id_from(given)
        assert made != given and len(made) == 32 and int(made, 16) >= 0
    assert request_id_from(None) != request_id_from(None)


def test_the_web_log_configuration_for_json_and_for_text() -> None:
    config = {
        "version": 1,
        "formatters": {"default": {"fmt": "%(message)s"}, "access": {"fmt": "%(message)s"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default"}},
        "loggers": {"uvicorn": {"handlers": ["default"]}},
    }
    assert uvicorn_log_config(config, "text") is config
    json_config = uvicorn_log_config(config, "json")
    assert json_config["formatters"] == {
        "default": {"()": "workflow.logs.JsonFormatter"},
        "access": {"()": "workflow.logs.JsonAccessFormatter"},
    }
    assert json_config["handlers"] == config["handlers"]
    assert json_config["root"] == {"handlers": ["default"], "level": "INFO"}
