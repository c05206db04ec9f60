"""Shared fixtures. The database is SQLite by default; set NEWSROOM_TEST_DATABASE_URL
(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the same tests on
PostgreSQL. Tests marked ``postgres`` need it and are skipped otherwise."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from config.settings import Settings
from tests.private_servers import free_port
from tests.processes import served_in_thread
from tests.smtp_faults import Faults, FaultyHandler
from workflow import auth
from workflow.api import create_app
from workflow.clock import FrozenClock
from workflow.db.engine import make_engine
from workflow.db.migrations import upgrade
from workflow.db.tables import Base
from workflow.domain.users import CONSOLE
from workflow.mail.catcher import start_catcher
from workflow.services import people
from workflow.services.context import ServiceContext

POSTGRES_URL = os.environ.get("NEWSROOM_TEST_DATABASE_URL", "")
FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_URL.startswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set NEWSROOM_TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def migrated_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated from scratch once per test session."""
    if POSTGRES_URL:
        engine = make_engine(POSTGRES_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        upgrade(POSTGRES_URL)
        return POSTGRES_URL
    template = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{template}")
    return f"sqlite:///{template}"


@pytest.fixture
def database_url(migrated_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database of its own for each test."""
    if migrated_url.startswith("sqlite"):
        path = tmp_path / "newsroom.db"
        shutil.copy(migrated_url.removeprefix("sqlite:///"), path)
        yield f"sqlite:///{path}"
        return
    engine = make_engine(migrated_url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield migrated_url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def ctx(database_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[ServiceContext]:
    # Files (attachments, caught mail) go to the test's own folder, never the project's.
    settings = Settings(database_url=database_url, environment="test", var_dir=tmp_path / "var")
    context = ServiceContext.from_settings(settings, clock)
    yield context
    context.engine.dispose()


@dataclass(frozen=True)
class Staff:
    author: int
    officer: int
    approver: int
    approver_2: int
    translator: int
    admin: int
    officer_approver: int
    health: int
    peninsula: int


@pytest.fixture
def staff(ctx: ServiceContext) -> Staff:
    def add(email: str, name: str, *roles: str) -> int:
        return people.add_user(ctx, CONSOLE.id, email=email, name=name, roles=roles)

    return Staff(
        author=add("author@newsroom.example", "Kim Min-ji", "press_officer"),
        officer=add("officer@newsroom.example", "Yoon Ji-woo", "press_officer"),
        approver=add("approver@newsroom.example", "Lee Jun-ho", "approver"),
        approver_2=add("director@newsroom.example", "Park Seo-yeon", "approver"),
        translator=add("translator@newsroom.example", "Choi Ha-eun", "translator"),
        admin=add("admin@newsroom.example", "Jung Do-hyun", "admin"),
        officer_approver=add("both@newsroom.example", "Han Ye-jin", "press_officer", "approver"),
        health=people.add_topic(ctx, CONSOLE.id, "Global Health"),
        peninsula=people.add_topic(ctx, CONSOLE.id, "Korean Peninsula"),
    )


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"the sample press releases are not here ({FIXTURES}); CI has them")
    return FIXTURES


@pytest.fixture
def faulty(ctx: ServiceContext) -> Iterator[FaultyHandler]:
    """An SMTP server on loopback with injectable faults, which ``ctx`` sends to."""
    handler = FaultyHandler(Faults())
    port = free_port()
    controller, _ = start_catcher("127.0.0.1", port, handler=handler)
    ctx.settings.smtp_port = port
    ctx.settings.smtp_timeout = 5
    yield handler
    controller.stop()


@pytest.fixture
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Argon2 at its smallest cost: the same code paths, a thousandth of the time. The
    e2e and browser folders use it for every test; elsewhere a test asks for it."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", lambda: cheap)
    auth._dummy_hash.cache_clear()
    yield
    auth._dummy_hash.cache_clear()


@pytest.fixture
def live_server(ctx: ServiceContext) -> Iterator[str]:
    """The app on a real HTTP server in this process; yields its base URL."""
    port = free_port()
    with served_in_thread(create_app(ctx), port):
        yield f"http://127.0.0.1:{port}"
