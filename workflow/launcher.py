"""``newsroom up``: the whole service on one machine, as separate real processes.

Web (uvicorn), one Celery worker, Celery beat, and a local SMTP catcher whose mail lands
in ``var/mail``. With no settings it runs the embedded mode (SQLite, the filesystem
broker); with ``NEWSROOM_DATABASE_URL`` and ``NEWSROOM_BROKER_URL`` the same processes use
PostgreSQL and Redis.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from config.settings import Settings

log = logging.getLogger(__name__)


def commands(settings: Settings, host: str, port: int, concurrency: int) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "tasks.app",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "-n",
            "worker@%h",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "tasks.app",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(settings.var_dir / "celerybeat-schedule"),
        ],
        "web": [python, "-m", "workflow.cli", "web", "--host", host, "--port", str(port)],
    }


def run_all(settings: Settings, *, host: str, port: int, concurrency: int, catch_mail: bool) -> int:
    """Start everything and wait; when one process ends or on Ctrl-C, stop all."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    catcher = None
    if catch_mail:
        from workflow.mail.catcher import start_catcher

        catcher, _ = start_catcher(
            settings.smtp_host, settings.smtp_port, folder=settings.var_dir / "mail"
        )
        print(
            f"mail catcher on {settings.smtp_host}:{settings.smtp_port}, "
            f"mail kept in {settings.var_dir / 'mail'}",
            flush=True,
        )
    children = {
        name: subprocess.Popen(argv, env=os.environ.copy())  # noqa: S603  # our own commands
        for name, argv in commands(settings, host, port, concurrency).items()
    }
    print(f"newsroom is up: http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping", file=sys.stderr)
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    if catcher is not None:
        catcher.stop()
    return exit_code
