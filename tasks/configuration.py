"""The Celery application's configuration (broker, queues, routes, beat schedule, task
modules) and ``create_app``, which builds an app from the settings.

Importing this builds nothing. The worker and beat build their app in ``tasks.app``,
their entry point (``celery -A tasks.app worker``, ``celery -A tasks.app beat``;
``newsroom up`` starts both); a process that only sends tasks builds its own on first
use (``tasks.runtime.celery_app``). The tasks themselves are shared tasks, which any
such app registers. With no ``NEWSROOM_BROKER_URL`` the broker is kombu's filesystem
transport under ``var/broker``: no server, at-most-once delivery; the database and the
sweeps make up for what it may lose (see the README).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.entity import Queue

from config.settings import Settings, get_settings

TASK_MODULES = [
    "tasks.relay",
    "tasks.events",
    "tasks.publication",
    "tasks.mail",
    "tasks.translation",
    "tasks.media",
    "tasks.distribution",
    "tasks.bounces",
    "tasks.view_counts",
    "tasks.retention",
    # No tasks: the hooks that give a worker its metrics folder and endpoint, imported
    # with the task modules, before the worker's start-up signals.
    "tasks.worker_metrics",
]

# A worker polls its queues in this order: publication never waits behind a backlog of
# events or emails, nor does the relay; a fan-out of thousands holds up neither.
QUEUES = ("publication", "relay", "newsroom", "distribution")


def celery_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "task_ignore_result": True,
        "task_queues": [Queue(name) for name in QUEUES],
        "task_default_queue": "newsroom",
        "task_routes": {
            "newsroom.publish_due": {"queue": "publication"},
            "newsroom.relay_outbox": {"queue": "relay"},
            # A fan-out of thousands never holds up workflow emails or events.
            "newsroom.send_deliveries": {"queue": "distribution"},
            "newsroom.plan_digests": {"queue": "distribution"},
            "newsroom.send_digests": {"queue": "distribution"},
        },
        # A task is acknowledged after it ran, and a killed worker's task is redelivered:
        # every task here is idempotent, so running one twice is harmless.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {
            "relay-outbox": {
                "task": "newsroom.relay_outbox",
                "schedule": settings.relay_sweep_seconds,
            },
            "publish-due": {
                "task": "newsroom.publish_due",
                "schedule": settings.publish_sweep_seconds,
                # A sweep not run within its own period is superseded by the next.
                "options": {"expires": max(settings.publish_sweep_seconds * 5, 5)},
            },
            "send-deliveries": {
                "task": "newsroom.send_deliveries",
                "schedule": settings.delivery_sweep_seconds,
            },
            "plan-digests": {
                "task": "newsroom.plan_digests",
                "schedule": settings.digest_sweep_seconds,
                "options": {"expires": settings.digest_sweep_seconds},
            },
            "send-digests": {
                "task": "newsroom.send_digests",
                "schedule": settings.delivery_sweep_seconds,
            },
            "send-notifications": {
                "task": "newsroom.send_notifications",
                "schedule": settings.notification_sweep_seconds,
            },
            "translation-deadlines": {
                "task": "newsroom.translation_deadlines",
                "schedule": settings.deadline_sweep_seconds,
            },
            "flush-view-counts": {
                "task": "newsroom.flush_view_counts",
                "schedule": settings.view_flush_seconds,
                "options": {"expires": settings.view_flush_seconds},
            },
            "machine-translation-retry": {
                "task": "newsroom.retry_machine_translations",
                "schedule": 60.0,
            },
            "renditions-sweep": {
                "task": "newsroom.sweep_renditions",
                "schedule": 30.0,
                "options": {"expires": 30.0},
            },
            "retention": {
                "task": "newsroom.retention",
                "schedule": settings.retention_sweep_seconds,
                "options": {"expires": settings.retention_sweep_seconds},
            },
        },
    }
    if settings.bounce_maildir is not None:
        config["beat_schedule"]["read-bounces"] = {
            "task": "newsroom.read_bounces",
            "schedule": settings.bounce_sweep_seconds,
        }
    if settings.broker_url:
        config["broker_url"] = settings.broker_url
        config["broker_transport_options"] = {
            # ETAs here are under a minute, far below Redis's redelivery timeout.
            "visibility_timeout": 3600,
            # A publisher that finds Redis down gives up at once instead of retrying for
            # six seconds: the after-commit hint runs in the web request, which would
            # wait that long with Redis down (the sweeps cover a lost hint).
            # Workers reconnect by their own loop (broker_connection_retry), not this one.
            "max_retries": 0,
        }
    else:
        folder = settings.var_dir / "broker"
        config["broker_url"] = "filesystem://"
        config["broker_transport"] = "tasks.embedded_broker:Transport"
        config["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.1,
        }
        config["beat_schedule_filename"] = str(settings.var_dir / "celerybeat-schedule")
    return config


def create_app(settings: Settings | None = None) -> Celery:
    app = Celery("newsroom", include=TASK_MODULES)
    app.conf.update(celery_config(settings or get_settings()))
    return app
