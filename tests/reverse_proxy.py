"""The compose file's reverse proxy, run here: Debian's nginx with the project's own
configuration (``config/nginx``), rendered by its own ``render`` script for loopback
ports and this test's folders, in the foreground as a child process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.processes import ROOT, wait_for

TEMPLATES = ROOT / "config" / "nginx"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def available() -> bool:
    return Path(NGINX).is_file() and shutil.which("envsubst") is not None


@dataclass
class ReverseProxy:
    base: str
    conf: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def render(folder: Path, **values: str) -> Path:
    """The configuration as the container has it, under ``folder``: ``nginx.conf`` as
    shipped and the templates rendered with ``values`` (``NGINX_LISTEN`` and the like).
    Returns the main file."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(TEMPLATES / "nginx.conf", folder / "nginx.conf")
    shutil.copy("/etc/nginx/mime.types", folder / "mime.types")
    subprocess.run(  # noqa: S603  # the project's own script
        [str(TEMPLATES / "render"), str(folder / "newsroom")],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **values},
        check=True,
    )
    return folder / "nginx.conf"


def check(conf: Path, work: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on a rendered configuration."""
    return subprocess.run(  # noqa: S603  # Debian's nginx
        [NGINX, "-t", "-p", str(work), "-c", str(conf), "-g", _globals(work)],
        capture_output=True,
        text=True,
        check=False,
    )


@contextmanager
def reverse_proxy(work: Path, port: int, **values: str) -> Iterator[ReverseProxy]:
    """nginx on 127.0.0.1:``port`` with the project's configuration, until it answers;
    stopped on leaving, its output printed (pytest shows it for a failed test)."""
    conf = render(
        work / "conf", NGINX_LISTEN=str(port), NGINX_CACHE_DIR=str(work / "cache"), **values
    )
    log = work / "nginx.log"
    popen = subprocess.Popen(  # noqa: S603  # Debian's nginx with the project's configuration
        [NGINX, "-p", str(work), "-c", str(conf), "-g", f"daemon off; {_globals(work)}"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proxy = ReverseProxy(f"http://127.0.0.1:{port}", conf, log)
    try:
        wait_for(lambda: _answers(proxy.base) or popen.poll() is not None, 20, "nginx")
        assert popen.poll() is None, proxy.output()
        yield proxy
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGQUIT)  # nginx's graceful stop
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=10)
        print(proxy.output())


def _globals(work: Path) -> str:
    # Root's workers read this test's private folders; the container's run as nobody.
    return f"pid {work / 'nginx.pid'}; user root;"


def _answers(base: str) -> bool:
    try:
        httpx.get(f"{base}/static/newsroom.css", timeout=2)
    except httpx.TransportError:
        return False
    return True
