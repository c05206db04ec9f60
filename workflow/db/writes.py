"""Writing through a session, for the repositories and the services that write rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflow.db.appended import send_appended
from workflow.domain.errors import ConcurrentUpdate


def conflict_insert(session: Session) -> Any:
    """The ``insert`` of ``session``'s dialect, the one with ``ON CONFLICT`` clauses
    (PostgreSQL's or SQLite's)."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def flush(session: Session) -> None:
    """Send pending writes now, the appended rows too; a lost race (stale row version, a
    unique number taken a moment earlier) becomes ``ConcurrentUpdate`` and the
    transaction is rolled back."""
    try:
        session.flush()
        send_appended(session)
    except (StaleDataError, IntegrityError) as error:
        session.rollback()
        raise ConcurrentUpdate("this record") from error
