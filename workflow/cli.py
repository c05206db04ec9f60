"""The ``newsroom`` command. Each command is a thin caller of a service function; a
refusal prints one line on stderr and exits non-zero, and so does whatever stops a command
from starting (``Newsroom``)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import socket
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from config.settings import InvalidSettings, get_settings
from workflow.domain.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from workflow.domain.users import CONSOLE
from workflow.origin import acting_from, command_line_origin

if TYPE_CHECKING:
    from workflow.services.context import ServiceContext


class Newsroom(typer.Typer):
    """The command line. What stops a command (a mistyped option, an invalid setting, a
    database it cannot reach, an address it cannot listen on, a file it cannot open) is
    one line on stderr and a non-zero exit: the cause is what an operator needs, and a
    traceback buries it. Any other error, a bug, keeps its traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Not standalone: Typer raises its usage errors here instead of printing them.
        kwargs.setdefault("standalone_mode", False)
        try:
            with acting_from(command_line_origin()):
                return super().__call__(*args, **kwargs)
        except typer.TyperException as error:
            if type(error).__name__ == "NoArgsIsHelpError":  # the help, not an error
                if error.format_message():  # empty when Rich has printed it already
                    typer.echo(error.format_message())
                return error.exit_code
            return _refuse(_usage_error(error), error.exit_code)
        except typer.Abort:
            return _refuse("aborted", 1)
        except InvalidSettings as error:
            return _refuse(str(error), 2)
        except OSError as error:
            return _refuse(_os_error(error), 1)
        except Exception as error:
            from sqlalchemy.exc import OperationalError

            if not isinstance(error, OperationalError):
                raise
            return _refuse(_database_error(error), 1)


def _refuse(message: str, code: int) -> int:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return code


def _usage_error(error: typer.TyperException) -> str:
    context = getattr(error, "ctx", None)
    command = getattr(context, "command_path", None)
    help_hint = f" (see {command} --help)" if command else ""
    return f"{error.format_message()}{help_hint}"


def _os_error(error: OSError) -> str:
    if error.filename is None:
        return error.strerror or str(error)
    return f"{error.filename}: {error.strerror or error}"


def _database_error(error: Exception) -> str:
    from sqlalchemy.engine import make_url

    cause = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    url = make_url(get_settings().database_url).render_as_string(hide_password=True)
    return f"the database {url}: {cause}"


def _can_listen(host: str, port: int) -> None:
    """Raises OSError naming the address if a server could not listen on it: checked
    before one starts, so that the refusal is ``Newsroom``'s one line rather than the
    server's log."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with socket.socket(info[0][0], socket.SOCK_STREAM) as probe:
            # As the servers bind: a port left in TIME_WAIT by the last run is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        reason = error.strerror or str(error)
        raise OSError(error.errno, f"cannot listen on {host}:{port}: {reason}") from None


app = Newsroom(
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
subscribers_app = typer.Typer(
    help="Journalists on the distribution list, and the addresses never to mail.",
    no_args_is_help=True,
)
app.add_typer(subscribers_app, name="subscribers")
bounces_app = typer.Typer(help="Bounce reports from the mail relay.", no_args_is_help=True)
app.add_typer(bounces_app, name="bounces")
mail_app = typer.Typer(help="The messages subscribers receive.", no_args_is_help=True)
app.add_typer(mail_app, name="mail")

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
            # A kind of bad input (a damaged archive, say) exits as bad input.
            code = next((_EXIT_CODES[c] for c in type(error).__mro__ if c in _EXIT_CODES), 1)
            raise typer.Exit(code) from None

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


@user_app.command("reset-two-factor")
@_reports_errors
def user_reset_two_factor(email: str) -> None:
    """Take away a user's second factor (a lost phone and lost recovery codes): they
    sign in with their password and set it up again."""
    from workflow.services.two_factor import reset

    reset(_context(), CONSOLE.id, email)
    typer.echo(f"two-factor sign-in reset for {email}")


@user_app.command("password")
@_reports_errors
def user_password(email: str) -> None:
    """Set a user's password: typed twice at a terminal, or the first line of stdin."""
    from workflow.services.accounts import set_password_by_email

    if sys.stdin.isatty():
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    set_password_by_email(_context(), CONSOLE.id, email, password)
    typer.echo(f"password set for {email}")


@topic_app.command("add")
@_reports_errors
def topic_add(
    name: str,
    korean: Annotated[str, typer.Option(help="its Korean name (else the English one)")] = "",
) -> None:
    """Add a topic to the managed list: NAME in English, --korean in Korean."""
    from workflow.services.people import add_topic

    topic_id = add_topic(_context(), CONSOLE.id, name, korean)
    typer.echo(f"topic {topic_id} added: {name}")


@subscribers_app.command("import")
@_reports_errors
def subscribers_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with the header email,name,language,topics and optionally "
            "embargo_trusted,state,digest (HH:MM); topics by name, separated by ';'.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Import the valid rows even if some are invalid."),
    ] = False,
) -> None:
    """Import the office's own list: its addresses are active at once, unconfirmed.

    Imported addresses get no confirmation email and are mailed from now on: the office
    vouches for them. Every row is checked first; if any is invalid, nothing is imported
    (unless --skip-invalid). Addresses already on the list are left as they are, and one
    that unsubscribed or bounced is never reactivated: both are reported. A state column
    (as export writes it) is kept for new addresses.
    """
    from workflow.services.subscriber_lists import import_subscribers, read_csv

    try:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            lines = read_csv(stream)
    except UnicodeDecodeError:
        raise ValidationFailed(
            "file", "%(file)s is not UTF-8 text; save it as CSV UTF-8", file=file
        ) from None
    with typer.progressbar(length=len(lines), label="importing", file=sys.stderr) as bar:
        report = import_subscribers(
            _context(), CONSOLE.id, lines, skip_invalid=skip_invalid, progress=bar.update
        )
    for note in report.rejected:
        typer.echo(f"line {note.line}: {note.email or '-'}: {note.reason}", err=True)
    for note in report.kept:
        typer.echo(f"line {note.line}: {note.email}: {note.reason}")
    if not report.imported:
        typer.echo(
            f"error: {len(report.rejected)} of {report.lines} rows are invalid; nothing was "
            "imported (--skip-invalid imports the valid ones)",
            err=True,
        )
        raise typer.Exit(2)
    typer.echo(
        f"{report.added} added, {len(report.kept)} already on the list and left as they "
        f"were, {len(report.rejected)} rejected"
    )


@subscribers_app.command("export")
@_reports_errors
def subscribers_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """The whole list as CSV, in the import format plus each row's state."""
    from workflow.services.subscriber_lists import export_subscribers, write_csv

    subscribers = export_subscribers(_context(), CONSOLE.id)
    if output is None:
        write_csv(subscribers, sys.stdout)
        return
    with output.open("w", encoding="utf-8", newline="") as stream:
        count = write_csv(subscribers, stream)
    typer.echo(f"{count} subscribers written to {output}")


def _change_subscriber(email: str, change: str) -> None:
    from workflow.services import subscribers as svc

    ctx = _context()
    subscriber_id = svc.find_subscriber(ctx, CONSOLE.id, email).id
    if change in ("trust", "untrust"):
        view = svc.set_embargo_trusted(ctx, CONSOLE.id, subscriber_id, change == "trust")
    elif change == "suspend":
        view = svc.suspend(ctx, CONSOLE.id, subscriber_id)
    else:
        view = svc.unsuspend(ctx, CONSOLE.id, subscriber_id)
    trusted = "embargo-trusted" if view.embargo_trusted else "not embargo-trusted"
    typer.echo(f"subscriber {view.email}: {view.state}, {trusted}")


@subscribers_app.command("erase")
@_reports_errors
def subscribers_erase(email: str) -> None:
    """Forget a subscriber at their request: only a keyed hash of the address stays,
    which keeps it from being mailed again (retention does the same, later, to those who
    unsubscribed or bounced)."""
    from workflow.services import subscribers as svc

    ctx = _context()
    svc.erase(ctx, CONSOLE.id, svc.find_subscriber(ctx, CONSOLE.id, email).id)
    typer.echo(f"subscriber {email} erased; its address is kept only as a keyed hash")


@subscribers_app.command("trust")
@_reports_errors
def subscribers_trust(email: str) -> None:
    """Send this subscriber releases before their embargo lifts."""
    _change_subscriber(email, "trust")


@subscribers_app.command("untrust")
@_reports_errors
def subscribers_untrust(email: str) -> None:
    """Stop sending this subscriber embargoed releases early."""
    _change_subscriber(email, "untrust")


@subscribers_app.command("suspend")
@_reports_errors
def subscribers_suspend(email: str) -> None:
    """Stop mailing an active subscriber until they are unsuspended."""
    _change_subscriber(email, "suspend")


@subscribers_app.command("unsuspend")
@_reports_errors
def subscribers_unsuspend(email: str) -> None:
    """Mail a suspended subscriber again."""
    _change_subscriber(email, "unsuspend")


@app.command("export")
@_reports_errors
def export_releases(
    directory: Annotated[Path, typer.Argument(help="A new or empty folder to write into.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Releases published, corrected or taken down on or after this day "
            "(YYYY-MM-DD, office time zone); without it, every one ever published."
        ),
    ] = None,
) -> None:
    """Published releases for the national archives: releases.jsonl, with every photo
    and document beside it under files/, and a manifest (docs/operations.md). The
    export is recorded as an administrative act."""
    from workflow.services import archive

    day = _day("since", since)
    archive.check_target(directory)
    ctx = _context()
    written = archive.write_archive(ctx, archive.read_releases(ctx, CONSOLE.id, day), directory)
    typer.echo(
        f"{written.releases} releases and {written.files} files ({written.bytes} bytes) "
        f"written to {directory}"
    )


@app.command("check-export")
@_reports_errors
def check_export(
    directory: Annotated[Path, typer.Argument(help="A folder `newsroom export` wrote.")],
) -> None:
    """Read an export back: the manifest, every line, every file's size and SHA-256."""
    from workflow.services.archive import read_archive

    found = read_archive(directory)
    typer.echo(
        f"{len(found.releases)} releases and {found.files} files ({found.bytes} bytes): "
        "every line and file is as the manifest says"
    )


retention_app = typer.Typer(
    help="Personal data deleted once past its retention.", no_args_is_help=True
)
app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run() -> None:
    """Delete now what beat's retention would (safe at any time): old login attempts,
    emails, deliveries' recipients, and subscribers who left, kept as keyed hashes."""
    from workflow.services.retention import run_retention

    report = run_retention(_context())
    typer.echo(", ".join(f"{name} {count}" for name, count in report.as_dict().items()))


audit_app = typer.Typer(help="The audit of administrative acts.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(option, f"{value!r} is not a day written YYYY-MM-DD") from None


@audit_app.command("export")
@_reports_errors
def audit_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="To this day, inclusive.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only acts of this kind (user.added…).")] = None,
    actor: Annotated[
        int | None, typer.Option(help="Only acts by this user id (the console is -2).")
    ] = None,
) -> None:
    """The administrative acts, oldest first, as CSV; the export is recorded too."""
    from workflow.domain.admin_acts import AdminActFilter
    from workflow.services import admin_acts

    wanted = AdminActFilter.checked(
        actor_id=actor, kind=kind, since=_day("since", since), until=_day("until", until)
    )
    ctx = _context()
    export = admin_acts.export_admin_acts(ctx, CONSOLE.id, wanted)
    acts = admin_acts.exported_acts(ctx, export)
    if output is None:
        admin_acts.write_csv(acts, ctx, sys.stdout)
        return
    with output.open("w", encoding="utf-8", newline="") as stream:
        count = admin_acts.write_csv(acts, ctx, stream)
    typer.echo(f"{count} acts written to {output}")


@bounces_app.command("read")
@_reports_errors
def bounces_read(
    maildir: Annotated[
        Path | None,
        typer.Argument(help="The Maildir the bounce address delivers to (default: setting)"),
    ] = None,
) -> None:
    """Record the bounces waiting in the bounce mailbox, then remove them from it."""
    from workflow.services import bounces

    ctx = _context()
    path = maildir or ctx.settings.bounce_maildir
    if path is None:
        typer.echo("give a Maildir, or set NEWSROOM_BOUNCE_MAILDIR", err=True)
        raise typer.Exit(2)
    report = bounces.read_maildir(ctx, Path(path))
    typer.echo(", ".join(f"{key} {n}" for key, n in sorted(report.counts.items())) or "none")


@mail_app.command("preview")
@_reports_errors
def mail_preview(
    release: Annotated[str, typer.Argument(help="The release's number (2026-0001) or id.")],
    kind: Annotated[str, typer.Option(help="release, embargoed_release, correction, …")] = (
        "release"
    ),
    lang: Annotated[str, typer.Option(help="ko, en or both.")] = "ko",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the .eml here instead of stdout.")
    ] = None,
) -> None:
    """The exact message a subscriber would get (RFC 5322, as sent), to open in a mail
    program before anything goes out."""
    from workflow.services.sample_messages import preview_message

    data = preview_message(_context(), release, kind=kind, language=lang)
    if out is None:
        sys.stdout.buffer.write(data)
        return
    try:
        out.write_bytes(data)
    except OSError as error:
        typer.echo(f"error: {_os_error(error)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"written to {out}")


@app.command()
@_reports_errors
def demo() -> None:
    """Load sample staff, topics and releases in Korean and English (idempotent)."""
    from workflow.demo import load_demo

    summary = load_demo(_context())
    typer.echo(summary)


# An out-of-range port is refused: uvicorn would listen on another one (modulo 65536).
Port = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on (1-65535).")]


@app.command()
def up(
    host: str = "127.0.0.1",
    port: Port = 8000,
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    demo_data: Annotated[bool, typer.Option("--demo/--no-demo", help="Load the samples.")] = True,
    catch_mail: Annotated[
        bool, typer.Option("--catch-mail/--no-catch-mail", help="Run the local SMTP catcher.")
    ] = True,
) -> None:
    """Start web, a worker, beat and a local mail catcher; Ctrl-C stops them all."""
    from workflow.launcher import run_all

    settings = get_settings()
    _can_listen(host, port)
    if catch_mail:
        _can_listen(settings.smtp_host, settings.smtp_port)
    db_upgrade()
    if demo_data:
        demo()
    raise typer.Exit(
        run_all(settings, host=host, port=port, concurrency=concurrency, catch_mail=catch_mail)
    )


@app.command()
def mailcatcher(host: str = "127.0.0.1", port: Port = 8025) -> None:
    """Run the local SMTP catcher alone; mail is kept as .eml files under var/mail."""
    import time

    from workflow.mail.catcher import start_catcher

    folder = get_settings().var_dir / "mail"
    _can_listen(host, port)
    controller, _ = start_catcher(host, port, folder=folder)
    typer.echo(f"catching mail on {host}:{port} into {folder}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


outbox_app = typer.Typer(help="The transactional outbox and its relay.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("status")
def outbox_status() -> None:
    """How far behind the relay is: unhandled events and commit-to-handled lag."""
    from workflow import outbox

    ctx = _context()
    with ctx.uow() as uow:
        report = outbox.status(uow.session, ctx.clock.now())
    for field in dataclasses.fields(report):
        typer.echo(f"{field.name}: {getattr(report, field.name)}")


@app.command()
def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes (about one per core).")
    ] = 1,
) -> None:
    """Serve the HTTP API (uvicorn); OpenAPI at /openapi.json, docs at /docs."""
    from workflow.web.server import serve

    _can_listen(host, port)
    _database_answers(get_settings().database_url)
    serve(host, port, workers, web_log_config())


def _database_answers(url: str) -> None:
    """Connects once, so that a server whose database is unreachable refuses to start
    instead of answering every request with an error."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    # libpq waits for an unanswering host as long as the network does.
    options = {"connect_timeout": 10} if url.startswith("postgresql") else {}
    engine = create_engine(url, poolclass=NullPool, connect_args=options)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def web_log_config() -> dict[str, Any]:
    """uvicorn's logging, with the access log written by a plain formatter: uvicorn's
    own copies every record twice and looks up the status phrase, which a busy server
    pays for on every request. The line says the same without the phrase:
    ``INFO:     127.0.0.1:40312 - "GET /?lang=ko HTTP/1.1" 200``. Its lines are written
    in batches, at least once a second (``workflow.web.access_log``)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"] = {"format": "%(levelname)s:     %(message)s"}
    config["handlers"]["access"]["class"] = "workflow.web.access_log.BufferedStreamHandler"
    return config


def main() -> None:  # pragma: no cover - console entry for `python -m workflow.cli`
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
