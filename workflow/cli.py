"""The ``newsroom`` command. Each command is a thin caller of a service function; a
refusal prints one line on stderr and exits non-zero."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from config.settings import get_settings
from workflow.domain.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from workflow.domain.users import CONSOLE

if TYPE_CHECKING:
    from workflow.services.context import ServiceContext

app = typer.Typer(
    help="Newsroom: press releases from first draft to the journalist's inbox.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts and roles.", no_args_is_help=True)
topic_app = typer.Typer(help="The managed list of topics.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(topic_app, name="topic")

P = ParamSpec("P")
R = TypeVar("R")

# Exit codes: 1 refused by a rule, 2 bad input (as for usage errors), 3 not found.
_EXIT_CODES: dict[type[DomainError], int] = {ValidationFailed: 2, NotFound: 3, PermissionDenied: 1}


def _reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DomainError as error:
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(_EXIT_CODES.get(type(error), 1)) from None

    return wrapper


def _context() -> ServiceContext:
    # Imported here, not at the top: `newsroom --help` should not load SQLAlchemy.
    from workflow.services.context import ServiceContext

    return ServiceContext.from_settings(get_settings())


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the database to the latest schema."""
    from workflow.db.migrations import upgrade

    settings = get_settings()
    if settings.is_sqlite:
        from pathlib import Path

        path = settings.database_url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@user_app.command("add")
@_reports_errors
def user_add(
    email: str,
    name: Annotated[str, typer.Option(help="Full name as shown to colleagues.")],
    role: Annotated[
        list[str],
        typer.Option(help="press_officer, approver, translator or admin; repeat for several."),
    ],
    language: Annotated[str, typer.Option(help="ko or en: the language of their emails.")] = "ko",
) -> None:
    """Add a member of staff."""
    from workflow.services.people import add_user

    user_id = add_user(
        _context(), CONSOLE.id, email=email, name=name, roles=role, language=language
    )
    typer.echo(f"user {user_id} added: {email}")


@user_app.command("deactivate")
@_reports_errors
def user_deactivate(email: str) -> None:
    """Stop a user from acting; their history stays."""
    from workflow.services.people import deactivate_user_by_email

    deactivate_user_by_email(_context(), CONSOLE.id, email)
    typer.echo(f"user {email} deactivated")


@topic_app.command("add")
@_reports_errors
def topic_add(name: str) -> None:
    """Add a topic to the managed list."""
    from workflow.services.people import add_topic

    topic_id = add_topic(_context(), CONSOLE.id, name)
    typer.echo(f"topic {topic_id} added: {name}")


@app.command()
@_reports_errors
def demo() -> None:
    """Load sample staff, topics and releases in Korean and English (idempotent)."""
    from workflow.demo import load_demo

    summary = load_demo(_context())
    typer.echo(summary)


def main() -> None:  # pragma: no cover - console entry for `python -m workflow.cli`
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
