"""Running Alembic from code: ``newsroom db upgrade`` and the tests use this."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from config.settings import PROJECT_ROOT
from workflow.db.search import is_search_index
from workflow.db.tables import Base


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (the latest by default)."""
    command.upgrade(alembic_config(url), revision)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """What the models describe: not the text search index (``workflow.db.search``),
    which migration 0005 creates with SQL the models have no words for."""
    return not is_search_index(name)


def drift(engine: Engine) -> list[object]:
    """Differences between the models and a migrated database; empty when in step."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        return list(compare_metadata(context, Base.metadata))
