"""What every service function needs: a way to open a unit of work, settings, a clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from workflow.clock import Clock, SystemClock
from workflow.db.engine import AUTOCOMMIT, make_engine, make_session_factory
from workflow.db.unit_of_work import UnitOfWork
from workflow.domain.users import CONSOLE, SCHEDULER, User
from workflow.mail.senders import BulkSender, build_bulk_sender
from workflow.media.storage import Storage, build_storage
from workflow.openid_connect import OpenIDClient


@dataclass
class ServiceContext:
    engine: Engine
    session_factory: sessionmaker[Session]
    settings: Settings
    clock: Clock
    # Called after a commit that wrote outbox rows: wakes the relay (see tasks/relay.py).
    # None where nothing listens (tests, one-off commands); the periodic sweep still runs.
    outbox_hint: Callable[[], None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> ServiceContext:
        engine = make_engine(settings.database_url)
        return cls(engine, make_session_factory(engine), settings, clock or SystemClock())

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.outbox_hint)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session whose statements each run on their own, outside any transaction:
        for a read of one statement, such as the signed-in user on every request. On
        PostgreSQL that saves the round trips of ``BEGIN`` and ``ROLLBACK``; on SQLite
        it takes no write lock. Two statements may see different commits, so a read
        that needs them to agree, and any write, belongs in a unit of work."""
        with self.session_factory(bind=self.autocommit_engine) as session:
            yield session

    @cached_property
    def autocommit_engine(self) -> Engine:
        """The engine, each statement its own transaction (``reading``, and the
        fan-out's one-statement writes)."""
        return self.engine.execution_options(isolation_level=AUTOCOMMIT)

    @cached_property
    def media(self) -> Storage:
        """Where attachment files are kept (``NEWSROOM_MEDIA_BACKEND``), built on first use."""
        return build_storage(self.settings)

    @cached_property
    def openid(self) -> OpenIDClient:
        """The single sign-on provider's client (``NEWSROOM_OIDC_*``), built on first
        use; it keeps the provider's discovery document and keys."""
        redirect_uri = f"{self.settings.public_base_url.rstrip('/')}/login/sso/callback"
        return OpenIDClient(self.settings, redirect_uri)

    @cached_property
    def bulk_mail(self) -> BulkSender:
        """The bulk sender ``NEWSROOM_MAIL_BACKEND`` names, built on first use."""
        return build_bulk_sender(self.settings)


# Whom a command acts for: a user's id, read in the command's transaction, or the user
# as the caller has just read them. The API reads the signed-in user with their token,
# in one statement outside any transaction, and passes them on: reading them again in
# the command's transaction would be one more round trip and no surer (under READ
# COMMITTED neither read holds a lock, so neither keeps a change of roles from
# committing the moment after it), and under load each round trip costs a command
# more than its work.
Actor = int | User


def resolve_actor(uow: UnitOfWork, who: Actor) -> User:
    """The acting user; the scheduler and the console are not rows in the database."""
    if isinstance(who, User):
        return who
    for system_actor in (SCHEDULER, CONSOLE):
        if who == system_actor.id:
            return system_actor
    return uow.users.get(who)
