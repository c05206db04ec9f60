"""The entry point of the Celery worker and beat: ``celery -A tasks.app worker`` and
``celery -A tasks.app beat`` import this module for its ``app``. Building that app is its
only job, so nothing in the project imports it: task modules declare shared tasks, and
other processes send through ``tasks.runtime.celery_app``."""

from __future__ import annotations

from tasks.runtime import celery_app

app = celery_app()
