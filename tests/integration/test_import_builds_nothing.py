"""Importing the project builds nothing: no Celery app, no web app, no thread or thread
pool, no database engine. Each comes from a factory, called by the process that runs
it (``tasks.app`` for the worker and beat, ``production_app`` for the web). Checked in a
fresh interpreter, since the test session itself builds all of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

SCRIPT = """
import gc, importlib, json, pkgutil, threading
from concurrent.futures import ThreadPoolExecutor

from celery import Celery
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

ENTRY_POINTS = {"tasks.app"}  # the worker's: building its app is what it is for

imported = []
for package in ("config", "tasks", "workflow"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if info.name not in ENTRY_POINTS:
            importlib.import_module(info.name)
            imported.append(info.name)

kinds = (Celery, Starlette, ThreadPoolExecutor, Engine, threading.Thread)
# By type, not isinstance: Celery's proxies (current_app, the shared tasks) would build
# the default app to answer isinstance.
built = sorted(
    {type(o).__name__ for o in gc.get_objects() if issubclass(type(o), kinds)}
    - {"_MainThread"}
)
print(json.dumps({"imported": imported, "built": built}))
"""


def test_importing_every_module_builds_nothing() -> None:
    done = subprocess.run(  # noqa: S603  # this interpreter, the script above
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert {"tasks.relay", "tasks.runtime", "workflow.api.threads"} <= set(report["imported"])
    assert report["built"] == []
