"""Engines and sessions for SQLite (embedded mode) and PostgreSQL (production)."""

from __future__ import annotations

import select
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from workflow.db import appended

# Connections a process keeps open to PostgreSQL. The web app runs at most this many
# handlers at once (``workflow.api.app``), so a busy server reuses its connections: a
# thread past the kept ones would open a connection for each request and close it after,
# and PostgreSQL starts a server process for every one. The overflow is for the odd
# background flush.
POOL_SIZE: Final = 20
POOL_OVERFLOW: Final = 5
# The isolation level of reads made outside any transaction.
AUTOCOMMIT: Final = "AUTOCOMMIT"


def make_engine(url: str, **options: Any) -> Engine:
    """An engine tuned for the database behind ``url``.

    SQLite runs in WAL mode with foreign keys on, and every transaction is started with
    ``BEGIN IMMEDIATE``: writers queue on the database lock at the start instead of
    failing halfway when a reader upgrades, which is what makes two racing approvals
    serialise cleanly. A PostgreSQL connection the server closed is replaced before use
    (``_ping_what_the_server_spoke_to``), so a restarted server costs no request.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        _tune_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, **options)
    _ping_what_the_server_spoke_to(engine)
    return engine


def _ping_what_the_server_spoke_to(engine: Engine) -> None:
    """Check a pooled connection before use only if the server wrote to it while it sat
    idle, instead of ``pool_pre_ping``'s round trip on every checkout (one more for
    every command, and for every fan-out chunk).

    A server that closes a connection (a restart, a terminated backend, an idle timeout)
    says so on it, or ends the stream: either way the idle socket is readable, which a
    poll with no timeout tells without a round trip. Only then is the connection pinged,
    and one that fails is replaced before use, as ``pool_pre_ping`` would. (A silent
    loss, a host gone without a word, is not seen; the ping would hang on it just the
    same.)"""

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        readable = select.poll()
        readable.register(dbapi_connection.fileno(), select.POLLIN)
        if not readable.poll(0):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever it says, this connection is done
            raise DisconnectionError("the server closed this connection") from error


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read outside any transaction (``ServiceContext.reading``) begins none.
        if connection.get_execution_options().get("isolation_level") != AUTOCOMMIT:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # No autoflush: writes reach the database at the unit of work's explicit flush points
    # and at commit, where a lost race is recognised and reported as such.
    factory = sessionmaker(engine, expire_on_commit=False, autoflush=False)
    appended.install(factory)
    return factory
