"""Six wrong passwords from one address do not keep the real user out: failures count
for an account from one address, and only a guesser spread over many addresses reaches
the account-wide limit. Distinct loopback addresses stand for distinct clients, against
a real HTTP server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from tests.conftest import Staff
from workflow.api import create_app
from workflow.services import accounts
from workflow.services.context import ServiceContext

PASSWORD = "correct horse battery staple"
EMAIL = "author@newsroom.example"


@pytest.fixture
def server(ctx: ServiceContext, staff: Staff, cheap_password_hashing: None) -> Iterator[str]:
    accounts.set_password(ctx, staff.author, staff.author, PASSWORD)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Bound to every loopback address, so that 127.0.0.2 and 127.0.0.3 reach it too;
    # without proxy headers the client address is the connection's.
    config = uvicorn.Config(
        create_app(ctx), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def login(base: str, source: str, password: str) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        answer = client.post(
            f"{base}/api/v1/auth/login", json={"email": EMAIL, "password": password}
        )
        return answer.status_code


def test_a_guesser_from_one_address_locks_out_only_themselves(
    server: str, ctx: ServiceContext
) -> None:
    limit = ctx.settings.login_max_failures_per_account
    for _ in range(limit + 1):
        login(server, "127.0.0.2", "a wrong password")
    assert login(server, "127.0.0.2", PASSWORD) == 429  # the guesser's address is held
    assert login(server, "127.0.0.3", PASSWORD) == 200  # the real user signs in elsewhere


def test_guessers_spread_over_addresses_meet_the_account_wide_limit(
    server: str, ctx: ServiceContext
) -> None:
    ctx.settings.login_max_failures_per_account_everywhere = 6
    for source in ("127.0.0.4", "127.0.0.5", "127.0.0.6"):
        for _ in range(2):
            assert login(server, source, "a wrong password") == 401
    assert login(server, "127.0.0.7", PASSWORD) == 429
