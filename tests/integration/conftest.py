"""Fixtures for tests that run the real thing: Celery processes, an SMTP server.

The broker is the embedded filesystem transport unless NEWSROOM_TEST_BROKER_URL names a
Redis database (CI: redis://127.0.0.1:6379/15), which is emptied before each test.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from tests.processes import Cluster
from workflow.mail.catcher import CatchingHandler, start_catcher
from workflow.services.context import ServiceContext

BROKER_URL = os.environ.get("NEWSROOM_TEST_BROKER_URL", "")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[CatchingHandler, int]]:
    """A real SMTP server on a loopback port, keeping what it receives."""
    port = free_port()
    controller, handler = start_catcher("127.0.0.1", port)
    yield handler, port
    controller.stop()


@pytest.fixture
def live(database_url: str) -> Iterator[ServiceContext]:
    """Service functions on real time, as the worker processes see it."""
    context = ServiceContext.from_settings(Settings(database_url=database_url))
    yield context
    context.engine.dispose()


@pytest.fixture
def cluster_env(
    database_url: str, tmp_path: Path, smtp: tuple[CatchingHandler, int]
) -> dict[str, str]:
    if BROKER_URL:
        import redis

        redis.Redis.from_url(BROKER_URL).flushdb()
    return {
        **os.environ,
        "NEWSROOM_ENVIRONMENT": "test",
        "NEWSROOM_DATABASE_URL": database_url,
        "NEWSROOM_BROKER_URL": BROKER_URL,
        "NEWSROOM_VAR_DIR": str(tmp_path / "var"),
        "NEWSROOM_MAIL_BACKEND": "smtp",
        "NEWSROOM_SMTP_HOST": "127.0.0.1",
        "NEWSROOM_SMTP_PORT": str(smtp[1]),
        "NEWSROOM_SMTP_TIMEOUT": "10",
        "NEWSROOM_RELAY_SWEEP_SECONDS": "1",
        "NEWSROOM_PUBLISH_SWEEP_SECONDS": "0.5",
        "NEWSROOM_NOTIFICATION_SWEEP_SECONDS": "1",
        "NEWSROOM_DEADLINE_SWEEP_SECONDS": "1",
    }


@pytest.fixture
def cluster(
    cluster_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Cluster]:
    processes = Cluster(cluster_env, tmp_path)
    yield processes
    processes.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(processes.report())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
