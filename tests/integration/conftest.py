"""Fixtures for tests that run the real thing: Celery processes, an SMTP server.

The broker is the embedded filesystem transport unless NEWSROOM_TEST_BROKER_URL names a
Redis database (CI: redis://127.0.0.1:6379/15), which is emptied before each test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.settings import Settings
from tests.private_servers import PrivatePostgres, PrivateRedis, free_port
from tests.processes import ROOT, Cluster, Process, wait_for
from workflow.mail.catcher import CatchingHandler, start_catcher
from workflow.services.context import ServiceContext

BROKER_URL = os.environ.get("NEWSROOM_TEST_BROKER_URL", "")


__all__ = ["free_port"]


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
        "NEWSROOM_DIGEST_SWEEP_SECONDS": "1",
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


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis of this test's own, which it may stop (the shared one serves others)."""
    try:
        server = PrivateRedis()
    except FileNotFoundError as missing:
        pytest.skip(f"no private Redis: {missing}")
    server.start()
    yield server
    server.close()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test's own, which it may restart."""
    try:
        server = PrivatePostgres()
    except FileNotFoundError as missing:
        pytest.skip(f"no private PostgreSQL: {missing}")
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def web(cluster: Cluster) -> Iterator[str]:
    """``newsroom web`` as production starts it, on the cluster's settings."""
    port = free_port()
    log = cluster.logs / "web.log"
    popen = subprocess.Popen(  # noqa: S603  # the project's own command
        [str(Path(sys.executable).parent / "newsroom"), "web", "--port", str(port)],
        cwd=ROOT,
        env=cluster.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster.processes.append(Process("web", popen, log))
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, 30, "newsroom web")
    yield base


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
