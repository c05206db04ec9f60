"""A worker's metrics (``workflow.metrics``): no tasks, only the hooks that set them up.

* When the worker starts, before its pool forks: its processes record into
  ``<metrics dir>/worker-<node name>``, emptied of a previous run's files. A web process
  on the same host adds them to its ``/metrics``.
* Once it is ready, with ``NEWSROOM_WORKER_METRICS_PORT`` set: it answers ``/metrics``
  itself (those files only), for a worker on a host or container with no web process.
* When a pool process ends: its live gauges stop counting.

Beat records nothing and has no folder.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from celery.signals import worker_init, worker_process_shutdown, worker_ready

from config.settings import get_settings
from workflow import metrics

log = logging.getLogger(__name__)


@worker_init.connect
def record_into_files(sender: Any, **_: Any) -> None:
    """This worker's processes record into a folder of its own (by node name, which
    Celery keeps unique on a host)."""
    node = re.sub(r"[^A-Za-z0-9@._-]", "_", str(sender.hostname))
    metrics.start_process_group(metrics.folder(get_settings()) / f"worker-{node}")


@worker_ready.connect
def serve_metrics(**_: Any) -> None:
    settings = get_settings()
    if not settings.worker_metrics_port:
        return
    try:
        metrics.serve_in_background(settings, [metrics.recorded(whole_host=False)])
    except OSError as error:  # the worker works without it
        log.error(
            "metrics not served on %s:%d: %s",
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            error,
        )


@worker_process_shutdown.connect
def pool_process_ended(pid: int, **_: Any) -> None:
    metrics.process_ended(pid)
