"""What every service function needs: a way to open a unit of work, settings, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from workflow.clock import Clock, SystemClock
from workflow.db.engine import make_engine, make_session_factory
from workflow.db.unit_of_work import UnitOfWork
from workflow.domain.users import CONSOLE, SCHEDULER, User


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


def resolve_actor(uow: UnitOfWork, actor_id: int) -> User:
    """The acting user; the scheduler and the console are not rows in the database."""
    for system_actor in (SCHEDULER, CONSOLE):
        if actor_id == system_actor.id:
            return system_actor
    return uow.users.get(actor_id)
