"""PostgreSQL connections are reused without a round trip to check them, unless the
server closed them while they sat in the pool: then they are replaced before use."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text

from tests.processes import wait_for
from workflow.services.context import ServiceContext

pytestmark = pytest.mark.postgres


@pytest.fixture
def pings(ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every ping of a pooled connection, by the backend it went to."""
    dialect = ctx.engine.dialect
    ping = dialect.do_ping
    seen: list[int] = []

    def counted(dbapi_connection: psycopg.Connection[object]) -> bool:
        seen.append(dbapi_connection.info.backend_pid)
        return ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    yield seen


def backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_an_idle_connection_is_used_again_without_a_ping(
    ctx: ServiceContext, pings: list[int]
) -> None:
    first = backend(ctx.engine)
    assert backend(ctx.engine) == first
    assert pings == []


def test_a_connection_the_server_ended_is_replaced_before_use(
    ctx: ServiceContext, pings: list[int]
) -> None:
    ended = backend(ctx.engine)
    admin = ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", [ended])

        def gone() -> bool:
            found = connection.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [ended]
            ).fetchone()
            return found is None

        wait_for(gone, 10, "the backend to end")

    replacement = backend(ctx.engine)  # no error: the pool noticed first
    assert replacement != ended
    assert pings == [ended]
