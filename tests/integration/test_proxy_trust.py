"""Whose address a request has: its connection's, unless the connection comes from a
proxy in ``NEWSROOM_TRUSTED_PROXIES``, whose ``X-Forwarded-For`` then names the client.
Seen through the login lockout per address, against ``newsroom web`` as production
starts it; distinct loopback addresses stand for distinct hosts."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port
from tests.processes import newsroom_web

LIMIT = 2  # failed logins from one address before its next attempt answers 429
PROXY = "127.0.0.4"
PROXY_NETWORK = "127.0.1.0/24"
ACCOUNTS = itertools.count()


def web(database_url: str, tmp_path: Path, trusted: list[str]) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "NEWSROOM_ENVIRONMENT": "test",
        "NEWSROOM_DATABASE_URL": database_url,
        "NEWSROOM_BROKER_URL": "",
        "NEWSROOM_VAR_DIR": str(tmp_path / "var"),
        "NEWSROOM_LOGIN_MAX_FAILURES_PER_ADDRESS": str(LIMIT),
        "NEWSROOM_TRUSTED_PROXIES": json.dumps(trusted),
    }
    env.pop("FORWARDED_ALLOW_IPS", None)
    with newsroom_web(env, port, tmp_path / "web.log", workers=2):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def behind_no_proxy(database_url: str, tmp_path: Path) -> Iterator[str]:
    yield from web(database_url, tmp_path, [])


@pytest.fixture
def behind_proxies(database_url: str, tmp_path: Path) -> Iterator[str]:
    yield from web(database_url, tmp_path, [PROXY, PROXY_NETWORK])


def login(base: str, source: str, forwarded_for: str | None = None) -> int:
    """A wrong password for an unknown account (each account is fresh, so that only
    the per-address count can refuse it), sent from ``source``."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        answer = client.post(
            f"{base}/api/v1/auth/login",
            json={"email": f"nobody{next(ACCOUNTS)}@newsroom.example", "password": "wrong"},
            headers=headers,
        )
    return answer.status_code


def exhaust(base: str, source: str, forwarded_for: str | None = None) -> None:
    for _ in range(LIMIT):
        assert login(base, source, forwarded_for) == 401


def test_clients_on_other_addresses_are_counted_apart(behind_no_proxy: str) -> None:
    exhaust(behind_no_proxy, "127.0.0.2")
    assert login(behind_no_proxy, "127.0.0.2") == 429
    assert login(behind_no_proxy, "127.0.0.3") == 401


def test_a_forged_header_from_loopback_is_ignored_when_no_proxy_is_trusted(
    behind_no_proxy: str,
) -> None:
    # uvicorn alone would believe 127.0.0.1: a client on the host could then pose as
    # a new address at every attempt and never meet the per-address limit.
    for attempt in range(LIMIT):
        assert login(behind_no_proxy, "127.0.0.1", f"198.51.100.{attempt}") == 401
    assert login(behind_no_proxy, "127.0.0.1", "198.51.100.99") == 429


def test_a_forged_header_from_an_untrusted_address_is_ignored(behind_proxies: str) -> None:
    for attempt in range(LIMIT):
        assert login(behind_proxies, "127.0.0.2", f"198.51.100.{attempt}") == 401
    assert login(behind_proxies, "127.0.0.2", "198.51.100.99") == 429
    # Nor was the named address charged with them.
    assert login(behind_proxies, PROXY, "198.51.100.0") == 401


def test_a_trusted_proxy_names_the_client(behind_proxies: str) -> None:
    exhaust(behind_proxies, PROXY, "198.51.100.7")
    assert login(behind_proxies, PROXY, "198.51.100.7") == 429
    # The proxy itself and its other clients are not held.
    assert login(behind_proxies, PROXY, "198.51.100.8") == 401
    assert login(behind_proxies, PROXY) == 401
    # A client that writes its own header before the proxy appends the real one is
    # known by the address the proxy saw.
    assert login(behind_proxies, PROXY, "203.0.113.1, 198.51.100.7") == 429


def test_a_proxy_in_a_trusted_network_is_believed_too(behind_proxies: str) -> None:
    exhaust(behind_proxies, "127.0.1.5", "198.51.100.20")
    # The same client through another proxy of the network, or the single one.
    assert login(behind_proxies, "127.0.1.6", "198.51.100.20") == 429
    assert login(behind_proxies, PROXY, "198.51.100.20") == 429
    assert login(behind_proxies, "127.0.1.6", "198.51.100.21") == 401
