"""Rows a transaction adds and never reads back, sent with its ``COMMIT``.

A command's writes end with rows it only appends: the new revisions, the approvals, the
audit entries and the outbox events. Added to the session as ORM objects, each table's
rows would be one ``INSERT … RETURNING id`` at the flush, and the ``COMMIT`` one more
round trip after them; under load each round trip waits for the handler thread's next
turn.

So they are queued in the session (``append``) and inserted without ``RETURNING`` when
the transaction ends. ``commit`` sends them and the ``COMMIT`` in one round trip on
PostgreSQL, in psycopg's pipeline mode: the server runs them in order and stops at the
first error, so they are committed together or not at all. Whatever commits or flushes a
session some other way sends them first (``send_appended``, and the ``before_commit``
hook that ``make_session_factory`` installs), so none is ever lost; a rollback forgets
them.

The ORM's own writes (the release's row, checked against its ``row_version``, and any
row whose id is needed) are flushed first, the usual way: a version check needs the
count of rows the ``UPDATE`` matched, which pipeline mode tells only after the sync.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import event, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from workflow.db.tables import Base

# The key in ``Session.info`` of the rows queued: (model, rows as attribute dicts).
APPENDED: Final = "appended_rows"


def append(session: Session, model: type[Base], rows: Iterable[dict[str, Any]]) -> None:
    """Queue ``rows`` of ``model`` to be inserted when ``session``'s transaction ends."""
    batch = list(rows)
    if batch:
        session.info.setdefault(APPENDED, []).append((model, batch))


def send_appended(session: Session) -> None:
    """Insert the queued rows now, one statement a table (what a flush does for the
    ORM's pending objects)."""
    for model, rows in session.info.pop(APPENDED, ()):
        session.execute(insert(model).inline(), rows)


def commit(session: Session) -> None:
    """Flush, then commit with the queued rows: on PostgreSQL the inserts and the
    ``COMMIT`` in one round trip; elsewhere one after the other. A failure comes back as
    SQLAlchemy's exception for it (``IntegrityError``, ``OperationalError`` …), as from
    ``Session.commit``, and the transaction is left to roll back."""
    session.flush()
    if APPENDED in session.info and _pipelines(session.get_bind().dialect):
        _send_with_commit(session)
    session.commit()


def _pipelines(dialect: Dialect) -> bool:
    # psycopg's wheels bring a libpq with pipeline mode; with a system libpq older than
    # 14 there is none, and the rows go one statement at a time, as on SQLite.
    return dialect.driver == "psycopg" and bool(dialect.loaded_dbapi.Pipeline.is_supported())


def _send_with_commit(session: Session) -> None:
    connection = session.connection()
    dbapi = connection.dialect.loaded_dbapi
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.pipeline():
            send_appended(session)
            # Queued behind the inserts: the pipeline's sync at the end of the block sends
            # them all and raises the first error. Session.commit then finds the
            # transaction over and sends nothing.
            driver.execute("COMMIT", prepare=False)
    except dbapi.Error as error:
        raise DBAPIError.instance(
            "COMMIT", None, error, dbapi.Error, dialect=connection.dialect
        ) from error


def install(factory: sessionmaker[Session]) -> None:
    """Make every session of ``factory`` send its queued rows before any commit, and
    forget them on rollback."""

    @event.listens_for(factory, "before_commit")
    def _before_commit(session: Session) -> None:
        if APPENDED in session.info:
            session.flush()  # first the rows they may refer to, as ``commit`` does
            send_appended(session)

    @event.listens_for(factory, "after_soft_rollback")
    def _after_rollback(session: Session, _previous: Any) -> None:
        session.info.pop(APPENDED, None)
