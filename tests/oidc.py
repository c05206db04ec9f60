"""A real OpenID provider on loopback for the single sign-on tests: panva's
oidc-provider (``tests/oidc_provider/``) on this machine's Node.js, one process per test
module. ``.ci/run`` installs its packages with ``npm ci``; without Node.js, or without
them, the tests that need it skip and say why."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

HERE = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "newsroom"
CLIENT_SECRET = "a-client-secret-for-the-tests"
REDIRECT_URI = "http://testserver/login/sso/callback"


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen[str]

    def next_sign_in(self, account: str, *, amr: list[str] | None = None, acr: str = "") -> None:
        """Who the next authorization signs in as, and how the provider says it checked."""
        body: dict[str, Any] = {"account": account, "amr": amr or ["pwd"]}
        if acr:
            body["acr"] = acr
        httpx.post(f"{self.issuer}/test/next", json=body, timeout=5).raise_for_status()

    def tamper(self, **change: Any) -> None:
        """Rewrite the next ID token: ``claims``, ``exp`` (seconds from now), ``foreign_key``."""
        httpx.post(f"{self.issuer}/test/tamper", json=change, timeout=5).raise_for_status()

    def authorize(self, url: str) -> str:
        """Follow the provider's pages from ``url`` as a browser would, until it sends
        the browser back to the client: that address (with ``code`` and ``state``)."""
        with httpx.Client(timeout=10) as browser:
            for _ in range(10):
                answer = browser.get(url)
                assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
                location = answer.headers["location"]
                if location.startswith(REDIRECT_URI):
                    return location
                url = urljoin(url, location)
        raise AssertionError("the provider never sent the browser back")


def start_provider(accounts: dict[str, dict[str, Any]]) -> Iterator[Provider]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the single sign-on tests need it for their provider")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        pytest.skip("the test provider's packages are missing: run `npm ci` in tests/oidc_provider")
    config = {
        "port": 0,
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [REDIRECT_URI],
            }
        ],
        "accounts": accounts,
    }
    process = subprocess.Popen(  # noqa: S603  # our own script
        [node, str(HERE / "provider.mjs"), json.dumps(config)],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("ready "):
            raise RuntimeError(f"the OpenID provider did not start: {line!r}")
        yield Provider(line.split()[1], process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
