"""The ``newsroom`` command as an operator runs it: a real process, a real database."""

from __future__ import annotations

import csv
import getpass
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pyotp
import pytest

from config.settings import Settings
from workflow.domain.admin_acts import AdminActFilter
from workflow.domain.states import ReleaseState
from workflow.domain.users import CONSOLE
from workflow.services import admin_acts, people, two_factor
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release

NEWSROOM = shutil.which("newsroom", path=str(Path(sys.executable).parent)) or "newsroom"


@pytest.fixture
def run(database_url: str):  # type: ignore[no-untyped-def]
    def newsroom(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "NEWSROOM_DATABASE_URL": database_url}
        return subprocess.run(  # noqa: S603  # our own console script
            [NEWSROOM, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    return newsroom


def test_upgrade_creates_a_fresh_sqlite_database(tmp_path: Path) -> None:
    target = tmp_path / "var" / "fresh.db"
    env = {**os.environ, "NEWSROOM_DATABASE_URL": f"sqlite:///{target}"}
    done = subprocess.run(  # noqa: S603
        [NEWSROOM, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert target.exists() and "database at head" in done.stdout


def test_users_and_topics(run) -> None:  # type: ignore[no-untyped-def]
    added = run(
        "user",
        "add",
        "kim@newsroom.example",
        "--name",
        "Kim Min-ji",
        "--role",
        "press_officer",
        "--role",
        "approver",
    )
    assert added.returncode == 0 and "kim@newsroom.example" in added.stdout
    assert run("topic", "add", "Global Health").returncode == 0
    assert run("user", "deactivate", "kim@newsroom.example").returncode == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["user", "add", "not-an-email", "--name", "X", "--role", "approver"], 2, "email"),
        (
            ["user", "add", "a@newsroom.example", "--name", "Line\nbreak", "--role", "approver"],
            2,
            "one line",
        ),
        (
            ["user", "add", "a@newsroom.example", "--name", "X", "--role", "wizard"],
            2,
            "unknown role",
        ),
        (["user", "deactivate", "nobody@newsroom.example"], 3, "does not exist"),
        (["topic", "add", ""], 2, "must not be empty"),
    ],
)
def test_errors_are_one_line_and_a_non_zero_exit(  # type: ignore[no-untyped-def]
    run, args: list[str], code: int, message: str
) -> None:
    done = run(*args)
    assert done.returncode == code
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert done.stderr.count("\n") == 1, "one line, no traceback"


def test_duplicates_are_refused(run) -> None:  # type: ignore[no-untyped-def]
    assert run("topic", "add", "Consular Affairs").returncode == 0
    again = run("topic", "add", "consular affairs")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_demo_loads_releases_through_the_services_once(  # type: ignore[no-untyped-def]
    run, database_url: str
) -> None:
    first = run("demo")
    assert first.returncode == 0, first.stderr
    assert run("demo").stdout.strip() == "demo data already loaded"
    ctx = ServiceContext.from_settings(Settings(database_url=database_url))
    try:
        states = [get_release(ctx, i).state for i in (1, 2, 3)]
        published = get_release(ctx, 1)
    finally:
        ctx.engine.dispose()
    assert states == [ReleaseState.PUBLISHED, ReleaseState.SCHEDULED, ReleaseState.IN_REVIEW]
    assert published.number is not None and published.number.endswith("-0001")
    assert {lang.value for lang in published.versions} == {"ko", "en"}


def test_reading_the_bounce_mailbox(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import mailbox

    refused = run("bounces", "read")
    assert refused.returncode == 2 and "NEWSROOM_BOUNCE_MAILDIR" in refused.stderr
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    box.add(b"From: someone@press.example\r\nSubject: hello\r\n\r\nnot a bounce\r\n")
    done = run("bounces", "read", str(tmp_path / "bounces"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unrecognised 1"
    assert len(mailbox.Maildir(tmp_path / "bounces", create=False)) == 0


def test_resetting_someones_two_factor(run, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    user_id = people.add_user(
        ctx, CONSOLE.id, email="kim@newsroom.example", name="Kim", roles=["approver"]
    )
    with ctx.uow() as uow:
        kim = uow.users.get(user_id)
    secret = two_factor.start_enrolment(ctx, kim).secret
    two_factor.confirm_enrolment(ctx, kim, pyotp.TOTP(secret).at(ctx.clock.now()))
    assert two_factor.status(ctx, kim).on
    done = run("user", "reset-two-factor", "KIM@newsroom.example")
    assert done.returncode == 0, done.stderr
    assert not two_factor.status(ctx, kim).on
    unknown = run("user", "reset-two-factor", "nobody@newsroom.example")
    assert unknown.returncode == 3 and unknown.stderr.count("\n") == 1


def test_the_console_s_acts_are_recorded_with_its_user_and_host(  # type: ignore[no-untyped-def]
    run, database_url: str, tmp_path: Path
) -> None:
    assert run("topic", "add", "Global Health").returncode == 0
    assert run("subscribers", "export", "--output", str(tmp_path / "list.csv")).returncode == 0
    written = tmp_path / "acts.csv"
    done = run("audit", "export", "--since", "2000-01-01", "--output", str(written))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"2 acts written to {written}\n"
    rows = list(csv.DictReader(written.open(encoding="utf-8", newline="")))
    origin = f"cli:{getpass.getuser()}@{socket.gethostname()}"
    assert [(r["actor"], r["kind"], r["origin"]) for r in rows] == [
        ("console operator", "topic.added", origin),
        ("console operator", "subscribers.exported", origin),
    ]
    ctx = ServiceContext.from_settings(Settings(database_url=database_url))
    try:
        everything = admin_acts.search_admin_acts(ctx, CONSOLE.id, AdminActFilter())
    finally:
        ctx.engine.dispose()
    assert everything.acts[0].kind == "admin_acts.exported"
    assert everything.acts[0].details["since"] == "2000-01-01"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-13-01"], "error: since: '2026-13-01' is not a day written YYYY-MM-DD\n"),
        (["--kind", "user.promoted"], "error: kind: must be one of user.added"),
        (
            ["--since", "2026-12-02", "--until", "2026-12-01"],
            "error: until: the last day comes before the first\n",
        ),
    ],
)
def test_a_bad_audit_export_is_one_line_and_records_nothing(  # type: ignore[no-untyped-def]
    run, database_url: str, args: list[str], message: str
) -> None:
    done = run("audit", "export", *args)
    assert done.returncode == 2 and done.stderr.startswith(message), done.stderr
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1
    ctx = ServiceContext.from_settings(Settings(database_url=database_url))
    try:
        assert admin_acts.search_admin_acts(ctx, CONSOLE.id, AdminActFilter()).total == 0
    finally:
        ctx.engine.dispose()


def test_erasing_a_subscriber_and_running_retention_by_hand(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    assert run("topic", "add", "Global Health").returncode == 0
    listing = tmp_path / "list.csv"
    listing.write_text("email,name,language,topics\nkim@daily.example,Kim,ko,Global Health\n")
    assert run("subscribers", "import", str(listing)).returncode == 0
    erased = run("subscribers", "erase", "Kim@Daily.example")
    assert erased.returncode == 0, erased.stderr
    assert erased.stdout == (
        "subscriber Kim@Daily.example erased; its address is kept only as a keyed hash\n"
    )
    again = run("subscribers", "import", str(listing))
    assert again.returncode == 0
    assert "kim@daily.example: not added: it unsubscribed" in again.stdout
    missing = run("subscribers", "erase", "kim@daily.example")
    assert (missing.returncode, missing.stderr) == (
        3,
        "error: subscriber kim@daily.example does not exist\n",
    )
    done = run("retention", "run")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "login_attempts 0, notifications 0, caught_mail 0, unconfirmed 0, subscribers 0, "
        "deliveries 0\n"
    )


def test_exporting_releases_for_the_archives_and_reading_them_back(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    assert run("demo").returncode == 0
    target = tmp_path / "archive"
    done = run("export", "--since", "2000-01-01", str(target))
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        rf"(\d+) releases and (\d+) files \((\d+) bytes\) written to {re.escape(str(target))}\n",
        done.stdout,
    )
    written = int(done.stdout.split()[0])
    assert written >= 1
    lines = (target / "releases.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == written
    checked = run("check-export", str(target))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"{written} releases and ")
    assert checked.stdout.endswith("every line and file is as the manifest says\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--since", "2026-13-01", "{dir}"], "error: since: '2026-13-01' is not a day"),
        (["export", "{file}"], "error: directory: {file} is not an empty folder"),
        (["export", "{full}"], "error: directory: {full} is not an empty folder"),
        (["export"], "error: Missing argument 'directory'."),
        (["check-export", "{dir}"], "error: archive: manifest.json: No such file or directory"),
    ],
)
def test_a_bad_export_is_one_line_and_changes_nothing(  # type: ignore[no-untyped-def]
    run, database_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    places = {"dir": tmp_path / "new", "file": tmp_path / "a-file", "full": tmp_path / "full"}
    places["file"].write_text("x")
    (places["full"] / "old").mkdir(parents=True)
    done = run(*(a.format(**places) for a in args))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(message.format(**places)) and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert not places["dir"].exists()
    ctx = ServiceContext.from_settings(Settings(database_url=database_url))
    try:
        assert admin_acts.search_admin_acts(ctx, CONSOLE.id, AdminActFilter()).total == 0
    finally:
        ctx.engine.dispose()
