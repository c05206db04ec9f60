"""What stops ``newsroom`` from starting is one line on stderr and a non-zero exit, never
a traceback: the real console script, as an operator runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.private_servers import free_port
from tests.processes import ROOT

NEWSROOM = str(Path(sys.executable).parent / "newsroom")
# Nothing listens on port 1 of the loopback; the password must not be shown.
UNREACHABLE = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/newsroom"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSROOM_")},
        "NEWSROOM_ENVIRONMENT": "test",
        "NEWSROOM_DATABASE_URL": database_url,
        "NEWSROOM_VAR_DIR": str(tmp_path / "var"),
        "NEWSROOM_SMTP_PORT": str(free_port()),
    }


def newsroom(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the command in a session of its own: if it started after all (``up``
    starts a worker, beat and web), the whole session is stopped."""
    popen = subprocess.Popen(  # noqa: S603  # the project's own console script
        [NEWSROOM, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = popen.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(popen.pid, signal.SIGKILL)
        popen.communicate()
        pytest.fail(f"newsroom {' '.join(args)} started instead of refusing")
    return subprocess.CompletedProcess(popen.args, popen.returncode, stdout, stderr)


def refused(done: subprocess.CompletedProcess[str]) -> str:
    """The one line of a refusal."""
    assert done.returncode != 0, done.stdout
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    return done.stderr.strip()


SERVERS = ["web", "web --workers 2", "up --no-demo", "mailcatcher"]
ONE_SHOTS = ["db upgrade", "topic add Health", "outbox status", "demo"]


def arguments(command: str) -> list[str]:
    """``command``'s arguments; a server's on a free port."""
    args = command.split()
    return [*args, "--port", str(free_port())] if args[0] in ("web", "up", "mailcatcher") else args


@pytest.mark.parametrize("command", [*SERVERS, *ONE_SHOTS])
def test_an_invalid_setting_is_named_by_its_variable(env: dict[str, str], command: str) -> None:
    env["NEWSROOM_SMTP_PORT"] = "twenty-five"
    line = refused(newsroom(env, *arguments(command)))
    assert line.startswith("error: NEWSROOM_SMTP_PORT: "), line
    assert "integer" in line


def test_a_check_across_settings_says_what_to_set(env: dict[str, str]) -> None:
    env["NEWSROOM_ENVIRONMENT"] = "production"
    line = refused(newsroom(env, "db", "upgrade"))
    assert line == "error: NEWSROOM_SECRET_KEY must be set in production"


@pytest.mark.parametrize("command", ["web", "up", *ONE_SHOTS])
def test_an_unreachable_database_is_named_without_its_password(
    env: dict[str, str], command: str
) -> None:
    env["NEWSROOM_DATABASE_URL"] = UNREACHABLE
    line = refused(newsroom(env, *arguments(command)))
    assert "postgres:***@127.0.0.1:1/newsroom" in line, line
    assert "hunter2" not in line


@pytest.fixture
def taken() -> Iterator[int]:
    """A port that something else listens on."""
    with socket.create_server(("127.0.0.1", free_port())) as stranger:
        yield stranger.getsockname()[1]


@pytest.mark.parametrize("command", ["web", "web --workers 2", "up", "mailcatcher"])
def test_a_taken_port_is_refused(env: dict[str, str], taken: int, command: str) -> None:
    line = refused(newsroom(env, *command.split(), "--port", str(taken)))
    assert line == f"error: cannot listen on 127.0.0.1:{taken}: Address already in use"


def test_up_refuses_a_taken_mail_catcher_port(env: dict[str, str], taken: int) -> None:
    env["NEWSROOM_SMTP_PORT"] = str(taken)
    line = refused(newsroom(env, "up", "--port", str(free_port()), "--no-demo"))
    assert line == f"error: cannot listen on 127.0.0.1:{taken}: Address already in use"


@pytest.mark.parametrize("command", ["web", "up", "mailcatcher"])
@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range_is_refused(env: dict[str, str], command: str, port: str) -> None:
    done = newsroom(env, command, "--port", port)
    line = refused(done)
    assert done.returncode == 2
    assert "'--port'" in line and f"newsroom {command} --help" in line, line


def test_a_usage_error_is_one_line_too(env: dict[str, str]) -> None:
    done = newsroom(env, "user", "add")
    assert refused(done) == "error: Missing argument 'email'. (see newsroom user add --help)"
    assert done.returncode == 2
