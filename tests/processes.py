"""Real Celery worker and beat processes for integration tests.

Each process runs in its own session (so SIGKILL reaches its pool children too), with
its output in a log file that a failing test prints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

ROOT = Path(__file__).resolve().parent.parent


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, with its pool children: nothing gets to clean up."""
        if self.running:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.running:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """Workers and beats sharing one database, broker and SMTP server."""

    env: dict[str, str]
    logs: Path
    processes: list[Process] = field(default_factory=list)

    def _start(self, name: str, *args: str) -> Process:
        log = self.logs / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(  # noqa: S603  # the project's own Celery app
            [sys.executable, "-m", "celery", "-A", "tasks.app", *args],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def worker(self, name: str = "w1", concurrency: int = 2) -> Process:
        process = self._start(
            name,
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        )
        wait_for(
            lambda: "ready." in process.output() or not process.running,
            60,
            f"worker {name} to start",
        )
        assert process.running, process.output()
        return process

    def beat(self, name: str = "beat") -> Process:
        schedule = self.logs / f"{name}-schedule"
        process = self._start(name, "beat", "--loglevel=INFO", "--schedule", str(schedule))
        wait_for(
            lambda: "beat: Starting" in process.output() or not process.running,
            60,
            f"{name} to start",
        )
        assert process.running, process.output()
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()

    def report(self) -> str:
        return "\n".join(f"----- {p.name} -----\n{p.output()[-4000:]}" for p in self.processes)


NEWSROOM = str(Path(sys.executable).parent / "newsroom")


@contextmanager
def newsroom_web(
    env: dict[str, str], port: int, log: Path, workers: int = 2, host: str = "127.0.0.1"
) -> Iterator[subprocess.Popen[bytes]]:
    """``newsroom web`` as production starts it, until every worker answers; stopped,
    with its workers, on leaving. Its output is printed then (pytest shows it for a
    failed test)."""
    popen = subprocess.Popen(  # noqa: S603  # the project's own command
        [NEWSROOM, "web", "--host", host, "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: (
                (
                    log.read_text().count("Application startup complete") == workers
                    and _answers(host, port)
                )
                or popen.poll() is not None
            ),
            60,
            f"{workers} web workers",
        )
        assert popen.poll() is None, log.read_text(errors="replace")
        yield popen
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=10)
        print(log.read_text(errors="replace"))


def _answers(host: str, port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://{host}:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def served_in_thread(app: Any, port: int) -> Iterator[None]:
    """``app`` (ASGI) on uvicorn at 127.0.0.1:``port``, in a thread of this process,
    until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
