"""The unit of work: one transaction, its repositories, and what runs after commit."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from workflow.db import appended
from workflow.db.releases import ReleaseRepository
from workflow.db.topics import TopicRepository
from workflow.db.users import UserRepository
from workflow.db.writes import flush
from workflow.domain.errors import ConcurrentUpdate


class UnitOfWork:
    """A transaction that commits all of a command's writes or none of them.

    Use it as a context manager; leaving the block without ``commit()`` rolls back.
    Callbacks registered with ``after_commit`` run only once the commit has succeeded
    (that is where Celery work may be enqueued, never inside the transaction); so does
    ``outbox_hint`` when the transaction wrote outbox rows, to wake the relay at once.
    A write that loses a race (a stale ``row_version``, a unique revision or approval
    number taken a moment earlier) surfaces as ``ConcurrentUpdate``.
    """

    session: Session
    users: UserRepository
    topics: TopicRepository
    releases: ReleaseRepository

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        outbox_hint: Callable[[], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._outbox_hint = outbox_hint
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.users = UserRepository(self.session)
        self.topics = TopicRepository(self.session)
        self.releases = ReleaseRepository(self.session)
        self._after_commit = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def flush(self) -> None:
        flush(self.session)

    def commit(self) -> None:
        try:
            appended.commit(self.session)
        except (StaleDataError, IntegrityError) as error:
            self.session.rollback()
            self.session.info.pop("outbox_written", None)
            raise ConcurrentUpdate("this record") from error
        except OperationalError as error:
            # A serialization failure or deadlock on PostgreSQL is a lost race too.
            self.session.rollback()
            if getattr(error.orig, "sqlstate", None) in {"40001", "40P01"}:
                raise ConcurrentUpdate("this record") from error
            raise
        callbacks, self._after_commit = self._after_commit, []
        if self.session.info.pop("outbox_written", False) and self._outbox_hint:
            callbacks.append(self._outbox_hint)
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)
