"""Serving the app with uvicorn, one listening socket per worker process.

uvicorn's own ``--workers`` binds one socket in its supervisor and shares it with every
worker; whichever worker is awake when clients connect accepts them, and keep-alive
clients stay where they landed, so one worker may hold most of the connections. A
Python process works on one core at a time, so on a machine with a core for each worker,
that one sets the pace while the others idle. Here every worker binds its own socket
to the same address with ``SO_REUSEPORT``, and the kernel spreads new connections
evenly over them by address hash (as nginx's ``reuse_port`` does).
uvicorn's supervisor still starts, watches and restarts the workers; only the socket it
hands each one differs.

One cost, the same as nginx's: a connection that the kernel has queued on a worker's
socket but that the worker has not yet accepted is reset if that worker stops (a crash,
a restart). Accepting is immediate while a worker runs, so the queue is empty but for
an instant.

Before any worker starts, ``serve`` empties the folder the workers' metrics files go to
(``workflow.metrics``: one a port, under the metrics dir) and sets uvicorn's logging to the
format the settings ask for (``workflow.logs``).

A client's address (for the login lockout, ``/metrics`` and the view counts) is its
connection's, unless the connection comes from one of ``NEWSROOM_TRUSTED_PROXIES``: only
then do ``X-Forwarded-For`` and ``X-Forwarded-Proto`` count (uvicorn's proxy headers,
which would otherwise trust anything from 127.0.0.1, or ``FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from config.settings import Settings, get_settings
from workflow import logs, metrics

APP = "workflow.api.app:production_app"


def serve(host: str, port: int, workers: int, log_config: dict[str, Any]) -> None:
    """Serve the production app on ``host``:``port`` with ``workers`` processes."""
    settings = get_settings()
    # Inherited by the workers uvicorn starts (each a new interpreter).
    metrics.start_process_group(metrics.folder(settings) / f"web-{port}")
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_config": logs.uvicorn_log_config(log_config, settings.log_format),
        **proxy_options(settings),
    }
    if workers == 1 or not sys.platform.startswith("linux"):
        # Elsewhere SO_REUSEPORT does not balance (BSD and macOS hand every connection
        # to one socket): uvicorn's shared socket is the better of the two.
        uvicorn.run(APP, **options)
        return
    config = uvicorn.Config(APP, **options)
    # Fails, as uvicorn's own bind would, if anything (another server, or a newsroom web
    # already running) holds the address: the workers' SO_REUSEPORT must not let them
    # quietly share it with a stranger.
    _address_is_free(host, port)
    Multiprocess(config, sockets=[ListenerPerWorker(host, port)]).run()


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options that believe forwarded headers from the trusted proxies alone."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}


class ListenerPerWorker(socket.socket):
    """Stands for the listening socket in uvicorn's supervisor, which hands it to each
    worker process it starts by pickling. Unpickled in a worker, it becomes that worker's
    own socket listening on the address with ``SO_REUSEPORT`` (``listen_reusing_port``).
    In the supervisor it is never bound, so no connection can wait on it for a worker
    that has died."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(_family(host, port), socket.SOCK_STREAM)
        self.address = (host, port)

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return (listen_reusing_port, self.address)


def listen_reusing_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` beside the other workers' (uvicorn's
    server calls ``listen`` on it)."""
    sock = socket.socket(_family(host, port), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _address_is_free(host: str, port: int) -> None:
    with socket.socket(_family(host, port), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _family(host: str, port: int) -> socket.AddressFamily:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
