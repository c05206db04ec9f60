"""The service's Prometheus metrics: every one defined here, once, with what records it.

Recorded as the work happens, in whichever process does it:

* ``newsroom_http_request_duration_seconds{method,route,status}``: each HTTP request,
  by its route's template (``/api/v1/releases/{release_id}``; ``unmatched`` for a path
  no route takes), so that the series stay few (``workflow.api.request_observer``);
* ``newsroom_events_committed_total{type}``: the domain events committed, one a
  transition or other change (``ReleaseSubmitted``, ``ReleasePublished``, …), counted
  once their transaction committed (``workflow.outbox``);
* ``newsroom_publication_lateness_seconds``: a scheduled release's publication time
  minus the time it was scheduled for;
* ``newsroom_outbox_relay_lag_seconds``: an event's commit to its handling by the
  consumer (``tasks.events``);
* ``newsroom_deliveries_total{state,reply_class}``: each delivery attempt's recorded
  result (``sent``, ``deferred`` for another try, ``failed``) and the class of the SMTP
  reply (``2xx``, ``4xx``, ``5xx``, or ``none`` when there was no reply: a dropped
  connection, a timeout). Messages sent per second is its ``rate()``.

Read when Prometheus asks (``workflow.backlog``): the outbox's backlog and its oldest
event's age, how overdue the delivery longest due is, and the Celery queues' lengths.

Processes. uvicorn's workers and Celery's pool children each record into files of
their own (prometheus-client's multiprocess mode) under one folder a group of processes
shares: ``<metrics dir>/web-<port>`` for ``newsroom web``, ``<metrics dir>/worker-<node>``
for a worker. ``/metrics`` adds up every file under the metrics dir, so a host's web
answers for its workers too; a worker on a host of its own answers on a port of its own
(``NEWSROOM_WORKER_METRICS_PORT``). A process that has no folder (the CLI, the tests)
keeps its metrics in its memory.
"""

from __future__ import annotations

import functools
import hmac
import logging
import math
import os
import sys
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, Final, ParamSpec
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from config.settings import Settings
from workflow.domain import events as ev

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from prometheus_client import Counter, Histogram
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
P = ParamSpec("P")

MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED: Final = "unmatched"
# Methods named as they are; any other is "other", so that a client cannot add series.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENESS_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
LAG_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """The metrics this process records, made on first use (``metrics()``)."""

    def __init__(self) -> None:
        # Imported here rather than with the module: prometheus-client chooses between
        # values in memory and multiprocess files when it is first imported, from
        # PROMETHEUS_MULTIPROC_DIR, which a process sets once it knows what it is
        # (``start_process_group``), after importing the code that records.
        from prometheus_client import Counter, Histogram

        self.http_request_duration: Histogram = Histogram(
            "newsroom_http_request_duration_seconds",
            "HTTP requests by route template, method and status, and how long they took.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
        )
        self.events_committed: Counter = Counter(
            "newsroom_events_committed",
            "Domain events committed (each transition's, and other changes'), by type.",
            ["type"],
        )
        self.publication_lateness: Histogram = Histogram(
            "newsroom_publication_lateness_seconds",
            "A scheduled release's publication time minus its scheduled time.",
            buckets=LATENESS_BUCKETS,
        )
        self.relay_lag: Histogram = Histogram(
            "newsroom_outbox_relay_lag_seconds",
            "From an event's commit to its handling by the consumer.",
            buckets=LAG_BUCKETS,
        )
        self.deliveries: Counter = Counter(
            "newsroom_deliveries",
            "Delivery attempts' recorded results (sent, deferred, failed), by SMTP reply class.",
            ["state", "reply_class"],
        )


_made: list[Metrics] = []
_making = threading.Lock()


def metrics() -> Metrics:
    """This process's metrics, made once: by the first of the threads that ask (a
    second set would be refused by prometheus-client's registry)."""
    if not _made:
        with _making:
            if not _made:
                _made.append(Metrics())
    return _made[0]


def _never_raises(record: Callable[P, None]) -> Callable[P, None]:
    """A metric is worth less than the work it counts: a failure to record one (a full
    disk under the metrics folder, say) is logged, at most once a minute, and never
    raised into the request, the commit or the task that recorded it."""
    last_logged = [-math.inf]

    @functools.wraps(record)
    def recording(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            record(*args, **kwargs)
        except Exception:
            now = time.monotonic()
            if now - last_logged[0] >= 60:
                last_logged[0] = now
                log.exception("metric not recorded by %s", record.__name__)

    return recording


# --- recording -----------------------------------------------------------------------------

# The request series seen so far, by (method, route, status): a dict lookup instead of
# prometheus-client's labels() under its lock on every request.
_REQUEST_SERIES: dict[tuple[str, str, int], Any] = {}


@_never_raises
def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """An HTTP request answered ``status`` after ``seconds``."""
    key = (method, route, status)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        label = method if method in METHODS else "other"
        series = metrics().http_request_duration.labels(label, route, str(status))
        _REQUEST_SERIES[key] = series
    series.observe(seconds)


@_never_raises
def events_committed(events: Iterable[ev.Event]) -> None:
    """These events' transaction committed: count them, and a scheduled publication's
    lateness."""
    recorded = metrics()
    for event in events:
        recorded.events_committed.labels(event.type_name).inc()
        if isinstance(event, ev.ReleasePublished) and event.scheduled_for is not None:
            late = datetime.fromisoformat(event.occurred_at) - datetime.fromisoformat(
                event.scheduled_for
            )
            recorded.publication_lateness.observe(max(0.0, late.total_seconds()))


@_never_raises
def relay_lag(seconds: float) -> None:
    """An event reached its consumer ``seconds`` after it was committed."""
    metrics().relay_lag.observe(max(0.0, seconds))


@_never_raises
def deliveries_recorded(results: Iterable[tuple[str, str]]) -> None:
    """Delivery results as recorded: each its state and the SMTP reply it had."""
    tally = Tally((state, reply_class(reply)) for state, reply in results)
    counter = metrics().deliveries
    for (state, reply), count in tally.items():
        counter.labels(state, reply).inc(count)


def reply_class(reply: str) -> str:
    """``2xx``, ``4xx`` or ``5xx`` for an SMTP reply (``250 2.0.0 OK``); ``none`` for what
    is not one (a dropped connection, a timeout, a message never sent)."""
    code = reply[:3]
    if len(code) == 3 and code.isdigit() and reply[3:4] in {"", " ", "-"}:
        return f"{code[0]}xx"
    return "none"


# --- processes and their files --------------------------------------------------------------


def folder(settings: Settings) -> Path:
    """Where this host's processes keep their metrics files."""
    return settings.metrics_dir or settings.var_dir / "metrics"


def start_process_group(path: Path) -> None:
    """This process, and those it starts from now on, record into files under ``path``,
    emptied first of a previous run's (as prometheus-client asks: values left by a
    process that no longer runs would be added to the new ones). Call before anything
    records, and only where no other running process uses ``path``."""
    values = sys.modules.get("prometheus_client.values")
    if values is not None and not _multiprocess(values):
        raise RuntimeError(
            "prometheus_client was imported before its multiprocess folder was set: "
            "this process's metrics would not be shared"
        )
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROCESS_ENV] = str(path)


def _multiprocess(values: Any) -> bool:
    return values.ValueClass is not values.MutexValue


def process_ended(pid: int) -> None:
    """Process ``pid`` of this group ended: its live gauges no longer count."""
    path = os.environ.get(MULTIPROCESS_ENV)
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


class Files:
    """A collector of the multiprocess files matching ``pattern`` under ``path``, added
    up (``MultiProcessCollector`` reads one folder; a host's web reads several)."""

    def __init__(self, path: Path, pattern: str = "*.db") -> None:
        self.path = path
        self.pattern = pattern

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.multiprocess import MultiProcessCollector

        files = [str(f) for f in sorted(self.path.glob(self.pattern))]
        merged: Iterable[Metric] = MultiProcessCollector.merge(  # type: ignore[no-untyped-call]
            files, accumulate=True
        )
        return merged


class _InMemory:
    """This process's own metrics, for a process with no metrics folder."""

    def collect(self) -> Iterator[Metric]:
        from prometheus_client import REGISTRY

        yield from REGISTRY.collect()


def recorded(*, whole_host: bool) -> Collector:
    """What this process's group recorded, or with ``whole_host`` every group under the
    metrics dir (the web's folder is ``<metrics dir>/web-<port>``, a worker's
    ``<metrics dir>/worker-<node>``); a process without a folder, what it recorded."""
    path = os.environ.get(MULTIPROCESS_ENV)
    if not path:
        return _InMemory()
    return Files(Path(path).parent, "*/*.db") if whole_host else Files(Path(path))


def exposition(collectors: Iterable[Collector]) -> tuple[bytes, str]:
    """The text Prometheus scrapes of ``collectors``' metrics, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


# --- who may read them ----------------------------------------------------------------------


def allowed(settings: Settings, client: str | None, authorization: str | None) -> bool:
    """Whether a request from ``client`` (its address as the server sees it) with this
    ``Authorization`` header may read the metrics: the settings' token, or an address in
    ``NEWSROOM_METRICS_ALLOW``."""
    token = settings.metrics_token
    if token and authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return True
    address = _address(client)
    if address is None:
        return False
    return any(address in ip_network(entry, strict=False) for entry in settings.metrics_allow)


def _address(client: str | None) -> IPv4Address | IPv6Address | None:
    if not client:
        return None
    try:
        address = ip_address(client)
    except ValueError:  # a Unix socket's path, or a test client's name
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# --- a worker's own endpoint ----------------------------------------------------------------


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a line each."""


def serve_in_background(settings: Settings, collectors: Sequence[Collector]) -> threading.Thread:
    """Answer ``GET /metrics`` with ``collectors``' metrics on ``worker_metrics_host``:
    ``worker_metrics_port``, from a thread of this process, to the clients the web's
    ``/metrics`` answers."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        client = environ.get("REMOTE_ADDR")
        if environ.get("PATH_INFO") != "/metrics" or not allowed(
            settings, client, environ.get("HTTP_AUTHORIZATION")
        ):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found"]
        body, content_type = exposition(collectors)
        start_response("200 OK", [("Content-Type", content_type)])
        return [body]

    server = make_server(
        settings.worker_metrics_host,
        settings.worker_metrics_port,
        app,
        server_class=_Server,
        handler_class=_Quiet,
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return thread
