"""``newsroom web --workers N`` as production starts it: each worker process listens on a
socket of its own (``workflow.web.server``), so that connections are spread over the
workers instead of piling onto whichever was awake when they came."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import free_port
from tests.processes import NEWSROOM, ROOT, newsroom_web, wait_for

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists() or not hasattr(socket, "SO_REUSEPORT"),
    reason="reads sockets' owners from Linux's /proc",
)


@pytest.fixture
def web_of_two(database_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = {
        **os.environ,
        "NEWSROOM_ENVIRONMENT": "test",
        "NEWSROOM_DATABASE_URL": database_url,
        "NEWSROOM_BROKER_URL": "",
        "NEWSROOM_VAR_DIR": str(tmp_path / "var"),
    }
    with newsroom_web(env, port, tmp_path / "web.log", workers=2) as popen:
        yield popen, port


def test_each_worker_listens_on_its_own_socket_and_gets_a_share_of_the_connections(
    web_of_two: tuple[subprocess.Popen[bytes], int],
) -> None:
    supervisor, port = web_of_two
    listeners = _listeners(port)
    # Two sockets, one in each worker; none in the supervisor, where connections
    # would wait for nobody.
    assert len(set(listeners.values())) == 2, listeners
    assert supervisor.pid not in listeners.values()

    connections = [_served(port) for _ in range(60)]
    served_by = list(_connections(port).values())
    assert len(served_by) == 60
    # By address hash: each of two workers holds fewer than 10 of 60 with a chance of
    # about one in ten million. A socket shared by both gave 34 and 6 of 40 here.
    assert {pid: served_by.count(pid) >= 10 for pid in listeners.values()} == {
        pid: True for pid in listeners.values()
    }, served_by
    for connection in connections:
        connection.close()


def test_a_worker_that_dies_is_replaced_and_no_connection_waits_for_it(
    web_of_two: tuple[subprocess.Popen[bytes], int],
) -> None:
    _, port = web_of_two
    victim = next(iter(_listeners(port).values()))
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: len(_listeners(port)) == 2 and victim not in _listeners(port).values(),
        60,
        "the supervisor to start a new worker",
    )
    # Every new connection is answered: the dead worker's socket left with it.
    for _ in range(30):
        _served(port).close()


def test_a_taken_address_is_refused_with_a_message(tmp_path: Path) -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        done = subprocess.run(  # noqa: S603  # the project's own command
            [NEWSROOM, "web", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env={**os.environ, "NEWSROOM_VAR_DIR": str(tmp_path / "var")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


def _served(port: int) -> socket.socket:
    """A keep-alive connection that has had one answer (so a worker has accepted it)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    answer = b""
    while b'"ok"' not in answer:
        chunk = connection.recv(4096)
        assert chunk, answer
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer
    return connection


def _listeners(port: int) -> dict[int, int]:
    """The listening sockets on ``port``: inode → the process holding it."""
    return _owned(port, listening=True)


def _connections(port: int) -> dict[int, int]:
    """The server's ends of established connections on ``port``: inode → process."""
    return _owned(port, listening=False)


def _owned(port: int, *, listening: bool) -> dict[int, int]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            state = fields[3]
            if local_port == port and state == ("0A" if listening else "01"):
                inodes.add(int(fields[9]))
    owners = {}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inode = int(target[8:-1])
                    if inode in inodes:
                        owners[inode] = int(fd_dir.parent.name)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return owners
